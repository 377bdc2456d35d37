"""Hostile use, round three (issue 31): replays that outlive the step records, the ops page's
login throttle and headers. Each test failed before its fix."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from ivr.store.tables import wallet_accounts, wallet_transactions
from tests.conftest import Clock, Phone, stored_cases

LI_HUA = "+8613800138000"


def undo_the_lock(hotline: Any) -> None:
    """What ops do once the owner has recovered the wallet: unlocked, the transfer pending again."""
    with hotline.store.begin() as connection:
        connection.execute(update(wallet_accounts).values(locked=False, locked_at=None))
        connection.execute(
            update(wallet_transactions)
            .where(wallet_transactions.c.reference == "70010002")
            .values(status="pending")
        )


def assert_the_replay_did_nothing(phone: Phone, hotline: Any, texts: int = 1) -> None:
    answer = phone.retry()
    assert answer.dialed == [] and answer.root.find("Hangup") is not None, answer.raw
    assert hotline.wallet.get_account("A-1001").locked is False  # no second lock
    assert hotline.wallet.get_transaction("70010002").status == "pending"
    assert len(stored_cases(hotline, "lockdown")) == 1  # no second case
    assert len(hotline.sms.outbox()) == texts  # no second text


@pytest.mark.parametrize("keep_nothing", [False, True], ids=["ivr-db-purge", "everything-purgeable"])
def test_a_captured_lockdown_replayed_after_the_call_ended_and_a_purge_acts_never(
    phone: Phone, hotline: Any, clock: Clock, keep_nothing: bool
) -> None:
    clock.set("2026-11-23T12:00:00+08:00")
    phone.keys("3", "1")  # the signed POST of the lock, kept by whoever captured it
    assert hotline.wallet.get_account("A-1001").locked is True
    assert len(stored_cases(hotline, "lockdown")) == 1 and len(hotline.sms.outbox()) == 1
    locked_step = phone.sent
    phone.twiml("/voice/status", CallStatus="completed", CallDuration="95")
    undo_the_lock(hotline)
    clock.set("2026-11-24T12:30:00+08:00" if not keep_nothing else "2027-02-01T12:00:00+08:00")
    removed = hotline.purge()
    assert removed["call_steps"] >= 1 and removed["call_state"] == 0  # the status callback forgot it
    if keep_nothing:
        assert removed["sms_outbox"] == 1
    phone.sent = locked_step
    assert_the_replay_did_nothing(phone, hotline, texts=0 if keep_nothing else 1)


def test_a_captured_lockdown_replayed_the_same_day_after_the_call_ended_acts_never(
    phone: Phone, hotline: Any
) -> None:
    phone.keys("3", "1")
    locked_step = phone.sent
    phone.twiml("/voice/status", CallStatus="completed", CallDuration="95")
    undo_the_lock(hotline)
    phone.sent = locked_step
    assert_the_replay_did_nothing(phone, hotline)


def test_a_step_of_a_call_older_than_any_call_can_last_acts_never_even_without_its_end(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    """The status callback never came (lost): the call's start is enough."""
    clock.set("2026-11-23T12:00:00+08:00")
    phone.keys("3", "1")
    locked_step = phone.sent
    hotline.journal.flush()  # what the journal's thread does within 0.2 s on a server
    undo_the_lock(hotline)
    clock.set("2026-11-24T13:00:00+08:00")  # tomorrow, 25 hours after the call began
    hotline.purge()
    phone.sent = locked_step
    assert_the_replay_did_nothing(phone, hotline)


def test_a_live_call_still_acts_on_each_new_step(phone: Phone, hotline: Any, clock: Clock) -> None:
    """The rule refuses only calls that are over: an hour into a call, a lock still locks."""
    clock.set("2026-11-23T12:00:00+08:00")
    phone.call()
    clock.set("2026-11-23T13:00:00+08:00")
    phone.press("3")
    answer = phone.press("1")
    assert answer.dialed == ["+442079460001"]
    assert hotline.wallet.get_account("A-1001").locked is True


def test_a_recording_reported_after_the_hang_up_is_kept_and_its_replay_after_a_purge_is_not(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    clock.set("2026-02-17T12:00:00+08:00")  # Spring Festival: closed, the voicemail offer
    phone.keys("0")
    record = phone.press("2").first("Record")
    phone.twiml(
        record.get("action", ""), RecordingUrl="https://api.twilio.com/rec/RE1", RecordingDuration="14"
    )
    phone.twiml("/voice/status", CallStatus="completed", CallDuration="40")
    clock.set("2026-02-17T12:02:00+08:00")  # the recording is ready two minutes after the end
    report = {
        "RecordingStatus": "completed",
        "RecordingUrl": "https://api.twilio.com/rec/RE1",
        "RecordingSid": "RE1",
        "RecordingDuration": "14",
    }
    phone.twiml(record.get("recordingStatusCallback", ""), **report)
    [case] = stored_cases(hotline, "voicemail")
    assert case["recording_url"] == "https://api.twilio.com/rec/RE1"
    clock.set("2026-02-19T12:00:00+08:00")
    assert hotline.purge()["call_steps"] >= 1
    replayed = phone.twiml(record.get("recordingStatusCallback", ""), **report)
    assert replayed.root.find("Hangup") is not None
    assert len(stored_cases(hotline, "voicemail")) == 1


# The ops page: throttled per account as well as per address; headers a browser obeys.

OPS = ("ops", "s3cret-pw")


def test_guesses_from_the_ops_teams_own_address_do_not_lock_the_team_out(app_factory: Any) -> None:
    """Someone behind the same NAT guessing other accounts: the team's account is unaffected."""
    client = app_factory(OPS_USER=OPS[0], OPS_PASSWORD=OPS[1]).test_client()
    codes = [client.get("/ops", auth=(f"admin{n % 2}", f"guess-{n}")).status_code for n in range(14)]
    assert codes.count(429) == 4 and codes[:10] == [401] * 10  # 5 a minute per account and address
    assert client.get("/ops", auth=OPS).status_code == 200


def test_guesses_at_the_ops_account_from_many_addresses_stop_at_100(app_factory: Any) -> None:
    """NIST SP 800-63B 5.2.2: at most 100 failed attempts on one account, wherever they come from."""
    client = app_factory(OPS_USER=OPS[0], OPS_PASSWORD=OPS[1]).test_client()

    def attempt(password: str, address: str) -> int:
        return int(
            client.get("/ops", auth=("ops", password), environ_base={"REMOTE_ADDR": address}).status_code
        )

    codes = [attempt(f"guess-{n}", f"10.1.{n // 4}.{n % 4}") for n in range(105)]
    assert codes[:100] == [401] * 100 and codes[100:] == [429] * 5
    assert attempt(OPS[1], "10.200.0.1") == 429  # the account waits, whoever asks
    assert attempt(OPS[1], "10.200.0.1") == 429


def test_the_ops_page_tells_browsers_not_to_frame_sniff_leak_or_keep_it(app_factory: Any) -> None:
    client = app_factory(OPS_USER=OPS[0], OPS_PASSWORD=OPS[1]).test_client()
    for response in (client.get("/ops", auth=OPS), client.get("/ops"), client.get("/ops", auth=("ops", "x"))):
        headers = response.headers
        policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
        assert policy["base-uri"] == "'none'" and policy["form-action"] == "'self'"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
    page = client.get("/ops", auth=OPS)
    nonce = policy_nonce(page.headers["Content-Security-Policy"])
    assert f'<style nonce="{nonce}">' in page.get_data(as_text=True)  # the page's own style still applies
    assert nonce != policy_nonce(client.get("/ops", auth=OPS).headers["Content-Security-Policy"])


def policy_nonce(policy: str) -> str:
    [style] = [part.strip() for part in policy.split(";") if part.strip().startswith("style-src")]
    assert style.startswith("style-src 'nonce-") and style.endswith("'"), style
    return style[len("style-src 'nonce-") : -1]


def test_behind_nginx_the_throttle_counts_the_address_nginx_saw(app_factory: Any) -> None:
    """IVR_PROXIES=1: every request comes from nginx on 127.0.0.1; X-Forwarded-For's last hop
    is the client. A guesser at one address leaves the team at another unaffected."""
    client = app_factory(OPS_USER=OPS[0], OPS_PASSWORD=OPS[1], PROXIES=1).test_client()

    def attempt(password: str, address: str) -> int:
        return int(
            client.get("/ops", auth=("ops", password), headers={"X-Forwarded-For": address}).status_code
        )

    assert [attempt(f"guess-{n}", "203.0.113.9") for n in range(6)] == [401] * 5 + [429]
    assert attempt(OPS[1], "198.51.100.7") == 200
    assert attempt(OPS[1], "forged, 203.0.113.9") == 429  # only nginx's own hop is believed


def test_without_proxies_a_forwarded_for_header_changes_nothing(app_factory: Any) -> None:
    client = app_factory(OPS_USER=OPS[0], OPS_PASSWORD=OPS[1]).test_client()
    codes = [
        client.get("/ops", auth=("ops", f"g{n}"), headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
        for n in range(6)
    ]
    assert codes == [401] * 5 + [429]
