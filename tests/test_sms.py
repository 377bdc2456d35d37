"""SMS through Twilio's Messages API (a fake HTTP client, never the network), and the outbox."""

from __future__ import annotations

import json
import logging
from typing import Any

from twilio.http import HttpClient
from twilio.http.response import Response

from tests.conftest import Phone

ACCOUNT_SID = "AC" + "1" * 32


class FakeTwilioHttp(HttpClient):  # type: ignore[misc]
    """Records requests and answers like the Messages API (or fails with `status`)."""

    def __init__(self, status: int = 201) -> None:
        super().__init__(logging.getLogger("fake-twilio"), False)
        self.status = status
        self.requests: list[dict[str, Any]] = []

    def request(
        self,
        method: str,
        uri: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.requests.append({"method": method, "uri": uri, "data": dict(data or {})})
        if self.status >= 400:
            return Response(
                self.status, json.dumps({"code": 21610, "message": "blocked", "status": self.status})
            )
        body = {"sid": "SM" + "2" * 32, "status": "queued", "to": data["To"], "body": data["Body"]}
        return Response(self.status, json.dumps(body))


def test_texts_go_through_twilio_and_the_stored_copy_is_redacted(app_factory: Any) -> None:
    http = FakeTwilioHttp()
    app = app_factory(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=http, SMS_FROM="+15005550006")
    phone = Phone(app.test_client())
    phone.keys("2")
    assert http.requests == []  # the webhook only queued it
    hotline = app.extensions["ivr"]
    assert hotline.sms.drain(hotline.now())["sent"] == 1
    [sent] = http.requests
    assert sent["method"] == "POST"
    assert sent["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert (sent["data"]["To"], sent["data"]["From"]) == ("+8613800138000", "+15005550006")
    code = sent["data"]["Body"].split("验证码是")[1][:6]
    assert code.isdigit()
    [stored] = app.extensions["ivr"].sms.outbox()
    assert stored["status"] == "sent" and code not in stored["body"] and "[redacted]" in stored["body"]
    assert "请输入交易编号" in phone.press(code).text  # the real code still works


def test_reset_links_are_redacted_too(app_factory: Any) -> None:
    http = FakeTwilioHttp()
    app = app_factory(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=http, SMS_FROM="OKWallet")
    Phone(app.test_client(), caller="+447400123456", dialed="+442038089999").keys("1", "2")
    app.extensions["ivr"].sms.drain(app.extensions["ivr"].now())
    assert "https://wallet.okwallet.example/reset?token=" in http.requests[0]["data"]["Body"]
    assert http.requests[0]["data"]["From"] == "OKWallet"  # IVR_SMS_FROM: gb sets no sms_from
    [stored] = app.extensions["ivr"].sms.outbox()
    assert "token=" not in stored["body"] and "[redacted]" in stored["body"]


def test_a_provider_error_keeps_the_message_as_failed_and_the_call_goes_on(app_factory: Any) -> None:
    app = app_factory(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=FakeTwilioHttp(status=400), SMS_FROM="OKWallet"
    )
    answer = Phone(app.test_client()).keys("3", "1")
    assert answer.dialed == ["+442079460001"]
    app.extensions["ivr"].sms.drain(app.extensions["ivr"].now())
    [stored] = app.extensions["ivr"].sms.outbox()
    assert stored["status"] == "failed" and stored["to"] == "+8613800138000"
