"""The callback dialer (`ivr callbacks run`): the IVR calls back the callers it promised to.

Each pass dials the callbacks that are due in regions whose agents are open now (their hours,
holidays and emergency closures), theft first, then whoever asked first, through Twilio's
Calls API (`TWILIO_API_URL`). Dialing regions ring their hotline first: the agent hears a
whisper and presses 1, then the caller is dialed with the region's number as caller ID.
Queue regions ring the caller first (answering machines are not connected), who presses 1 to
join the region's queue. Every attempt and its outcome is stored on the case; an attempt not
connected is retried `RETRY_SPACING` later, still in open hours, up to `MAX_ATTEMPTS`.

Any number of workers may run on one PostgreSQL: each claims its case under a row lock
(SKIP LOCKED) and holds a lease; a worker killed mid-attempt lets its lease expire, and the
next pass takes the case again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from ivr.config import Region
from ivr.routing.regions import mask
from ivr.store import callbacks as rows

log = logging.getLogger("ivr.callbacks")

MAX_ATTEMPTS = 3
RETRY_SPACING = timedelta(minutes=10)
# Longer than an attempt's ringing, whisper and the caller's ringing: an attempt still
# `calling` after it lost its worker or its webhooks.
LEASE = timedelta(minutes=10)
PASS_SECONDS = 30.0  # between passes of the long-running worker


@dataclass(frozen=True)
class Attempt:
    """One attempt placed (or refused) in a pass: what `ivr callbacks run` prints."""

    reference: str
    region: str
    number: str  # masked
    mode: str  # agent-first | caller-first
    attempt: int
    call_sid: str | None

    def line(self) -> str:
        placed = f"placed {self.call_sid}" if self.call_sid else "not placed (Twilio refused it)"
        return (
            f"callback {self.reference} ({self.region}, {self.number}): attempt {self.attempt}, "
            f"{self.mode}, {placed}"
        )


def step_url(public_url: str, step: str, **query: str) -> str:
    """A callback leg's webhook, under IVR_PUBLIC_URL (its path included)."""
    return f"{public_url.rstrip('/')}/voice/step/{step}?{urlencode(query)}"


class Dialer:
    """Dials due callbacks through the runtime's Twilio line, one claimed case at a time."""

    def __init__(self, runtime: Any, public_url: str, line: Any = None) -> None:
        self.runtime = runtime
        self.public_url = public_url
        self.line = line or runtime.services.line  # ivr.agentline.AgentLine: Twilio's Calls API

    def open_regions(self, now: datetime) -> list[Region]:
        config = self.runtime.config
        return [region for region in config.regions.values() if self.runtime.status(region, now).open]

    def run_once(self, now: datetime) -> list[Attempt]:
        """One pass: every due callback in an open region, each dialed once."""
        regions = {region.code: region for region in self.open_regions(now)}
        placed: list[Attempt] = []
        while True:
            with self.runtime.store.begin() as connection:
                case = rows.claim_next(connection, regions, now, LEASE, MAX_ATTEMPTS)
                if case is not None:
                    rows.start_attempt(connection, case["reference"], now)
            if case is None:
                return placed
            if len(case["attempts"]) and case["attempts"][-1]["result"] == rows.LOST:
                self.runtime.events.callback_attempt(case["region"], rows.LOST)
            placed.append(self.dial(case, regions[case["region"]], now))

    def dial(self, case: dict[str, Any], region: Region, now: datetime) -> Attempt:
        """Place the attempt's first leg; Twilio refusing it is a failed attempt."""
        reference, number = case["reference"], case["callback_number"]
        leg = "caller" if region.queue else "agent"
        ours = region.numbers[0] if region.numbers else region.hotline
        status_callback = step_url(self.public_url, "callback-status", case=reference, leg=leg)
        # When a leg's own webhook fails, Twilio runs its FallbackUrl: the hold's, which names no
        # caller here and so hangs the leg up; its status callback then ends the attempt.
        fallback = step_url(self.public_url, "hold-fallback")
        if leg == "agent":
            sid = self.line.ring(
                to=region.hotline,
                from_=ours,
                url=step_url(self.public_url, "callback-agent", case=reference),
                fallback_url=fallback,
                status_callback=status_callback,
                timeout=region.ring_timeout,
            )
        else:
            # Twilio's answering machine detection (MachineDetection=Enable): the answer webhook
            # carries AnsweredBy (human, machine_start, fax, unknown) and a machine is not
            # connected (https://www.twilio.com/docs/voice/answering-machine-detection).
            sid = self.line.ring(
                to=number,
                from_=ours,
                url=step_url(self.public_url, "callback-answer", case=reference),
                fallback_url=fallback,
                status_callback=status_callback,
                timeout=region.ring_timeout,
                machine_detection="Enable",
            )
        with self.runtime.store.begin() as connection:
            if sid:
                rows.add_leg(connection, reference, sid, now)
            else:
                rows.finish_attempt(
                    connection,
                    reference,
                    "not-placed",
                    now,
                    connected=False,
                    max_attempts=MAX_ATTEMPTS,
                    spacing=RETRY_SPACING,
                )
        self.runtime.events.callback_attempt(region.code, "placed" if sid else "not-placed")
        attempt = Attempt(
            reference,
            region.code,
            mask(number),
            "caller-first" if leg == "caller" else "agent-first",
            len(case["attempts"]) + 1,
            sid,
        )
        log.info(attempt.line())
        return attempt

    def run_forever(self, echo: Callable[[str], None], every: float = PASS_SECONDS) -> None:
        """The long-running worker: a pass, a pause, again; a store that is away is retried."""
        while True:
            try:
                for attempt in self.run_once(self.runtime.now()):
                    echo(attempt.line())
            except Exception as exc:  # the store or Twilio away: the next pass tries again
                log.warning("callback pass skipped: %s", type(exc).__name__)
            time.sleep(every)


def callbacks_waiting(runtime: Any) -> dict[str, tuple[int, float]]:
    """Per region: callbacks waiting (or being dialed), and the oldest one's wait in seconds
    (the metrics' gauges, read from the store at each scrape)."""
    with runtime.store.begin() as connection:
        waiting = rows.waiting_by_region(connection)
    now = runtime.now()
    return {region: (count, (now - since).total_seconds()) for region, (count, since) in waiting.items()}
