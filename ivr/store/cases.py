"""Cases: lockdowns, disputes, callbacks and voicemails, each with a reference callers can type."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ivr.routing.regions import mask
from ivr.store.tables import cases

KINDS = ("lockdown", "dispute", "callback", "voicemail")


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


def list_cases(
    connection: Connection,
    kind: str | None = None,
    *,
    limit: int | None = None,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """Cases oldest first: with `limit`, the newest `limit` of them; with `since`, from then."""
    query = select(cases).order_by(cases.c.id.desc())
    if kind:
        query = query.where(cases.c.kind == kind)
    if since is not None:
        query = query.where(cases.c.created_at >= since)
    if limit is not None:
        query = query.limit(limit)
    rows = [case_json(dict(row)) for row in connection.execute(query).mappings()]
    return rows[::-1]


def open_callbacks(connection: Connection) -> list[dict[str, Any]]:
    """Callbacks still waiting: theft first, then by when the caller asked."""
    query = select(cases).where(cases.c.kind == "callback", cases.c.status == "open")
    rows = [case_json(dict(row)) for row in connection.execute(query).mappings()]
    return sorted(rows, key=lambda c: (not c["priority"], c.get("requested_at") or c["created_at"]))


def masked(data: dict[str, Any]) -> dict[str, Any]:
    """A case for display to ops: the callback number masked."""
    if data.get("callback_number"):
        return {**data, "callback_number": mask(data["callback_number"])}
    return data
