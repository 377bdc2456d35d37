"""Attempt limits (contract section 7), counted in the store so every server sees them.

An attempt is claimed before the thing it limits is tried: the count and the claim happen
under one lock per (kind, subject), so callers racing on several servers (a brute force
over many parallel calls) get exactly the limit between them, never a few more.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Connection

from ivr.store.tables import attempts

# kind -> (how many, within how long)
LIMITS = {
    "wrong_pin": (5, timedelta(hours=24)),  # wrong PINs per account
    "recovery_sms": (3, timedelta(hours=1)),  # username / reset texts per account
    "code_sent": (5, timedelta(hours=1)),  # one-time codes per account
    "lockdown_sms": (3, timedelta(hours=1)),  # lockdown texts per account (the lock always happens)
    "dispute_sms": (5, timedelta(hours=1)),  # dispute texts per account (the case is always stored)
    "help_sms": (3, timedelta(hours=1)),  # help link, contact details, local number per account
}


def used(connection: Connection, kind: str, subject: str, now: datetime) -> int:
    window = LIMITS[kind][1]
    return int(
        connection.execute(
            select(func.count())
            .select_from(attempts)
            .where(attempts.c.kind == kind, attempts.c.subject == subject, attempts.c.at > now - window)
        ).scalar_one()
    )


def claim(connection: Connection, kind: str, subject: str, now: datetime) -> int | None:
    """Count one attempt if the limit allows it: its id (to `release` it), or None when spent.

    Serialised per (kind, subject) until the transaction ends: PostgreSQL by a transaction
    advisory lock; SQLite by its single writer (the write comes first, so a racing
    transaction waits for it before counting).
    """
    _lock(connection, kind, subject)
    claimed = connection.execute(
        insert(attempts).values(kind=kind, subject=subject, at=now)
    ).inserted_primary_key
    attempt = int(claimed[0]) if claimed else 0
    if used(connection, kind, subject, now) > LIMITS[kind][0]:
        release(connection, attempt)
        return None
    return attempt


def release(connection: Connection, attempt: int) -> None:
    """Take back a claimed attempt that turned out not to count (the PIN was right)."""
    connection.execute(delete(attempts).where(attempts.c.id == attempt))


def _lock(connection: Connection, kind: str, subject: str) -> None:
    if connection.dialect.name == "postgresql":
        key = zlib.crc32(f"{kind}\x1f{subject}".encode())
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
