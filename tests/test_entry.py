"""Every Twilio webhook is answered in front of Flask by one pipeline (ivr/web/pipeline.py):
each answers every request exactly as the others do, for Twilio and for everyone else."""

from __future__ import annotations

import http.client
import logging
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from tests.conftest import BASE, SHIPPED_CONFIG, TOKEN, Phone, Twiml, internal_errors, sign, twilio_sid
from tests.servers import gunicorn, served_env

FORM = {"CallSid": twilio_sid("entry"), "From": "+85261234567", "To": "+85230001234"}


def test_every_refusal_is_the_one_the_other_webhooks_give(client: FlaskClient) -> None:
    for path in ("/voice", "/voice/menu/main"):
        unsigned = client.post(path, data=FORM)
        assert unsigned.status_code == 403
        oversized = client.post(
            path,
            data=b"Digits=" + b"1" * (65 * 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert oversized.status_code == 413
        wrong = client.get(path)
        assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert client.post("/voice", data=FORM).data == client.post("/voice/menu/main", data=FORM).data


def test_a_body_that_is_not_utf8_or_not_a_form_is_refused_not_a_crash(
    app: Flask, client: FlaskClient
) -> None:
    mangled = client.post(
        "/voice",
        data=b"CallSid=CA\xff\xfe&From=%2B85261234567",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(BASE + "/voice", FORM),
        },
    )
    assert mangled.status_code == 403
    multipart = client.post(
        "/voice",
        data=FORM,
        content_type="multipart/form-data",
        headers={"X-Twilio-Signature": sign(BASE + "/voice", FORM)},
    )
    assert multipart.status_code == 403  # Twilio posts url-encoded forms only
    assert internal_errors(app) == 0


def test_the_greeting_has_the_headers_of_every_other_webhooks_twiml(phone: Phone) -> None:
    greeting = phone.post("/voice")
    menu = phone.post("/voice/menu/main", Digits="*")
    assert greeting.status_code == menu.status_code == 200
    assert greeting.headers["Content-Type"] == menu.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert int(greeting.headers["Content-Length"]) == len(greeting.data)
    assert "您好，这里是OK钱包。" in greeting.get_data(as_text=True)


def test_a_malformed_callsid_is_refused_even_when_signed(client: FlaskClient) -> None:
    form = {**FORM, "CallSid": "CA' OR 1=1"}
    response = client.post("/voice", data=form, headers={"X-Twilio-Signature": sign(BASE + "/voice", form)})
    assert response.status_code == 403


def test_a_field_posted_twice_is_signed_with_every_value(client: FlaskClient) -> None:
    """Twilio's algorithm signs each value of a repeated field: a form that repeats one is
    accepted with the true signature and refused with one over its first value alone."""
    from twilio.request_validator import RequestValidator

    pairs = MultiDict([*FORM.items(), ("StirVerstat", "TN-Validation-Passed-A"), ("StirVerstat", "B")])
    signature = RequestValidator(TOKEN).compute_signature(BASE + "/voice", pairs)
    answer = client.post("/voice", data=pairs, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200
    greeting = Twiml(ET.fromstring(answer.data), answer.get_data(as_text=True))
    assert greeting.languages[0] == "yue-CN"  # the first value of From decides, as everywhere
    first_only = sign(BASE + "/voice", {**FORM, "StirVerstat": "TN-Validation-Passed-A"})
    assert client.post("/voice", data=pairs, headers={"X-Twilio-Signature": first_only}).status_code == 403


def test_the_language_flag_on_the_entry_url_is_honoured_and_signed(client: FlaskClient) -> None:
    path = "/voice?lang=en-US"
    answer = client.post(path, data=FORM, headers={"X-Twilio-Signature": sign(BASE + path, FORM)})
    assert answer.status_code == 200 and b'language="en-US"' in answer.data
    assert b"lang=en-US" in answer.data  # every next step keeps it
    forged = client.post(
        "/voice?lang=en-US", data=FORM, headers={"X-Twilio-Signature": sign(BASE + "/voice", FORM)}
    )
    assert forged.status_code == 403


@pytest.mark.faults
def test_a_failure_while_greeting_apologises_in_the_callers_language_and_dials_their_hotline(
    app: Flask, phone: Phone, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from ivr.web import webhooks

    def broken(*_: object) -> None:
        raise RuntimeError("greeting exploded")

    monkeypatch.setattr(webhooks, "greet", broken)
    phone.faults = True
    phone.caller, phone.dialed = "+447400123456", "+442038089999"
    answer = phone.call()
    assert answer.dialed == ["+442079460000"]
    assert answer.languages == ["en-GB"] and "something went wrong" in answer.text
    assert internal_errors(app) == 1
    assert "+447400123456" not in caplog.text and "+44******3456" in caplog.text
    assert "RuntimeError" in caplog.text


@pytest.mark.faults
def test_a_failure_after_the_answer_still_gives_the_fixed_apology_not_a_500(
    app: Flask, phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivr.web import pipeline, webhooks

    def broken(*_: object) -> None:
        raise OSError("metrics folder gone")

    monkeypatch.setattr(pipeline, "observe_webhook", broken)
    phone.faults = True
    answer = phone.call()
    assert answer.dialed == [webhooks.FALLBACK_HOTLINE]
    assert answer.languages == ["en-US", "cmn-CN"]


def test_the_entry_webhook_logs_one_line_and_one_histogram_sample(
    app: Flask, client: FlaskClient, phone: Phone, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr")
    phone.call()
    assert client.post("/voice", data=FORM).status_code == 403
    lines = [r for r in caplog.records if r.getMessage() == "webhook"]
    assert [(r.step, r.status, r.region) for r in lines] == [("/voice", 200, "cn"), ("/voice", 403, None)]  # type: ignore[attr-defined]
    assert lines[0].caller == "+86*******8000" and lines[0].call_sid == phone.sid  # type: ignore[attr-defined]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'ivr_webhook_seconds_count{endpoint="/voice"} 2.0' in metrics


def test_every_other_request_goes_on_to_flask(client: FlaskClient, phone: Phone) -> None:
    assert client.get("/healthz").data == b"ok\n"
    assert client.post("/voicemail").status_code == 404
    assert phone.keys("3").gather_action.startswith("/voice/menu/lockdown")


def _chunked_post(base: str, path: str, body: bytes, signature: str) -> int:
    """POST `body` with Transfer-Encoding: chunked (no Content-Length), as a client may."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("X-Twilio-Signature", signature)
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for start in range(0, len(body), 8192):
            chunk = body[start : start + 8192]
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
        return connection.getresponse().status
    except (ConnectionResetError, BrokenPipeError):
        return 0  # the server closed before the rest was sent
    finally:
        connection.close()


def test_a_chunked_body_is_cut_off_at_64_kib_by_every_webhook_under_gunicorn(tmp_path: Any) -> None:
    env = served_env(tmp_path, TOKEN, SHIPPED_CONFIG)
    with gunicorn(env) as base:
        signature = sign("https://ivr.example.com/voice", FORM)
        assert _chunked_post(base, "/voice", urlencode(FORM).encode(), signature) == 200
        oversized = urlencode({**FORM, "Padding": "x" * (70 * 1024)}).encode()
        for path in ("/voice", "/voice/menu/main"):
            # Cut off at 64 KiB (werkzeug's limit on a stream): what is left cannot match the
            # signature. Nothing past the limit is read, by either path.
            assert _chunked_post(base, path, oversized, signature) == 403
        assert _chunked_post(base, "/voice", urlencode(FORM).encode(), signature) == 200
