"""Working cases on the ops page: open cases by kind, a voicemail played through the app with
the account's credentials, and closing with a note (a POST with a CSRF token), over HTTP and
in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.browser import CHROMIUM, Browser
from tests.conftest import Clock, Phone, stored_cases
from tests.fake_twilio import ACCOUNT, AUDIO, AUTH_TOKEN, FakeTwilio, fake_twilio
from tests.wallet_server import serving

LOGIN = ("ops", "s3cret-pw")
RECORDING = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{'c' * 32}"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        yield fake


@pytest.fixture
def ops_app(app_factory: Any, twilio: FakeTwilio) -> Iterator[Flask]:
    app = app_factory(
        OPS_USER=LOGIN[0],
        OPS_PASSWORD=LOGIN[1],
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_API_URL=twilio.url,
    )
    yield app
    app.extensions["ivr"].store.dispose()


def leave_voicemail(app: Flask, clock: Clock) -> str:
    clock.set("2026-11-22T23:10:00+00:00")  # Sunday night in London
    phone = Phone(
        app.test_client(), caller="+447400123456", dialed="+442038089999", sid="vm", token=AUTH_TOKEN
    )
    phone.keys("0")
    record = phone.press("2").first("Record")
    status = {"RecordingStatus": "completed", "RecordingUrl": RECORDING, "RecordingSid": "RE" + "c" * 32}
    phone.twiml(record.get("recordingStatusCallback", ""), RecordingDuration="14", **status)
    (case,) = stored_cases(app.extensions["ivr"], "voicemail")
    return str(case["reference"])


def test_the_ops_page_lists_open_cases_by_kind_oldest_first(ops_app: Flask, clock: Clock) -> None:
    first = leave_voicemail(ops_app, clock)
    clock.set("2026-11-22T23:20:00+00:00")
    other = Phone(
        ops_app.test_client(), caller="+447400123457", dialed="+442038089999", sid="vm2", token=AUTH_TOKEN
    )
    other.keys("0")
    record = other.press("2").first("Record")
    other.twiml(
        record.get("recordingStatusCallback", ""),
        RecordingStatus="completed",
        RecordingUrl=RECORDING[:-1] + "d",
        RecordingSid="RE" + "c" * 31 + "d",
        RecordingDuration="9",
    )
    second = stored_cases(ops_app.extensions["ivr"], "voicemail")[1]["reference"]
    html = ops_app.test_client().get("/ops", auth=LOGIN).get_data(as_text=True)
    voicemails = html[
        html.index("<caption>Voicemails (2)</caption>") : html.index("</table>", html.index("Voicemails (2)"))
    ]
    assert voicemails.index(f'href="/ops/cases/{first}"') < voicemails.index(f'href="/ops/cases/{second}"')
    assert "<caption>Lockdowns (0)</caption>" in html and "+44******3456" in voicemails
    assert "447400123456" not in html


def test_a_voicemail_plays_through_the_app_with_the_accounts_credentials(
    ops_app: Flask, clock: Clock, twilio: FakeTwilio
) -> None:
    reference = leave_voicemail(ops_app, clock)
    client = ops_app.test_client()
    assert client.get(f"/ops/recordings/{reference}").status_code == 401  # behind the login
    audio = client.get(f"/ops/recordings/{reference}", auth=LOGIN)
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg" and audio.data == AUDIO
    (fetch,) = [r for r in twilio.requests if r["method"] == "GET"]
    assert fetch["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{'c' * 32}.mp3"
    assert fetch["user"] == ACCOUNT
    page = client.get(f"/ops/cases/{reference}", auth=LOGIN).get_data(as_text=True)
    assert f'<audio id="message" controls preload="none" src="/ops/recordings/{reference}">' in page
    assert client.get("/ops/recordings/99999999", auth=LOGIN).status_code == 404


def test_closing_needs_the_pages_csrf_token_and_a_note(ops_app: Flask, clock: Clock) -> None:
    reference = leave_voicemail(ops_app, clock)
    client = ops_app.test_client()
    page = client.get(f"/ops/cases/{reference}", auth=LOGIN).get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    url = f"/ops/cases/{reference}/close"
    forged = client.post(url, data={"note": "x"}, auth=LOGIN)
    assert (
        forged.status_code == 400
        and stored_cases(ops_app.extensions["ivr"], "voicemail")[0]["status"] == "open"
    )
    assert client.post(url, data={"csrf": token, "note": "x"}).status_code == 401
    empty = client.post(url, data={"csrf": token, "note": "  "}, auth=LOGIN)
    assert empty.status_code == 303 and empty.headers["Location"].endswith("?error=note")
    done = client.post(url, data={"csrf": token, "note": "Called back, card blocked"}, auth=LOGIN)
    assert done.status_code == 303
    shown = client.get(f"/ops/cases/{reference}", auth=LOGIN).get_data(as_text=True)
    assert "by ops:ops: Called back, card blocked" in shown and "<form" not in shown
    again = client.post(url, data={"csrf": token, "note": "again"}, auth=LOGIN)
    assert again.headers["Location"].endswith("?error=closed")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_ops_work_a_voicemail_in_headless_chromium(ops_app: Flask, clock: Clock, tmp_path: Path) -> None:
    reference = leave_voicemail(ops_app, clock)
    with serving(ops_app) as url:
        browser = Browser(tmp_path / "profile")
        try:
            browser.log_in(*LOGIN)
            browser.go(url + "/ops")
            assert browser.run("document.querySelector('h1').textContent") == "OK Wallet hotline"
            browser.run(f"document.querySelector('a[href=\"/ops/cases/{reference}\"]').click()")
            browser.wait_for(
                f"location.pathname === '/ops/cases/{reference}' && document.readyState === 'complete'"
            )
            played = browser.run(
                "fetch(document.querySelector('#message').src).then(r => r.arrayBuffer()"
                ".then(b => [r.status, r.headers.get('content-type'), b.byteLength]))"
            )
            assert played == [200, "audio/mpeg", len(AUDIO)]
            browser.run("document.querySelector('#note').value = 'Listened; called the customer back'")
            browser.run("document.querySelector('#close').click()")
            browser.wait_for("document.querySelector('#closed') !== null")
            closed = browser.run("document.querySelector('#closed').textContent")
            assert closed.endswith("by ops:ops: Listened; called the customer back")
            assert browser.run("document.querySelector('#status').textContent") == "closed"
        finally:
            browser.close()
    (case,) = stored_cases(ops_app.extensions["ivr"], "voicemail")
    assert case["status"] == "closed"
