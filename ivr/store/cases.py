"""Cases: lockdowns, disputes, callbacks and voicemails, each with a reference callers can type."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ivr.routing.regions import mask
from ivr.store.tables import cases

KINDS = ("lockdown", "dispute", "callback", "voicemail")
# A case's life: open -> (calling: a callback being dialed) -> closed, or failed (a callback
# given up after its attempts). Closing is for cases still open (or failed, once ops acted).
STATUSES = ("open", "calling", "closed", "failed")
CLOSABLE = ("open", "failed")


class CaseExists(Exception):
    """A case a rule allows once is already open (one open callback per number): the store's
    constraint, said in the flows' terms."""


def new_reference() -> str:
    """Eight digits, never starting with 0: easy to read back and to type on a keypad."""
    return str(secrets.randbelow(90_000_000) + 10_000_000)


def open_case(
    connection: Connection,
    *,
    kind: str,
    region: str,
    language: str,
    status: str,
    now: datetime,
    account: str | None = None,
    call_sid: str | None = None,
    priority: bool = False,
    **fields: Any,
) -> str:
    """Store a case and return its reference (a fresh one on the rare collision)."""
    assert kind in KINDS, kind
    for _ in range(10):
        reference = new_reference()
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(cases).values(
                        reference=reference,
                        kind=kind,
                        account=account,
                        region=region,
                        language=language,
                        status=status,
                        priority=priority,
                        call_sid=call_sid,
                        note="",
                        created_at=now,
                        updated_at=now,
                        **fields,
                    )
                )
            return reference
        except IntegrityError:
            taken = connection.execute(select(cases.c.id).where(cases.c.reference == reference)).first()
            if taken is None:  # another rule, such as one open callback per number
                raise CaseExists(kind) from None
    raise RuntimeError("could not allocate a case reference")


def case_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """The contract's JSON for one case."""
    data: dict[str, Any] = {
        "reference": row["reference"],
        "kind": row["kind"],
        "account": row["account"],
        "region": row["region"],
        "status": row["status"],
        "created_at": row["created_at"].isoformat(),
        "priority": bool(row["priority"]),
    }
    if row["kind"] == "lockdown":
        data["outcome"] = row["outcome"]  # locked | no_wallet | lock_failed | not_verified
    if row["kind"] == "dispute":
        data["transaction"] = row["transaction"]
    if row["kind"] == "callback":
        data["callback_number"] = row["callback_number"]
        data["requested_at"] = row["requested_at"].isoformat() if row["requested_at"] else None
    if row["kind"] == "voicemail":
        data["callback_number"] = row["callback_number"]  # a withheld caller's, when given
        data["recording_url"] = row["recording_url"]
        data["recording_seconds"] = row["recording_seconds"]
    return data


def case_detail(row: Mapping[str, Any]) -> dict[str, Any]:
    """`ivr cases show`: the case, its attempts (callbacks), and who closed it, when and why."""
    data = {**case_json(row), "language": row["language"], "topic": row["topic"]}
    if row["kind"] == "callback":
        data["attempts"] = json.loads(row["attempts"] or "[]")
        data["next_attempt_at"] = row["next_attempt_at"].isoformat() if row["next_attempt_at"] else None
    data["closed_at"] = row["closed_at"].isoformat() if row["closed_at"] else None
    data["closed_by"] = row["closed_by"]
    data["note"] = row["note"]
    return data


def find_case(connection: Connection, reference: str) -> dict[str, Any] | None:
    row = connection.execute(select(cases).where(cases.c.reference == reference)).mappings().first()
    return case_detail(dict(row)) if row is not None else None


class CaseNotClosable(Exception):
    """Why a case cannot be closed: one line for the CLI and the ops page."""


def close_case(connection: Connection, reference: str, *, by: str, note: str, now: datetime) -> None:
    """Close an open (or failed) case with who closed it and a note."""
    row = connection.execute(select(cases.c.status).where(cases.c.reference == reference)).first()
    if row is None:
        raise CaseNotClosable(f"no case {reference}")
    if row.status not in CLOSABLE:
        raise CaseNotClosable(f"case {reference} is {row.status}, not open")
    done = connection.execute(
        update(cases)
        .where(cases.c.reference == reference, cases.c.status.in_(CLOSABLE))
        .values(
            status="closed", closed_at=now, closed_by=by[:64], note=note, updated_at=now, lease_until=None
        )
    )
    if done.rowcount != 1:  # closed by someone else meanwhile
        raise CaseNotClosable(f"case {reference} was closed meanwhile")


def list_cases(
    connection: Connection,
    kind: str | None = None,
    *,
    status: str | None = None,
    limit: int | None = None,
    since: datetime | None = None,
    oldest: int | None = None,
) -> list[dict[str, Any]]:
    """Cases oldest first: with `limit`, the newest `limit` of them; with `oldest`, the oldest
    `oldest` of them (what has waited longest); with `since`, from then."""
    query = select(cases).order_by(cases.c.id.asc() if oldest else cases.c.id.desc())
    if oldest:
        query = query.limit(oldest)
    if kind:
        query = query.where(cases.c.kind == kind)
    if status:
        query = query.where(cases.c.status == status)
    if since is not None:
        query = query.where(cases.c.created_at >= since)
    if limit is not None:
        query = query.limit(limit)
    rows = [case_json(dict(row)) for row in connection.execute(query).mappings()]
    return rows if oldest else rows[::-1]


def open_callbacks(connection: Connection) -> list[dict[str, Any]]:
    """Callbacks still waiting (or being dialed): theft first, then by when the caller asked."""
    query = select(cases).where(cases.c.kind == "callback", cases.c.status.in_(("open", "calling")))
    rows = [case_json(dict(row)) for row in connection.execute(query).mappings()]
    return sorted(rows, key=lambda c: (not c["priority"], c.get("requested_at") or c["created_at"]))


def masked(data: dict[str, Any]) -> dict[str, Any]:
    """A case for display to ops: the callback number masked."""
    if data.get("callback_number"):
        return {**data, "callback_number": mask(data["callback_number"])}
    return data
