"""One pipeline serves every Twilio webhook (ivr/web/pipeline.py): each is listed in the app's
URL map, and each gives one and the same answer to the same odd request."""

from __future__ import annotations

import re
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import BASE, SHIPPED_CONFIG, TOKEN, internal_errors, sign, twilio_sid
from tests.servers import gunicorn, served_env

WEBHOOKS = ("/voice", "/voice/menu/main", "/voice/step/main", "/voice/status", "/voice/fallback")
FORM = {"CallSid": twilio_sid("pipeline"), "From": "+85261234567", "To": "+85230011234"}


def test_every_webhook_is_listed_in_the_url_map(app: Flask) -> None:
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}
    for path in ("/voice", "/voice/menu/<name>", "/voice/step/<name>", "/voice/status", "/voice/fallback"):
        assert rules[path].methods == {"POST"}, path


@pytest.mark.parametrize("path", WEBHOOKS)
def test_options_and_get_get_the_same_405_on_every_webhook(client: FlaskClient, path: str) -> None:
    for method in ("OPTIONS", "GET"):
        answer = client.open(path, method=method, base_url=BASE)
        assert (answer.status_code, answer.headers.get("Allow")) == (405, "POST"), (method, path)


@pytest.mark.parametrize("path", WEBHOOKS)
def test_a_signed_multipart_body_gets_the_same_403_on_every_webhook(
    app: Flask, client: FlaskClient, path: str
) -> None:
    answer = client.post(
        path,
        data=FORM,
        content_type="multipart/form-data",
        headers={"X-Twilio-Signature": sign(BASE + path, FORM)},
        base_url=BASE,
    )
    assert answer.status_code == 403  # Twilio posts url-encoded forms only
    assert internal_errors(app) == 0


def test_flask_dispatching_a_webhook_itself_runs_the_same_pipeline(app: Flask) -> None:
    headers = {"X-Twilio-Signature": sign(BASE + "/voice/fallback", FORM)}
    with app.test_request_context(
        "/voice/fallback", method="POST", data=FORM, headers=headers, base_url=BASE
    ):
        answer = app.full_dispatch_request()
    assert answer.status_code == 200 and answer.mimetype == "text/xml"
    assert '<Dial callerId="+85230011234">+442079460001</Dial>' in answer.get_data(as_text=True)
    with app.test_request_context("/voice/fallback", method="POST", data=FORM, base_url=BASE):
        assert app.full_dispatch_request().status_code == 403


def _malformed_chunk(base: str, path: str, signature: str | None) -> tuple[int, bytes]:
    """A POST whose chunked body has the chunk size `zz`: the status line and the body."""
    parts = urlsplit(base)
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/x-www-form-urlencoded",
        "Transfer-Encoding: chunked",
        *([f"X-Twilio-Signature: {signature}"] if signature else []),
    ]
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + b"zz\r\nCallSid=CA1\r\n0\r\n\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply:
            data = sock.recv(4096)
            if not data:
                break
            reply += data
    status = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    assert status, reply
    return int(status.group(1)), reply


def test_a_malformed_chunked_body_is_refused_first_and_quietly_under_gunicorn(tmp_path: Any) -> None:
    env = served_env(tmp_path, TOKEN, SHIPPED_CONFIG)
    logs: list[str] = []
    with gunicorn(env, logs=logs) as base:
        for path in ("/voice", "/voice/menu/main", "/voice/status", "/voice/fallback"):
            assert _malformed_chunk(base, path, None)[0] == 403, path  # unsigned: refused unread
            signature = sign(f"https://ivr.example.com{path}", {"CallSid": "CA1"})
            assert _malformed_chunk(base, path, signature)[0] == 400, path  # signed, unreadable
        import urllib.request

        with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
            metrics = response.read().decode()
    assert 'ivr_errors_total{kind="webhook"}' not in metrics or re.search(
        r'ivr_errors_total\{kind="webhook"\} 0\.0', metrics
    )
    assert not [line for line in logs if "ERROR" in line or "Traceback" in line], logs[-20:]
    assert sum("refused unreadable webhook body" in line for line in logs) == 4
