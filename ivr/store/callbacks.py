"""The callback dialer's rows: claim a due callback (one worker only), and keep each attempt.

A claim moves the case to `calling` with a lease; the attempt's outcome (from Twilio's
webhooks) moves it back to `open` for a later try, to `closed` (connected) or to `failed`
(out of attempts). A lease that expires means the worker or the webhooks were lost: the next
claim takes the case again, so a killed worker never loses a callback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, type_coerce, update
from sqlalchemy.engine import Connection

from ivr.store.tables import UtcDateTime, cases

PENDING = "dialing"  # an attempt placed whose outcome Twilio has not told yet
LOST = "lost"  # its lease expired without an outcome (a worker killed, webhooks lost)


def _due(regions: Iterable[str], now: datetime) -> Any:
    waiting = and_(
        cases.c.status == "open",
        or_(cases.c.next_attempt_at.is_(None), cases.c.next_attempt_at <= now),
    )
    abandoned = and_(cases.c.status == "calling", cases.c.lease_until < now)
    asked = cases.c.created_at <= now  # a rehearsal at an earlier instant dials none asked later
    return and_(cases.c.kind == "callback", cases.c.region.in_(list(regions)), asked, or_(waiting, abandoned))


def claim_next(
    connection: Connection, regions: Iterable[str], now: datetime, lease: timedelta, max_attempts: int
) -> dict[str, Any] | None:
    """The next due callback in `regions` (theft first, then who asked first), now `calling` and
    leased to this worker; None when none is due. Rows another worker holds are skipped
    (PostgreSQL's SKIP LOCKED); the update's own condition keeps SQLite's single writer safe."""
    regions = list(regions)
    if not regions:
        return None
    query = (
        select(cases)
        .where(_due(regions, now))
        .order_by(
            cases.c.priority.desc(), func.coalesce(cases.c.requested_at, cases.c.created_at), cases.c.id
        )
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    attempts = json.loads(row["attempts"] or "[]")
    if attempts and attempts[-1]["result"] == PENDING:
        attempts[-1]["result"] = LOST
    status = "failed" if len(attempts) >= max_attempts else "calling"
    claimed = connection.execute(
        update(cases)
        .where(cases.c.id == row["id"], _due(regions, now))
        .values(
            status=status,
            lease_until=now + lease if status == "calling" else None,
            attempts=json.dumps(attempts),
            updated_at=now,
        )
    )
    if claimed.rowcount != 1:
        return None  # another worker took it between the read and the write
    if status == "failed":  # its last attempt was lost and it had no more: ops will see it
        return claim_next(connection, regions, now, lease, max_attempts)
    return {**dict(row), "status": status, "attempts": attempts}


def _locked(connection: Connection, reference: str) -> dict[str, Any] | None:
    query = select(cases).where(cases.c.reference == reference, cases.c.kind == "callback").with_for_update()
    row = connection.execute(query).mappings().first()
    return dict(row) if row is not None else None


def start_attempt(connection: Connection, reference: str, now: datetime) -> None:
    """An attempt begins, before its first leg is placed: the leg's webhooks find it waiting."""
    row = _locked(connection, reference)
    if row is None:
        return
    attempts = json.loads(row["attempts"] or "[]")
    attempts.append({"at": now.isoformat(), "result": PENDING, "call_sids": []})
    connection.execute(
        update(cases).where(cases.c.id == row["id"]).values(attempts=json.dumps(attempts), updated_at=now)
    )


def add_leg(connection: Connection, reference: str, call_sid: str, now: datetime) -> None:
    """A leg of the attempt in progress (the first placed by the worker, the caller's by the
    agent's <Dial>) has this Call SID."""
    row = _locked(connection, reference)
    if row is None or row["status"] != "calling":
        return
    attempts = json.loads(row["attempts"] or "[]")
    if attempts and call_sid not in attempts[-1]["call_sids"]:
        attempts[-1]["call_sids"].append(call_sid)
        connection.execute(
            update(cases).where(cases.c.id == row["id"]).values(attempts=json.dumps(attempts), updated_at=now)
        )


def finish_attempt(
    connection: Connection,
    reference: str,
    result: str,
    now: datetime,
    *,
    connected: bool,
    max_attempts: int,
    spacing: timedelta,
) -> str | None:
    """The outcome of the attempt in progress: connected closes the case; anything else lets it
    wait `spacing` for the next try, or fails it after `max_attempts`. Once per attempt: the
    case's new status, or None when no attempt of this case was waiting for an outcome."""
    row = _locked(connection, reference)
    if row is None or row["status"] != "calling":
        return None
    attempts = json.loads(row["attempts"] or "[]")
    if not attempts or attempts[-1]["result"] != PENDING:
        return None
    attempts[-1]["result"] = result
    attempts[-1]["ended_at"] = now.isoformat()
    values: dict[str, Any] = {"attempts": json.dumps(attempts), "updated_at": now, "lease_until": None}
    if connected:
        values.update(status="closed", closed_at=now, closed_by="dialer", note=f"called back: {result}")
    elif len(attempts) >= max_attempts:
        values.update(status="failed", next_attempt_at=None)
    else:
        values.update(status="open", next_attempt_at=now + spacing)
    connection.execute(update(cases).where(cases.c.id == row["id"]).values(**values))
    return str(values["status"])


def waiting_by_region(connection: Connection, theft_only: bool = False) -> dict[str, tuple[int, datetime]]:
    """Callbacks waiting per region: how many, and since when the oldest (metrics, promises);
    `theft_only`: those with theft priority (the ones the dialer calls first)."""
    since = type_coerce(func.min(func.coalesce(cases.c.requested_at, cases.c.created_at)), UtcDateTime())
    query = (
        select(cases.c.region, func.count(), since)
        .where(cases.c.kind == "callback", cases.c.status.in_(("open", "calling")))
        .group_by(cases.c.region)
    )
    if theft_only:
        query = query.where(cases.c.priority.is_(True))
    return {region: (count, oldest) for region, count, oldest in connection.execute(query)}


def prioritise_waiting(connection: Connection, number: str) -> bool:
    """Give the callback waiting for `number` theft priority; whether one was waiting."""
    waiting = (cases.c.kind == "callback") & (cases.c.callback_number == number)
    changed = connection.execute(
        update(cases).where(waiting, cases.c.status.in_(("open", "calling"))).values(priority=True)
    )
    return bool(changed.rowcount)


def copy_waiting(source: Connection, target: Connection) -> int:
    """Copy the callbacks waiting in `source` into `target` (a rehearsal's scratch store)."""
    query = select(cases).where(cases.c.kind == "callback", cases.c.status.in_(("open", "calling")))
    rows = [{k: v for k, v in dict(row).items() if k != "id"} for row in source.execute(query).mappings()]
    if rows:
        target.execute(cases.insert(), rows)
    return len(rows)
