"""Forgetting what is no longer of use, so no query slows as history grows.

What is kept, and for how long (docs/operations.md: "What the store keeps"): attempts for the longest
limit window (24 h); step answers and call state for a day (a call is long over); one-time
codes an hour past expiry; reset tokens a day past expiry; texts 30 days (ops look at recent
ones). Calls and cases are the record and are never purged here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from ivr.store.tables import attempts, call_state, call_steps, one_time_codes, reset_tokens, sms_outbox

KEEP = {
    "attempts": timedelta(hours=24),
    "call_steps": timedelta(days=1),
    "call_state": timedelta(days=1),
    "one_time_codes": timedelta(hours=1),
    "reset_tokens": timedelta(days=1),
    "sms_outbox": timedelta(days=30),
}
# table name -> (table, its key column, the time column that ages it)
_AGED: dict[str, tuple[Any, Any, Any]] = {
    "attempts": (attempts, attempts.c.id, attempts.c.at),
    "call_steps": (call_steps, call_steps.c.id, call_steps.c.created_at),
    "call_state": (call_state, call_state.c.sid, call_state.c.updated_at),
    "one_time_codes": (one_time_codes, one_time_codes.c.id, one_time_codes.c.expires_at),
    "reset_tokens": (reset_tokens, reset_tokens.c.token_hash, reset_tokens.c.expires_at),
    "sms_outbox": (sms_outbox, sms_outbox.c.id, sms_outbox.c.created_at),
}


def purge(connection: Connection, now: datetime, batch: int = 5000) -> dict[str, int]:
    """Delete up to `batch` rows per table that are past keeping; the count per table."""
    counts = {}
    for name, (table, key, aged) in _AGED.items():
        old = select(key).where(aged < now - KEEP[name]).limit(batch).scalar_subquery()
        counts[name] = connection.execute(delete(table).where(key.in_(old))).rowcount or 0
    return counts
