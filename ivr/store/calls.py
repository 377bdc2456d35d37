"""Call records and journeys, written off the webhook's path in small batches.

What a caller is told about (cases, locks, texts) is committed before the answer; this is the
record of the call itself (where it went, the menus and key categories, how it ended), which
the answer never waits for. A background thread writes it every `interval` seconds; the
status callback, reports and tests `flush()` first.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ivr.store.tables import UPSERTS, calls

if TYPE_CHECKING:
    from ivr.store import Store

log = logging.getLogger("ivr.journal")
MAX_BUFFERED = 20_000  # calls kept in memory while the store is away


class Journal:
    """Buffered call records for one process."""

    def __init__(
        self, store: Store, ranks: Mapping[str, int], interval: float = 0.2, background: bool = True
    ) -> None:
        self.store = store
        self.ranks = ranks  # each outcome's rank (the flows declare them): a call keeps its strongest
        self.interval = interval
        self.background = background
        self._lock = threading.Lock()
        self._starts: dict[str, dict[str, Any]] = {}
        self._steps: defaultdict[str, list[str]] = defaultdict(list)
        self._outcomes: dict[str, str] = {}
        self._languages: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._wake = threading.Event()

    def start_call(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._starts.setdefault(row["sid"], row)
        self._kick()

    def step(self, sid: str, text: str) -> None:
        if sid:
            with self._lock:
                self._steps[sid].append(text)
            self._kick()

    def language(self, sid: str, language: str) -> None:
        if sid:
            with self._lock:
                self._languages[sid] = language
            self._kick()

    def outcome(self, sid: str, outcome: str) -> None:
        if sid:
            with self._lock:
                known = self._outcomes.get(sid)
                if known is None or self.ranks.get(outcome, 0) > self.ranks.get(known, 0):
                    self._outcomes[sid] = outcome
            self._kick()

    def _kick(self) -> None:
        if not self.background:
            return
        if self._thread is None or self._pid != os.getpid():  # first use, or after a fork
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="ivr-journal", daemon=True)
            self._thread.start()
            atexit.register(self._final_flush)

    def _run(self) -> None:
        failing = False
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
                failing = False
            except Exception as exc:
                if not failing:  # once per outage, not five times a second
                    log.warning(
                        "call records not written yet (store unavailable: %s); will retry", type(exc).__name__
                    )
                failing = True

    def _final_flush(self) -> None:
        try:
            self.flush()
        except Exception:
            log.warning("call records lost at exit: the store was unavailable")

    def flush(self) -> None:
        """Write everything buffered. A store outage keeps it buffered for the next try; a row
        the store refuses (a value it cannot take) is logged and dropped, never retried forever,
        so one bad call cannot stop the records of every later one."""
        with self._lock:
            batch = Batch(self._starts, self._steps, self._outcomes, self._languages)
            self._starts, self._steps, self._outcomes, self._languages = {}, defaultdict(list), {}, {}
        if batch.empty:
            return
        try:
            self._write(batch)
            return
        except Exception:
            if not self.store.reachable():
                self._put_back(batch)
                raise
        # The store answers but refused the batch: write call by call to find the bad ones.
        for sid in batch.sids():
            try:
                self._write(batch.only(sid))
            except Exception as exc:
                if not self.store.reachable():
                    self._put_back(batch)
                    raise
                log.error("call record dropped: the store refused it (%s)", type(exc).__name__)

    def _put_back(self, batch: Batch) -> None:
        """Buffer again what could not be written, older first (a long outage drops the oldest)."""
        starts = batch.starts
        with self._lock:
            if len(starts) + len(self._starts) > MAX_BUFFERED:
                starts = dict(list(starts.items())[-MAX_BUFFERED // 2 :])
            self._starts = {**starts, **self._starts}
            for sid, items in batch.steps.items():
                self._steps[sid][:0] = items
            self._outcomes = {**batch.outcomes, **self._outcomes}
            self._languages = {**batch.languages, **self._languages}

    @staticmethod
    def _insert_one_by_one(connection: Any, starts: dict[str, dict[str, Any]]) -> None:
        """Databases without ON CONFLICT: skip the calls already recorded, row by row."""
        known = set(connection.execute(select(calls.c.sid).where(calls.c.sid.in_(list(starts)))).scalars())
        for sid, row in starts.items():
            if sid in known:
                continue
            try:
                with connection.begin_nested():
                    connection.execute(insert(calls).values(**row))
            except IntegrityError:
                pass

    def _write(self, batch: Batch) -> None:
        with self.store.begin() as connection:
            if batch.starts:
                # A call another server recorded first (a retried webhook) is simply skipped.
                dialect = connection.dialect.name
                if dialect in UPSERTS:
                    new_calls = UPSERTS[dialect](calls).on_conflict_do_nothing(index_elements=["sid"])
                    connection.execute(new_calls, [batch.starts[sid] for sid in sorted(batch.starts)])
                else:
                    self._insert_one_by_one(connection, batch.starts)
            # Rows are updated in one order (by sid) on every server, so two batches never deadlock.
            for sid in batch.sids():
                values: dict[str, Any] = {}
                if sid in batch.steps:
                    values["journey"] = calls.c.journey + "".join(f"{i};" for i in batch.steps[sid])
                if sid in batch.languages:
                    values["language"] = batch.languages[sid][:8]
                if values:
                    connection.execute(update(calls).where(calls.c.sid == sid).values(**values))
                if sid in batch.outcomes:
                    outcome = batch.outcomes[sid]
                    rank = self.ranks.get(outcome, 0)  # one not ranked is the weakest, never an error
                    weaker = sorted(name for name, other in self.ranks.items() if other < rank)
                    connection.execute(
                        update(calls)
                        .where(
                            calls.c.sid == sid, or_(calls.c.outcome.is_(None), calls.c.outcome.in_(weaker))
                        )
                        .values(outcome=outcome)
                    )


@dataclass
class Batch:
    """What the journal writes in one go."""

    starts: dict[str, dict[str, Any]]
    steps: dict[str, list[str]]
    outcomes: dict[str, str]
    languages: dict[str, str]

    @property
    def empty(self) -> bool:
        return not (self.starts or self.steps or self.outcomes or self.languages)

    def sids(self) -> list[str]:
        return sorted({*self.starts, *self.steps, *self.outcomes, *self.languages})

    def only(self, sid: str) -> Batch:
        def pick(items: dict[str, Any]) -> dict[str, Any]:
            return {sid: items[sid]} if sid in items else {}

        return Batch(pick(self.starts), pick(self.steps), pick(self.outcomes), pick(self.languages))


def end_call(
    connection: Any, sid: str, status: str, duration: int | None, now: datetime
) -> dict[str, Any] | None:
    """Close a call's record (a call with no outcome was abandoned); its region and the outcome
    it had before, or None when the call was never recorded."""
    # FOR UPDATE: a step saving the call's state (`steps.save_state`) waits for the end.
    locked = select(calls.c.region, calls.c.outcome).where(calls.c.sid == sid).with_for_update()
    record = connection.execute(locked).first()
    if record is None:
        return None
    connection.execute(
        update(calls)
        .where(calls.c.sid == sid)
        .values(status=status[:24], duration=duration, ended_at=now, outcome=record.outcome or "abandoned")
    )
    return {"region": record.region, "outcome": record.outcome}


def call_record(connection: Any, sid: str) -> Any:
    return connection.execute(select(calls).where(calls.c.sid == sid)).mappings().first()
