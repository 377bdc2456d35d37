"""Emergency closures (`ivr region close`): stored, so every server honours them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from ivr.store.tables import emergency_closures


def in_force(connection: Connection) -> list[dict[str, Any]]:
    """Every closure not yet cleared, oldest first: region, reason, category, until."""
    rows = connection.execute(
        select(emergency_closures)
        .where(emergency_closures.c.cleared_at.is_(None))
        .order_by(emergency_closures.c.id)
    ).mappings()
    return [dict(row) for row in rows]


def close(
    connection: Connection, region: str, reason: str, category: str, until: datetime | None, now: datetime
) -> list[dict[str, Any]]:
    """A new closure of `region`, replacing the one in force: the closures it replaced."""
    replaced = [
        row
        for row in in_force(connection)
        if row["region"] == region and (row["until"] is None or row["until"] > now)
    ]
    reopen(connection, region, now)
    connection.execute(
        insert(emergency_closures).values(
            region=region, reason=reason, category=category, until=until, created_at=now
        )
    )
    return replaced


def reopen(connection: Connection, region: str, now: datetime) -> bool:
    """Clear the closure of `region`; False when there was none."""
    cleared = connection.execute(
        update(emergency_closures)
        .where(emergency_closures.c.region == region, emergency_closures.c.cleared_at.is_(None))
        .values(cleared_at=now)
    ).rowcount
    return bool(cleared)
