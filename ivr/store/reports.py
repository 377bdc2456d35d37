"""What ops ask of the stored calls and cases, for `ivr report`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from ivr.store.tables import calls, cases


def calls_between(connection: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Calls counted by region, outcome and whether they ended: aggregated by the database, so
    a year of calls is a few dozen rows (`calls`: how many)."""
    ended = calls.c.ended_at.is_not(None).label("ended")
    rows = connection.execute(
        select(calls.c.region, calls.c.outcome, ended, func.count().label("calls"))
        .where(and_(calls.c.started_at >= start, calls.c.started_at < end))
        .group_by(calls.c.region, calls.c.outcome, ended)
    ).mappings()
    return [dict(row) for row in rows]


def seconds_to_lockdown(connection: Connection, start: datetime, end: datetime) -> list[float]:
    """From answer to the stored lockdown, for calls that started in the window. Driven from
    the window's calls (by start time, then each call's cases by call): older history costs
    nothing. The kind is checked here, not in SQL, so no planner starts from every lockdown."""
    rows = connection.execute(
        select(cases.c.kind, cases.c.created_at, calls.c.started_at)
        .select_from(calls)
        .join(cases, cases.c.call_sid == calls.c.sid)
        .where(calls.c.started_at >= start, calls.c.started_at < end)
    )
    return [(row.created_at - row.started_at).total_seconds() for row in rows if row.kind == "lockdown"]


def waiting_callbacks(connection: Connection) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(cases.c.requested_at, cases.c.created_at, cases.c.priority).where(
            cases.c.kind == "callback", cases.c.status.in_(("open", "calling"))
        )
    ).mappings()
    return [dict(row) for row in rows]


def callbacks_finished(connection: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Callbacks that ended in the window: kept (the dialer reached the caller) or failed."""
    rows = connection.execute(
        select(cases.c.status, cases.c.closed_by, cases.c.requested_at, cases.c.created_at, cases.c.closed_at)
        .where(cases.c.kind == "callback", cases.c.status.in_(("closed", "failed")))
        .where(cases.c.updated_at >= start, cases.c.updated_at < end)
    ).mappings()
    return [dict(row) for row in rows]
