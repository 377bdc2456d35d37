"""The callback dialer keeps the promise: over HTTP as Twilio drives it, through the worker,
against a fake Calls API at TWILIO_API_URL that records what the IVR asked Twilio to do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask

from ivr.callbacks import Dialer
from ivr.flows import prompts
from tests.conftest import Clock, Phone, stored_cases
from tests.fake_twilio import ACCOUNT, AUTH_TOKEN, FakeTwilio, fake_twilio

PUBLIC = "https://ivr.example.com/hotline"  # a deployment under a path: every URL keeps it
GB_CALLER, GB_HOTLINE, GB_NUMBER = "+447400123456", "+442079460000", "+442038089999"
HK_CALLER, HK_NUMBER = "+85291234567", "+85230011234"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        yield fake


@pytest.fixture
def live(app_factory: Callable[..., Flask], twilio: FakeTwilio) -> Iterator[Flask]:
    """The IVR as a server with Twilio's REST API configured (the fake), under PUBLIC."""
    application = app_factory(
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_API_URL=twilio.url,
        PUBLIC_URL=PUBLIC,
    )
    yield application
    application.extensions["ivr"].store.dispose()


def caller(app: Flask, number: str, dialed: str, sid: str) -> Phone:
    return Phone(app.test_client(), caller=number, dialed=dialed, sid=sid, token=AUTH_TOKEN, base=PUBLIC)


def book(app: Flask, number: str = GB_CALLER, dialed: str = GB_NUMBER, sid: str = "book") -> str:
    """A caller in closed hours: the offer, then 1 for a callback; what they heard last."""
    phone = caller(app, number, dialed, sid)
    phone.keys("0", "1")
    return phone.last.text  # type: ignore[union-attr]


def dialer(app: Flask) -> Dialer:
    return Dialer(app.extensions["ivr"], PUBLIC)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Leg:
    """A leg the dialer placed, answered the way Twilio would: signed webhooks on its URLs."""

    def __init__(self, app: Flask, placed: dict[str, str]) -> None:
        self.placed = placed
        self.sid = "CA" + "a" * 32
        self.phone = caller(app, placed["From"], placed["To"], self.sid)

    def path(self, url: str) -> str:
        assert url.startswith(PUBLIC + "/"), url
        return url.removeprefix(PUBLIC)

    def answer(self, **extra: str) -> Any:
        return self.phone.twiml(self.path(self.placed["Url"]), Direction="outbound-api", **extra)

    def status(self, status: str) -> Any:
        return self.phone.twiml(self.path(self.placed["StatusCallback"]), CallStatus=status)


def case_of(app: Flask, reference: str) -> dict[str, Any]:
    from ivr.store.cases import find_case

    with app.extensions["ivr"].store.begin() as connection:
        found = find_case(connection, reference)
    assert found is not None
    return found


def test_a_night_callback_is_promised_for_opening_and_dialed_then_agent_first(
    live: Flask, clock: Clock, twilio: FakeTwilio
) -> None:
    clock.set("2026-11-22T23:10:00+00:00")  # a Sunday night in London: agents closed
    heard = book(live)
    assert "We'll call you back on the number ending 3 4 5 6 when we open, tomorrow at 8 am." in heard
    assert "as soon as an agent is free" not in heard
    (case,) = stored_cases(live.extensions["ivr"], "callback")
    reference = case["reference"]

    assert dialer(live).run_once(at("2026-11-23T07:59:00+00:00")) == []  # not before opening
    assert twilio.calls() == []
    (attempt,) = dialer(live).run_once(at("2026-11-23T08:00:30+00:00"))
    assert attempt.mode == "agent-first" and attempt.call_sid
    assert "7400123456" not in attempt.line()
    (placed,) = twilio.calls()
    # Twilio's Calls API (https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource)
    assert placed["To"] == GB_HOTLINE and placed["From"] == GB_NUMBER
    assert placed["Url"] == f"{PUBLIC}/voice/step/callback-agent?case={reference}"
    assert placed["StatusCallback"] == f"{PUBLIC}/voice/step/callback-status?case={reference}&leg=agent"
    assert placed["Method"] == "POST" and placed["Timeout"] == "25"
    assert "MachineDetection" not in placed  # the agents' own line
    assert case_of(live, reference)["status"] == "calling"
    assert dialer(live).run_once(at("2026-11-23T08:01:00+00:00")) == []  # never twice

    clock.set("2026-11-23T08:01:00+00:00")
    agent = Leg(live, placed)
    whisper = agent.answer()
    spoken = whisper.text
    assert spoken.startswith("OK Wallet call-back. No self-service used. Case reference")
    assert f"Case reference {prompts.digits('en-GB', reference)}." in spoken
    assert "They asked for it on Sunday 22 November at 11:10 pm. Speaks English." in spoken
    assert "To call them now, press 1." in spoken
    for digits in ("447400123456", "7400123456", "3 4 5 6"):
        assert digits not in spoken  # the whisper never says the number
    assert whisper.first("Gather").get("input") == "dtmf"
    dial = agent.phone.press("1")
    assert dial.first("Dial").get("callerId") == GB_NUMBER
    assert dial.dialed == [GB_CALLER]
    reached_url = dial.first("Number").get("url")
    assert reached_url.startswith("/voice/step/callback-reached?")

    reached = caller(live, GB_NUMBER, GB_CALLER, "CA" + "b" * 32).twiml(
        reached_url, Direction="outbound-dial"
    )
    assert reached.text.startswith("Hello, this is OK Wallet calling you back, as you asked.")
    shown = case_of(live, reference)
    assert shown["status"] == "closed" and shown["closed_by"] == "dialer"
    assert [a["result"] for a in shown["attempts"]] == ["connected"]
    assert shown["attempts"][0]["call_sids"] == [attempt.call_sid, "CA" + "b" * 32]
    agent.phone.twiml(dial.first("Dial").get("action"), DialCallStatus="completed")
    agent.status("completed")
    assert [a["result"] for a in case_of(live, reference)["attempts"]] == ["connected"]  # once

    # Done: the same number may ask again, and is not told it keeps a place it no longer has.
    clock.set("2026-11-23T09:00:00+00:00")
    again = book(live, sid="again")
    assert "already on our call-back list" not in again
    assert "We'll call you back on the number ending 3 4 5 6 within the hour." in again
