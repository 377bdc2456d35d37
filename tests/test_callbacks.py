"""The callback dialer keeps the promise: over HTTP as Twilio drives it, through the worker,
against a fake Calls API at TWILIO_API_URL that records what the IVR asked Twilio to do."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
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
        SMS_FROM="OKWallet",  # a sender Twilio takes: an alphanumeric ID
    )
    yield application
    application.extensions["ivr"].store.dispose()


def placed_by_dialer(twilio: FakeTwilio) -> list[dict[str, str]]:
    """The calls the dialer placed (not the agents' leg of a caller on hold while booking)."""
    return [call for call in twilio.calls() if "/voice/step/callback-" in call["Url"]]


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
    assert placed_by_dialer(twilio) == []
    (attempt,) = dialer(live).run_once(at("2026-11-23T08:00:30+00:00"))
    assert attempt.mode == "agent-first" and attempt.call_sid
    assert "7400123456" not in attempt.line()
    (placed,) = placed_by_dialer(twilio)
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
    assert reached_url.startswith(PUBLIC + "/voice/step/callback-reached?")

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


def test_a_callback_booked_before_a_holiday_break_is_promised_and_dialed_after_it(
    live: Flask, clock: Clock, twilio: FakeTwilio
) -> None:
    clock.set("2026-12-24T20:30:00+00:00")  # Christmas Eve after closing; then four days closed
    heard = book(live)
    assert "when we open, on Tuesday 29 December at 8 am." in heard
    for day in ("2026-12-25T10:00:00+00:00", "2026-12-26T10:00:00+00:00", "2026-12-28T10:00:00+00:00"):
        assert dialer(live).run_once(at(day)) == []
    assert placed_by_dialer(twilio) == []
    assert len(dialer(live).run_once(at("2026-12-29T08:00:00+00:00"))) == 1


def test_theft_callbacks_are_dialed_first_then_whoever_asked_first(
    live: Flask, clock: Clock, twilio: FakeTwilio
) -> None:
    cases = live.extensions["ivr"].services.cases
    asked = at("2026-11-23T07:00:00+00:00")
    references = {}
    for label, number, minutes, theft in (
        ("oldest", "+447400123001", 0, False),
        ("theft", "+447400123002", 5, True),
        ("newer", "+447400123003", 2, False),
    ):
        references[label] = cases.open(
            kind="callback",
            region="gb",
            language="en-GB",
            status="open",
            now=asked + timedelta(minutes=minutes),
            callback_number=number,
            requested_at=asked + timedelta(minutes=minutes),
            priority=theft,
        )
    attempts = dialer(live).run_once(at("2026-11-23T08:00:00+00:00"))
    assert [a.reference for a in attempts] == [references[k] for k in ("theft", "oldest", "newer")]
    assert [a.number for a in attempts] == ["+44******3002", "+44******3001", "+44******3003"]
    whisper = Leg(live, placed_by_dialer(twilio)[0]).answer().text
    reported = "They reported a stolen wallet and asked to lock it; the case says whether it is locked."
    assert reported in whisper


def test_unanswered_attempts_are_retried_ten_minutes_apart_three_times_then_failed(
    live: Flask, clock: Clock, twilio: FakeTwilio
) -> None:
    clock.set("2026-11-23T10:00:00+00:00")
    book(live)
    (case,) = stored_cases(live.extensions["ivr"], "callback")
    start = at("2026-11-23T10:00:00+00:00")
    outcomes = ["no-answer", "busy", "failed"]
    for n, status in enumerate(outcomes):
        (attempt,) = dialer(live).run_once(start + timedelta(minutes=10 * n))
        assert attempt.attempt == n + 1
        clock.set((start + timedelta(minutes=10 * n)).isoformat())
        Leg(live, placed_by_dialer(twilio)[-1]).status(status)
        if n < 2:  # not again within ten minutes, nor twice for one status callback
            Leg(live, placed_by_dialer(twilio)[-1]).status(status)
            assert dialer(live).run_once(start + timedelta(minutes=10 * n + 9)) == []
    shown = case_of(live, case["reference"])
    assert shown["status"] == "failed"
    assert [a["result"] for a in shown["attempts"]] == ["agent-no-answer", "agent-busy", "agent-failed"]
    assert all(len(a["call_sids"]) == 1 for a in shown["attempts"])
    assert dialer(live).run_once(start + timedelta(hours=2)) == []
    assert len(placed_by_dialer(twilio)) == 3
    again = book(live, sid="after-failed")  # a failed callback never blocks a new request
    assert "already on our call-back list" not in again


def test_the_caller_is_not_redialed_while_the_agent_is_still_ringing_them_and_a_miss_is_retried(
    live: Flask, clock: Clock, twilio: FakeTwilio
) -> None:
    clock.set("2026-11-23T10:00:00+00:00")
    book(live)
    (case,) = stored_cases(live.extensions["ivr"], "callback")
    dialer(live).run_once(at("2026-11-23T10:00:00+00:00"))
    agent = Leg(live, placed_by_dialer(twilio)[0])
    agent.answer()
    agent.phone.press("1")
    sorry = agent.phone.twiml(agent.phone.last.first("Dial").get("action"), DialCallStatus="no-answer")  # type: ignore[union-attr]
    assert sorry.text.startswith("They didn't answer. We'll try again later.")
    agent.status("completed")
    shown = case_of(live, case["reference"])
    assert shown["status"] == "open" and [a["result"] for a in shown["attempts"]] == ["caller-no-answer"]
    assert shown["next_attempt_at"] == "2026-11-23T10:10:00+00:00"


def test_queue_regions_ring_the_caller_first_skip_a_machine_and_queue_a_person(
    live: Flask, clock: Clock, twilio: FakeTwilio
) -> None:
    clock.set("2026-11-22T06:00:00+00:00")  # Sunday 14:00 in Hong Kong: closed
    heard = book(live, HK_CALLER, HK_NUMBER)
    assert "覆電去尾數" in heard and "開工之後" in heard
    (case,) = stored_cases(live.extensions["ivr"], "callback")
    (first,) = dialer(live).run_once(at("2026-11-23T01:00:00+00:00"))  # Monday 09:00 there
    assert first.mode == "caller-first"
    placed = placed_by_dialer(twilio)[0]
    assert placed["To"] == HK_CALLER and placed["From"] == HK_NUMBER
    assert placed["MachineDetection"] == "Enable"
    assert placed["Url"] == f"{PUBLIC}/voice/step/callback-answer?case={case['reference']}"
    machine = Leg(live, placed).answer(AnsweredBy="machine_start")
    assert machine.root[0].tag == "Hangup" and machine.text == ""
    Leg(live, placed).status("completed")
    assert [a["result"] for a in case_of(live, case["reference"])["attempts"]] == ["machine"]

    dialer(live).run_once(at("2026-11-23T01:10:00+00:00"))
    person = Leg(live, placed_by_dialer(twilio)[1])
    offer = person.answer(AnsweredBy="human")
    assert offer.text.startswith("你好，呢度係OK錢包，應你嘅要求覆電俾你。想同客服同事傾，請按1。")
    assert offer.languages[0] == live.extensions["ivr"].config.voices["zh-HK"].say_language  # Cantonese
    queued = person.phone.press("1")
    assert queued.first("Enqueue").text == "hk-support"
    shown = case_of(live, case["reference"])
    assert shown["status"] == "closed" and [a["result"] for a in shown["attempts"]] == ["machine", "queued"]


def test_a_task_router_region_puts_the_called_back_caller_ahead_of_new_calls(
    app_factory: Callable[..., Flask], config_dir: Any, clock: Clock, twilio: FakeTwilio
) -> None:
    regions = config_dir / "regions.yaml"
    regions.write_text(
        regions.read_text().replace(
            "    queue: hk-support   # agents take calls from this Twilio queue\n",
            "    queue: hk-support   # agents take calls from this Twilio queue\n    task_workflow: WW"
            + "0" * 32
            + "\n",
        )
    )
    app = app_factory(
        TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_API_URL=twilio.url, PUBLIC_URL=PUBLIC
    )
    clock.set("2026-11-22T06:00:00+00:00")
    book(app, HK_CALLER, HK_NUMBER)
    dialer(app).run_once(at("2026-11-23T01:00:00+00:00"))
    person = Leg(app, placed_by_dialer(twilio)[0])
    person.answer(AnsweredBy="human")
    queued = person.phone.press("1")
    enqueue = queued.first("Enqueue")
    assert enqueue.get("workflowSid") == "WW" + "0" * 32
    task = enqueue.find("Task")
    assert task is not None and task.get("priority") == "10"
    assert json.loads(task.text or "{}")["callback"] == "1"
    app.extensions["ivr"].store.dispose()


def test_a_leg_twilio_would_not_place_is_a_failed_attempt_retried_later(
    live: Flask, clock: Clock, twilio: FakeTwilio
) -> None:
    clock.set("2026-11-23T10:00:00+00:00")
    book(live)
    twilio.refuse_calls = True
    (attempt,) = dialer(live).run_once(at("2026-11-23T10:00:00+00:00"))
    assert attempt.call_sid is None and "not placed" in attempt.line()
    (case,) = stored_cases(live.extensions["ivr"], "callback")
    shown = case_of(live, case["reference"])
    assert shown["status"] == "open" and [a["result"] for a in shown["attempts"]] == ["not-placed"]


def test_metrics_and_the_report_show_the_promise_being_kept(
    live: Flask, clock: Clock, twilio: FakeTwilio, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set("2026-11-22T23:10:00+00:00")
    book(live)
    book(live, "+447400123457", sid="second")
    clock.set("2026-11-23T07:10:00+00:00")  # eight hours later, still closed
    text = live.test_client().get("/metrics").get_data(as_text=True)
    assert 'ivr_callbacks_waiting{region="gb"} 2.0' in text
    assert 'ivr_callback_oldest_wait_seconds{region="gb"} 28800.0' in text
    dialer(live).run_once(at("2026-11-23T08:00:00+00:00"))
    first, second = placed_by_dialer(twilio)
    clock.set("2026-11-23T08:01:00+00:00")
    Leg(live, second).status("busy")
    agent = Leg(live, first)
    agent.answer()
    number = agent.phone.press("1").first("Number")
    caller(live, GB_NUMBER, GB_CALLER, "CA" + "b" * 32).twiml(number.get("url"), Direction="outbound-dial")
    text = live.test_client().get("/metrics").get_data(as_text=True)
    assert 'ivr_callback_attempts_total{region="gb",result="placed"} 2.0' in text
    assert 'ivr_callback_attempts_total{region="gb",result="connected"} 1.0' in text
    assert 'ivr_callback_attempts_total{region="gb",result="agent-busy"} 1.0' in text
    assert 'ivr_callbacks_waiting{region="gb"} 1.0' in text
    assert "7400123456" not in text and "7400123457" not in text

    from click.testing import CliRunner

    from ivr.tools.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    monkeypatch.setenv("IVR_CONFIG_DIR", str(live.extensions["ivr"].source.directory))
    window = ["--from", "2026-11-22T00:00:00+00:00", "--to", "2026-11-24T00:00:00+00:00"]
    report = json.loads(CliRunner().invoke(main, ["report", *window, "--json"]).output)
    assert report["callbacks"] == {"done": 1, "failed": 0, "median_minutes_to_call": 531.0}
    assert report["callbacks_waiting"]["count"] == 1
    lines = CliRunner().invoke(main, ["report", *window]).output
    assert "Callbacks done: 1, failed: 0; median from request to call: 531 min" in lines


def test_a_called_back_caller_may_say_they_want_an_agent_and_is_asked_again_when_unclear(
    live: Flask, clock: Clock, twilio: FakeTwilio
) -> None:
    clock.set("2026-11-22T06:00:00+00:00")
    book(live, HK_CALLER, HK_NUMBER)
    dialer(live).run_once(at("2026-11-23T01:00:00+00:00"))
    person = Leg(live, placed_by_dialer(twilio)[0])
    offer = person.answer(AnsweredBy="human")
    gather = offer.first("Gather")
    assert gather.get("input") == "dtmf speech" and gather.get("language") == "yue-Hant-HK"
    assert "客服" in gather.get("hints", "")
    unclear = person.phone.twiml(gather.get("action", ""), SpeechResult="唔知", Confidence="0.91")
    assert unclear.text.startswith("你好，呢度係OK錢包")  # asked once more
    queued = person.phone.twiml(unclear.gather_action, SpeechResult="我想搵客服", Confidence="0.88")
    assert queued.first("Enqueue").text == "hk-support"


def test_an_emergency_closure_holds_the_dialer_and_the_caller_hears_no_time(
    live: Flask, clock: Clock, twilio: FakeTwilio
) -> None:
    clock.set("2026-11-23T10:00:00+00:00")
    runtime = live.extensions["ivr"]
    runtime.close_region("gb", "Office flooded", "weather", None)
    heard = book(live)
    assert "We'll call you back on the number ending 3 4 5 6 as soon as we reopen." in heard
    assert dialer(live).run_once(at("2026-11-23T10:05:00+00:00")) == []
    runtime.reopen_region("gb")
    runtime.closures.expire()
    assert len(dialer(live).run_once(at("2026-11-23T10:06:00+00:00"))) == 1


def test_texts_go_through_twilio_api_url_too(live: Flask, clock: Clock, twilio: FakeTwilio) -> None:
    clock.set("2026-11-23T10:00:00+00:00")
    caller(live, GB_CALLER, GB_NUMBER, "recovery").keys("1", "1")  # a username reminder by SMS
    live.extensions["ivr"].sms.drain(clock())  # the server's sender, off the webhook's path
    (text,) = [r for r in twilio.requests if r["path"].endswith("/Messages.json")]
    assert text["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json" and text["form"]["To"] == GB_CALLER


def test_a_pass_at_an_earlier_instant_dials_no_callback_asked_for_later(live: Flask, clock: Clock) -> None:
    clock.set("2026-11-23T10:00:00+00:00")  # Monday, open: booked now
    caller(live, GB_CALLER, GB_NUMBER, "asked").keys("0", "1")
    assert dialer(live).run_once(at("2026-11-20T10:00:00+00:00")) == []  # the Friday before: not yet asked
    assert len(dialer(live).run_once(at("2026-11-23T10:05:00+00:00"))) == 1


def test_the_callback_whisper_names_a_language_no_catalogue_names(
    config_dir: Path, app_factory: Callable[..., Flask], clock: Clock, twilio: FakeTwilio
) -> None:
    # A language is its config and its own catalogue: a catalogue need not carry `language_xx`
    # lines (issue 27), so the callback's whisper names the caller's language as the agents'
    # whisper does, through Babel, and never fails for want of one.
    prompts_file = config_dir / "prompts" / "en-GB.yaml"
    prompts_file.write_text(
        "".join(
            line
            for line in prompts_file.read_text().splitlines(keepends=True)
            if not line.startswith("  language_en-GB:")
        )
    )
    app = app_factory(
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_API_URL=twilio.url,
        PUBLIC_URL=PUBLIC,
        SMS_FROM="OKWallet",
    )
    clock.set("2026-11-22T23:10:00+00:00")
    book(app)
    dialer(app).run_once(at("2026-11-23T08:00:30+00:00"))
    clock.set("2026-11-23T08:01:00+00:00")
    whisper = Leg(app, placed_by_dialer(twilio)[0]).answer().text
    assert "Speaks English." in whisper
    app.extensions["ivr"].store.dispose()
