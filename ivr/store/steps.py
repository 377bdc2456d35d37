"""Call state (what a call has proved and typed, so any server can take its next step) and
step replay (a webhook Twilio sends twice gets the first answer back)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ivr.store.tables import UPSERTS, call_state, call_steps, calls

# No call outlives this: Twilio ends a call at 24 hours at the most (the <Dial> `timeLimit`
# maximum, https://www.twilio.com/docs/voice/twiml/dial#timelimit; error 86006 "Max call
# duration reached"). A step of a call that ended, or began longer ago, is a replay, however
# long ago its own step record was purged: the call's record is never purged.
LONGEST_CALL = timedelta(hours=24)


def load_state(connection: Connection, sid: str) -> dict[str, Any]:
    row = connection.execute(select(call_state.c.data).where(call_state.c.sid == sid)).first()
    return dict(json.loads(row.data)) if row else {}


def save_state(connection: Connection, sid: str, data: Mapping[str, Any], now: datetime) -> bool:
    """One upsert: duplicate webhooks of one step race here, and the last write wins whole.
    Nothing is written for a call that ended (False): a step racing the status callback
    leaves nothing behind. The call's row is locked first, so the callback, which locks and
    ends the row and then forgets the state in one transaction, either waits for this write
    and forgets it, or has ended the call before this looks."""
    # FOR KEY SHARE (PostgreSQL; SQLite has one writer anyway): waits for the status
    # callback's FOR UPDATE, never for the journal's plain updates of the same row.
    ended = select(calls.c.ended_at).where(calls.c.sid == sid).with_for_update(read=True, key_share=True)
    if connection.execute(ended).scalar() is not None:
        return False
    values = {"data": json.dumps(dict(data), sort_keys=True), "updated_at": now}
    upsert = UPSERTS[connection.dialect.name](call_state).values(sid=sid, **values)
    connection.execute(upsert.on_conflict_do_update(index_elements=["sid"], set_=values))
    return True


def forget_state(connection: Connection, sid: str) -> None:
    connection.execute(delete(call_state).where(call_state.c.sid == sid))


def call_over(connection: Connection, sid: str, now: datetime, after_end: timedelta) -> bool:
    """True when the call ended more than `after_end` ago, or began longer ago than any call
    lasts (then its end was lost). A call not recorded yet (its start is still on its way to
    the store) is live."""
    row = connection.execute(select(calls.c.started_at, calls.c.ended_at).where(calls.c.sid == sid)).first()
    if row is None:
        return False
    ended = row.ended_at is not None and row.ended_at <= now - after_end
    return bool(ended or row.started_at <= now - LONGEST_CALL - after_end)


def claim_step(connection: Connection, sid: str, key: str, now: datetime) -> bool:
    """Reserve (call, step) for the first copy of a webhook; False when another copy has it."""
    try:
        with connection.begin_nested():
            connection.execute(insert(call_steps).values(call_sid=sid, step=key, response="", created_at=now))
    except IntegrityError:
        return False
    return True


def release_step(connection: Connection, sid: str, key: str) -> None:
    """The first copy failed: let a retry act again."""
    connection.execute(delete(call_steps).where(call_steps.c.call_sid == sid, call_steps.c.step == key))


def finish_step(connection: Connection, sid: str, key: str, response: str) -> None:
    connection.execute(
        update(call_steps)
        .where(call_steps.c.call_sid == sid, call_steps.c.step == key)
        .values(response=response)
    )


def stored_answer(connection: Connection, sid: str, key: str) -> str | None:
    """The first copy's answer, or None while it is still being produced."""
    row = connection.execute(
        select(call_steps.c.response).where(call_steps.c.call_sid == sid, call_steps.c.step == key)
    ).first()
    return row.response if row and row.response else None
