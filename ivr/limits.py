"""Attempt limits (contract section 7), counted in the store so every server sees them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from ivr.store import attempts

# kind -> (how many, within how long)
LIMITS = {
    "wrong_pin": (5, timedelta(hours=24)),  # wrong PINs per account
    "recovery_sms": (3, timedelta(hours=1)),  # username / reset texts per account
    "code_sent": (5, timedelta(hours=1)),  # one-time codes per account
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


def allowed(connection: Connection, kind: str, subject: str, now: datetime) -> bool:
    return used(connection, kind, subject, now) < LIMITS[kind][0]


def count(connection: Connection, kind: str, subject: str, now: datetime) -> None:
    connection.execute(insert(attempts).values(kind=kind, subject=subject, at=now))
