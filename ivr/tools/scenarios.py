"""Scenarios: one simulated call each, with what must happen. Ops rehearse dates with them."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ivr.config import load_yaml_model
from ivr.tools.simulator import DIAL_STATUSES, QUEUE_RESULTS, Simulator, Transcript, keys_from_list


class Expectations(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str | None = None
    language: str | None = None
    dialed: list[str] | None = None
    queue: list[str] | None = None
    cases: dict[Literal["lockdown", "dispute", "callback", "voicemail"], int] | None = None
    sms: int | None = None
    heard: list[str] = []
    not_heard: list[str] = []
    ended: str | None = None
    # After the dialer's passes (`dialer`): how many attempts it made, what its legs heard and
    # did (`ivr callbacks run --at` lines), and the callbacks' statuses, oldest first.
    dialer_attempts: int | None = None
    dialer_heard: list[str] = []
    callbacks: list[Literal["open", "calling", "closed", "failed"]] | None = None


class Scenario(BaseModel):
    """One call: who calls which number when, what they press, and what must happen."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str
    caller: str = Field(alias="from")
    to: str = ""
    at: datetime
    keys: list[str] = []
    dial_status: str = "completed"
    queue_result: str = "bridged"
    hold: bool = False  # as a server with TWILIO_ACCOUNT_SID: on hold while the IVR rings agents
    dialer: list[datetime] = []  # after the call, a callback dialer pass at each instant
    redirect_fails: bool = False  # on hold: Twilio fails the request that moves the caller off it
    expect: Expectations

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the instant with its UTC offset, e.g. 2026-02-17T12:00:00+08:00")
        return value

    @field_validator("dialer")
    @classmethod
    def _aware_passes(cls, values: list[datetime]) -> list[datetime]:
        return [cls._aware(value) for value in values]

    @field_validator("dial_status")
    @classmethod
    def _dial_status(cls, value: str) -> str:
        if value not in DIAL_STATUSES:
            raise ValueError(f"{value!r} is not one of {', '.join(DIAL_STATUSES)}")
        return value

    @field_validator("queue_result")
    @classmethod
    def _queue_result(cls, value: str) -> str:
        if value not in QUEUE_RESULTS:
            raise ValueError(f"{value!r} is not one of {', '.join(QUEUE_RESULTS)}")
        return value


@dataclass(frozen=True)
class Outcome:
    """A finished call in a scratch store: the transcript and what was stored."""

    transcript: Transcript
    region: str
    language: str
    cases: Counter[str]
    sms: int
    dialer_lines: tuple[str, ...] = ()
    dialer_attempts: int = 0
    callbacks: tuple[str, ...] = ()  # the callbacks' statuses after the dialer, oldest first


def simulate(
    config_dir: Path,
    caller: str,
    dialed: str,
    at: datetime | None,
    keys: list[str] | None,
    dial_status: str = "completed",
    queue_result: str = "bridged",
    on_step: Any = None,
    keypad: Any = None,
    hold: bool = False,
    dialer: list[datetime] | None = None,
    redirect_fails: bool = False,
) -> Outcome:
    """One call in-process on a scratch store with a fresh demo wallet; nothing real changes.
    `hold`: Twilio's REST API played in-process (`LocalTwilio`), so a dialing region's caller
    waits on hold while the IVR rings the agents, as with TWILIO_ACCOUNT_SID set;
    `redirect_fails`: that API fails every request to move a live call."""
    from ivr import DEV_TOKEN
    from ivr.runtime import system_clock
    from ivr.store.cases import list_cases
    from ivr.tools.rehearsal import rehearse_pass
    from ivr.tools.simulator import LocalTwilio, Probe, scratch_app, signed_transport

    twilio = LocalTwilio(fail_redirects=redirect_fails) if hold else None
    instant = [at]  # the app's clock: the call's instant, then each dialer pass's

    with tempfile.TemporaryDirectory(prefix="ivr-call-") as scratch:
        app = scratch_app(
            config_dir,
            scratch,
            (lambda: instant[0]) if at else system_clock,
            TWILIO_ACCOUNT_SID=LocalTwilio.ACCOUNT if twilio else None,
            SMS_HTTP_CLIENT=twilio,
            SMS_FROM="OKWallet" if twilio else None,  # a sender Twilio takes (twiml_rules)
        )
        client = app.test_client()

        def send(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
            path = url.removeprefix("http://localhost")
            response = client.post(path, data=form, headers=headers, base_url="http://localhost")
            runtime.sms.drain(runtime.now())  # the server's sender thread, at once
            return response.status_code, response.get_data(as_text=True)

        runtime = app.extensions["ivr"]
        runtime.events.explained = {}  # why speech matched, read back into each step

        def journey() -> list[str]:
            record = runtime.call_record(simulator.call_sid) or {}
            return [item for item in (record.get("journey") or "").split(";") if item]

        simulator = Simulator(
            signed_transport("http://localhost", DEV_TOKEN, send),
            caller,
            dialed,
            keypad or keys_from_list(keys or []),
            dial_status,
            queue_result,
            on_step=on_step,
            probe=Probe(
                runtime.sms.outbox, journey, lambda: runtime.events.explained.get(simulator.call_sid)
            ),
            twilio=twilio,
        )
        lines: list[str] = []
        attempts = 0
        try:
            transcript = simulator.run()
            record = runtime.call_record(simulator.call_sid) or {}
            for moment in dialer or ():
                instant[0] = moment
                attempts += len(rehearse_pass(runtime, simulator.transport, moment, lines.append))
            with runtime.store.begin() as connection:
                stored = list_cases(connection)
            sms = len(runtime.sms.outbox())
        finally:
            runtime.store.dispose()
    kinds = Counter(c["kind"] for c in stored)
    callbacks = tuple(c["status"] for c in stored if c["kind"] == "callback")
    region, language = record.get("region", ""), record.get("language", "")
    return Outcome(transcript, region, language, kinds, sms, tuple(lines), attempts, callbacks)


def check(scenario: Scenario, outcome: Outcome) -> list[str]:
    """Every expectation that did not hold, as a sentence."""
    expect, transcript, problems = scenario.expect, outcome.transcript, []
    heard = transcript.heard()

    def differs(what: str, wanted: Any, got: Any) -> None:
        if wanted is not None and wanted != got:
            problems.append(f"{what}: expected {wanted!r}, got {got!r}")

    differs("region", expect.region, outcome.region)
    differs("language", expect.language, outcome.language)
    differs("dialed", expect.dialed, transcript.dialed)
    differs("queue", expect.queue, transcript.queues)
    differs(
        "cases",
        expect.cases,
        {k: v for k, v in outcome.cases.items() if v} if expect.cases is not None else None,
    )
    differs("sms", expect.sms, outcome.sms)
    differs("ended", expect.ended, transcript.ended)
    problems += [f"never heard {words!r}" for words in expect.heard if words not in heard]
    problems += [f"heard {words!r}" for words in expect.not_heard if words in heard]
    if scenario.dialer:
        differs("dialer attempts", expect.dialer_attempts, outcome.dialer_attempts)
        differs(
            "callbacks", expect.callbacks, list(outcome.callbacks) if expect.callbacks is not None else None
        )
        said = "\n".join(outcome.dialer_lines)
        problems += [
            f"the dialer's legs never heard {words!r}" for words in expect.dialer_heard if words not in said
        ]
    return problems


def scenario_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(path.glob("*.yaml"))
        else:
            yield path


def load(path: Path) -> Scenario:
    return load_yaml_model(path, Scenario)
