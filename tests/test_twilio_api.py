"""No webhook waits on Twilio's REST API (issue 25, item 7), against a local fake Twilio API
at TWILIO_API_URL that answers normally, fails, hangs, drips bytes or returns HTML."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from flask import Flask

from tests.conftest import Clock, Phone, stored_cases
from tests.servers import free_port

ACCOUNT = "AC" + "3" * 32
LONDON_NOON = "2026-11-23T12:00:00+00:00"
UK, UK_LINE, UK_HOTLINE = "+447400123456", "+442038089999", "+442079460000"


class FakeTwilio:
    """Twilio's Calls and Messages APIs on 127.0.0.1, misbehaving as `mode` says."""

    def __init__(self) -> None:
        self.mode = "normal"  # normal | fail | html | html-502 | hang | drip
        self.drip_seconds = 0.2  # between bytes, when dripping
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()  # ends every hang
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                fake.requests.append((self.path, form))
                fake.answer(self, form)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, handler: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        path = handler.path
        sid = ("CA" if "/Calls" in path else "SM") + "4" * 32
        status, kind, body = 201, "application/json", json.dumps({"sid": sid, "status": "queued"}).encode()
        if self.mode == "fail":
            status, body = (
                500,
                json.dumps({"code": 20500, "message": "Internal error", "status": 500}).encode(),
            )
        elif self.mode in ("html", "html-502"):
            status, kind = (200 if self.mode == "html" else 502), "text/html"
            body = b"<html><body><h1>Bad gateway</h1></body></html>"
        elif self.mode == "hang":
            self.release.wait(30)
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if self.mode == "drip":
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(self.drip_seconds)
        else:
            handler.wfile.write(body)

    def paths(self, ending: str) -> list[str]:
        return [path for path, _ in self.requests if path.endswith(ending)]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    yield fake
    fake.close()


@pytest.fixture
def rest_app(app_factory: Callable[..., Flask], twilio: FakeTwilio, clock: Clock) -> Iterator[Flask]:
    clock.set(LONDON_NOON)
    app = app_factory(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_API_URL=twilio.url, SMS_FROM="OKWallet")
    yield app
    app.extensions["ivr"].store.dispose()


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def test_twilio_api_url_is_where_calls_and_texts_go(rest_app: Flask, twilio: FakeTwilio) -> None:
    hotline = rest_app.extensions["ivr"]
    caller = Phone(rest_app.test_client(), caller=UK, dialed=UK_LINE)
    enqueue = caller.keys("0").first("Enqueue")  # on hold: the IVR rang the agents itself
    assert enqueue.text and enqueue.text.startswith("hold-")
    [(path, leg)] = twilio.requests
    assert path == f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert (leg["To"], leg["From"]) == (UK_HOTLINE, UK_LINE) and leg["FallbackUrl"].startswith(
        "http://localhost/voice/step/hold-fallback?"
    )
    Phone(rest_app.test_client(), caller=UK, dialed=UK_LINE, sid="CA2").keys("3", "1")
    assert twilio.paths("/Messages.json") == []  # the lockdown webhook only queued its text
    assert hotline.sms.drain(hotline.now())["sent"] == 1
    [(_, text)] = [r for r in twilio.requests if r[0].endswith("/Messages.json")]
    assert (text["To"], text["From"]) == (UK, "OKWallet") and "reference" in text["Body"]
    assert [t["status"] for t in hotline.sms.outbox()] == ["sent"]


@pytest.mark.parametrize("mode", ["hang", "drip"])
def test_a_stalled_calls_api_holds_the_0_key_no_longer_than_the_deadline(
    rest_app: Flask, twilio: FakeTwilio, mode: str
) -> None:
    twilio.mode, twilio.drip_seconds = mode, 0.1  # a 60-byte reply over 6 s
    caller = Phone(rest_app.test_client(), caller=UK, dialed=UK_LINE)
    caller.call()
    answer, seconds = timed(lambda: caller.press("0"))
    assert seconds < 2.5  # the deadline is 1.5 s; the drip lasts 6 s, the hang 30
    assert answer.dialed == [UK_HOTLINE] and answer.first("Dial").get("callerId") == UK  # put through
    again, seconds = timed(caller.retry)  # Twilio retries the webhook: no second leg
    assert again.raw == answer.raw and seconds < 0.5 and len(twilio.paths("/Calls.json")) == 1
    if mode == "drip":  # the leg placed late is hung up: the agents are not rung twice
        deadline = time.monotonic() + 10
        while not twilio.paths(f"/Calls/CA{'4' * 32}.json") and time.monotonic() < deadline:
            time.sleep(0.1)
        [(_, update)] = [r for r in twilio.requests if "/Calls/CA" in r[0]]
        assert update == {"Status": "completed"}


def test_eight_callers_pressing_0_while_the_api_hangs_do_not_stall_new_calls(
    rest_app: Flask, twilio: FakeTwilio
) -> None:
    twilio.mode = "hang"
    callers = [
        Phone(rest_app.test_client(), caller=f"+4474001234{n:02d}", dialed=UK_LINE, sid=f"CA8{n}")
        for n in range(8)
    ]
    for caller in callers:
        caller.call()
    seconds: list[float] = []
    answers: list[Any] = []

    def press(caller: Phone) -> None:
        answer, took = timed(lambda: caller.press("0"))
        seconds.append(took)
        answers.append(answer)

    threads = [threading.Thread(target=press, args=(caller,)) for caller in callers]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # while they wait on the API, a new call comes in
    _, new_call = timed(Phone(rest_app.test_client(), caller=UK, dialed=UK_LINE, sid="CA9").call)
    for thread in threads:
        thread.join(10)
    assert new_call < 0.5, new_call
    assert len(seconds) == 8 and max(seconds) < 2.5, seconds
    assert all(a.dialed == [UK_HOTLINE] for a in answers)  # each put through by <Dial>
    # The API counts as down now: the next caller is put through at once, without asking it.
    asked = len(twilio.requests)
    later = Phone(rest_app.test_client(), caller=UK, dialed=UK_LINE, sid="CA10")
    later.call()
    answer, took = timed(lambda: later.press("0"))
    assert took < 0.5 and answer.dialed == [UK_HOTLINE] and len(twilio.requests) == asked


def test_a_dripping_messages_api_never_holds_the_lockdown(rest_app: Flask, twilio: FakeTwilio) -> None:
    twilio.mode, twilio.drip_seconds = "drip", 0.05  # a 60-byte reply over 3 s
    hotline = rest_app.extensions["ivr"]
    caller = Phone(rest_app.test_client(), caller=UK, dialed=UK_LINE)
    caller.keys("3")
    locked, seconds = timed(lambda: caller.press("1"))
    assert seconds < 0.5 and "reference" in locked.text  # the texts wait in the outbox
    assert hotline.wallet.get_account("A-1002").locked is True
    assert hotline.sms.drain(hotline.now())["sent"] == 1  # the sender waits for the drip instead


@pytest.mark.parametrize(
    ("mode", "status"), [("fail", "failed"), ("html-502", "failed"), ("html", "unconfirmed")]
)
def test_an_odd_reply_keeps_the_lockdown_and_its_text(
    rest_app: Flask, twilio: FakeTwilio, clock: Clock, mode: str, status: str
) -> None:
    twilio.mode = mode
    hotline = rest_app.extensions["ivr"]
    caller = Phone(rest_app.test_client(), caller=UK, dialed=UK_LINE)
    caller.keys("3")
    locked = caller.press("1")
    [case] = stored_cases(hotline, "lockdown")
    assert case["reference"] in locked.text.replace(" ", "").replace(",", "")  # the confirmation
    assert hotline.sms.drain(clock())[status] == 1
    [text] = hotline.sms.outbox()
    assert text["status"] == status
    twilio.mode = "normal"
    clock.set("2026-11-23T12:01:00+00:00")
    sent = hotline.sms.retry_due(clock())["sent"]
    # A failure is retried; an HTML 200 may have been taken, so it is never sent a second time.
    assert (sent, len(twilio.paths("/Messages.json"))) == ((1, 2) if status == "failed" else (0, 1))
