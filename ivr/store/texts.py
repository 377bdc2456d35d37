"""The SMS outbox: every text the IVR sent or tried to send."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from ivr.store.tables import sms_outbox


def record(connection: Connection, **values: Any) -> None:
    """One text: `to`, `body` (as it may be kept), `status`, `created_at` and delivery details."""
    values["to_number"] = values.pop("to")
    connection.execute(insert(sms_outbox).values(**values))


def due_for_retry(connection: Connection, now: datetime) -> list[dict[str, Any]]:
    """Texts waiting to be sent (queued by a webhook, or failed) whose next try has come."""
    rows = connection.execute(
        select(sms_outbox)
        .where(
            sms_outbox.c.status.in_(("queued", "failed")),
            sms_outbox.c.pending_body.is_not(None),
            sms_outbox.c.next_try_at <= now,
        )
        .order_by(sms_outbox.c.id)  # oldest first, every time
    ).mappings()
    return [dict(row) for row in rows]


def claim(connection: Connection, text_id: int, status: str) -> bool:
    """Take one text for sending, if no other sender (thread or server) took it first."""
    taken = connection.execute(
        update(sms_outbox)
        .where(sms_outbox.c.id == text_id, sms_outbox.c.status == status)
        .values(status="sending")
    )
    return taken.rowcount == 1


def update_text(connection: Connection, text_id: int, **values: Any) -> None:
    connection.execute(update(sms_outbox).where(sms_outbox.c.id == text_id).values(**values))


def listing(
    connection: Connection, *, limit: int | None = None, since: datetime | None = None
) -> list[dict[str, Any]]:
    """The contract's JSON for texts, oldest first: with `limit`, the newest `limit`."""
    query = select(sms_outbox).order_by(sms_outbox.c.id.desc())
    if since is not None:
        query = query.where(sms_outbox.c.created_at >= since)
    if limit is not None:
        query = query.limit(limit)
    rows = list(connection.execute(query).mappings())[::-1]
    return [
        {
            "to": r["to_number"],
            "body": r["body"],
            "created_at": r["created_at"].isoformat(),
            "status": r["status"],
        }
        for r in rows
    ]
