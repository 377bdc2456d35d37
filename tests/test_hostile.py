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
