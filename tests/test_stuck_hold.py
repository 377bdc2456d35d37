"""The hold, attacked by chance (issue 31, items 5 and 6): a redirect that fails leaves nobody on
hold forever, and the races between the agent answering, the caller hanging up and the status
callbacks leave no call state behind a call that ended and no agents' leg ringing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select, update
from twilio.http.response import Response

from ivr.store.tables import call_state, calls
from tests.conftest import Clock
from tests.test_hold import CALLS, LEG, OPEN_MONDAY, FakeCallsApi, agents_leg, uk_caller
from tests.test_sms import ACCOUNT_SID
from tests.test_store import POSTGRES_URL, reset_postgres, shipped_app


class RedirectsFail(FakeCallsApi):
    """Twilio's Calls API placing calls but failing every update of a live call (a 500, once
    or for good: the redirect that should move the caller off hold never arrives)."""

    def request(self, method: str, uri: str, params: Any = None, data: Any = None, **extra: Any) -> Response:
        if uri != CALLS + ".json" and "Url" in (data or {}):
            self.requests.append((uri, dict(data or {})))
            return Response(500, '{"code": 20500, "message": "Internal Server Error", "status": 500}')
        return super().request(method, uri, params, data, **extra)


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_a_failed_redirect_off_hold_is_noticed_by_the_wait_url(
    app_factory: Any, clock: Clock, status: str
) -> None:
    clock.set(OPEN_MONDAY)
    api = RedirectsFail()
    app = app_factory(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=api)
    caller = uk_caller(app)
    enqueue = caller.keys("0").first("Enqueue")
    caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="1", QueueTime="5")
    agents_leg(app, api.requests[0][1]["StatusCallback"], CallStatus=status)
    [failed] = api.updates(caller.sid)  # the redirect was tried, and Twilio failed it
    assert urlsplit(failed["Url"]).path == "/voice/step/hold-missed"
    # The music ends and Twilio asks the wait URL again: it takes the caller out of the line.
    wait = caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="1", QueueTime="40")
    assert wait.all("Leave") and not wait.all("Play")
    offer = caller.twiml(enqueue.get("action", ""), QueueResult="leave", QueueTime="41")
    assert "press 1" in offer.text and "press 3 to lock" in offer.text
    assert "agent" in offer.text.lower() or "busy" in offer.text.lower()


def test_a_leg_that_never_reports_is_hung_up_and_the_caller_moved_on(app_factory: Any, clock: Clock) -> None:
    """Neither the status callback nor the redirect came: the wait URL sees the ring timeout
    long past, stops the leg and takes the caller to the offer."""
    clock.set(OPEN_MONDAY)
    api = FakeCallsApi()
    app = app_factory(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=api)
    caller = uk_caller(app)
    enqueue = caller.keys("0").first("Enqueue")
    early = caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="1", QueueTime="20")
    assert early.all("Play") and not early.all("Leave")  # still ringing: the music goes on
    late = caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="1", QueueTime="90")
    assert late.all("Leave")
    assert api.updates(LEG) == [{"Status": "completed"}]  # the agents stop ringing
    offer = caller.twiml(enqueue.get("action", ""), QueueResult="leave", QueueTime="91")
    assert "none of our agents could answer just now" in offer.text.lower()


def test_an_answered_hold_is_left_alone_by_the_wait_url(app_factory: Any, clock: Clock) -> None:
    clock.set(OPEN_MONDAY)
    api = FakeCallsApi()
    app = app_factory(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=api)
    caller = uk_caller(app)
    enqueue = caller.keys("0").first("Enqueue")
    agents_leg(app, api.requests[0][1]["Url"])  # an agent answers: the whisper, then the bridge
    wait = caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="1", QueueTime="90")
    assert wait.all("Play") and not wait.all("Leave")
    assert api.updates(LEG) == []


# --- races, on PostgreSQL with real concurrency ----------------------------------------------


@pytest.fixture
def pg_held(tmp_path: Path) -> Iterator[tuple[Flask, FakeCallsApi]]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: set IVR_TEST_POSTGRES_URL")
    reset_postgres(POSTGRES_URL)
    api = FakeCallsApi()
    app = shipped_app(
        POSTGRES_URL, tmp_path, TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=api, CLOCK=Clock(OPEN_MONDAY)
    )
    yield app, api
    app.extensions["ivr"].store.dispose()


def at_once(*actions: Callable[[], Any]) -> None:
    start = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action: Callable[[], Any]) -> None:
        start.wait()
        try:
            action()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


RUNS = 12


def left_behind(app: Flask, api: FakeCallsApi, sid: str) -> tuple[bool, bool]:
    """After a race: call state kept for the ended call, and an agents' leg placed but never
    hung up."""
    kept = app.extensions["ivr"].store.one(select(call_state.c.sid).where(call_state.c.sid == sid))
    placed = any(uri == CALLS + ".json" for uri, _ in api.requests)
    return kept is not None, placed and {"Status": "completed"} not in api.updates(LEG)


@pytest.mark.postgres
def test_hang_up_races_leave_no_state_and_no_leg_ringing(pg_held: tuple[Flask, FakeCallsApi]) -> None:
    """The agent answers, the caller hangs up, the caller's and the leg's status callbacks
    arrive: all at once, twelve times, in the order the threads happen to run."""
    app, api = pg_held
    hotline = app.extensions["ivr"]
    debris, ringing = [], []
    for run in range(RUNS):
        api.requests.clear()
        caller = uk_caller(app, f"race-{run}")
        enqueue = caller.keys("0").first("Enqueue")
        hotline.journal.flush()  # the call's record, as the journal's thread writes it in 0.2 s
        placed = api.requests[0][1]
        label, action, answered, leg_ended = (
            f"race-{run}",
            enqueue.get("action", ""),
            placed["Url"],
            placed["StatusCallback"],
        )
        at_once(
            lambda: agents_leg(app, answered),  # noqa: B023 (run before the loop moves on)
            lambda: uk_caller(app, label).post(action, QueueResult="hangup", QueueTime="3"),  # noqa: B023
            lambda: uk_caller(app, label).post("/voice/status", CallStatus="completed", CallDuration="9"),  # noqa: B023
            lambda: agents_leg(app, leg_ended, CallStatus="completed"),  # noqa: B023
        )
        kept, ringing_on = left_behind(app, api, caller.sid)
        debris += [run] if kept else []
        ringing += [run] if ringing_on else []
    assert (debris, ringing) == ([], [])


@pytest.mark.postgres
def test_a_hang_up_while_the_0_is_answered_leaves_no_state_and_no_leg(
    pg_held: tuple[Flask, FakeCallsApi],
) -> None:
    """The caller hangs up while the `0` webhook is still ringing the agents: the status
    callback and the hold race; the leg is hung up and nothing is kept."""
    app, api = pg_held
    hotline = app.extensions["ivr"]
    debris, ringing = [], []
    for run in range(RUNS):
        api.requests.clear()
        caller = uk_caller(app, f"zero-race-{run}")
        caller.call()
        hotline.journal.flush()  # the call's record, as the journal's thread writes it
        main = caller.last
        assert main is not None
        label, action = f"zero-race-{run}", main.gather_action
        at_once(
            lambda: uk_caller(app, label).post(action, Digits="0"),  # noqa: B023 (run before the loop moves on)
            lambda: uk_caller(app, label).post("/voice/status", CallStatus="completed", CallDuration="4"),  # noqa: B023
        )
        kept, ringing_on = left_behind(app, api, caller.sid)
        debris += [run] if kept else []
        ringing += [run] if ringing_on else []
    assert (debris, ringing) == ([], [])


@pytest.mark.postgres
def test_saving_state_never_waits_for_the_journals_update_of_the_call(
    pg_held: tuple[Flask, FakeCallsApi],
) -> None:
    """The guard takes FOR KEY SHARE: only the status callback's FOR UPDATE makes it wait."""
    app, _ = pg_held
    hotline = app.extensions["ivr"]
    caller = uk_caller(app, "journal-lock")
    caller.call()
    hotline.journal.flush()
    with hotline.store.engine.connect() as journal:
        busy = journal.begin()  # the journal's batch, holding the call's row
        journal.execute(update(calls).where(calls.c.sid == caller.sid).values(journey=calls.c.journey + "x;"))
        started = time.perf_counter()
        assert hotline.services.states.save(caller.sid, {"topic": "none"}, hotline.now()) is True
        assert time.perf_counter() - started < 0.5
        busy.rollback()
