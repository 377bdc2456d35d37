"""One-time codes and password-reset tokens: only keyed hashes are kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from ivr.store.tables import one_time_codes, reset_tokens


def add_code(
    connection: Connection, account: str, call_sid: str, code_hash: str, now: datetime, expires_at: datetime
) -> None:
    connection.execute(
        insert(one_time_codes).values(
            account=account,
            call_sid=call_sid,
            code_hash=code_hash,
            created_at=now,
            expires_at=expires_at,
            tries=0,
            used=False,
        )
    )


def latest_code(connection: Connection, account: str, call_sid: str) -> dict[str, Any] | None:
    """The last code sent to `account` in this call."""
    row = (
        connection.execute(
            select(one_time_codes)
            .where(one_time_codes.c.account == account, one_time_codes.c.call_sid == call_sid)
            .order_by(one_time_codes.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def count_try(connection: Connection, code_id: int, tries_seen: int, right: bool) -> bool:
    """Count one try of a code, only if no other try got in since it was read (a duplicate
    webhook): each try counts once. True when this try was the one counted."""
    counted = connection.execute(
        update(one_time_codes)
        .where(
            one_time_codes.c.id == code_id,
            one_time_codes.c.tries == tries_seen,
            one_time_codes.c.used.is_(False),
        )
        .values(tries=tries_seen + 1, used=right)
    ).rowcount
    return counted == 1


def add_reset_token(
    connection: Connection, token_hash: str, account: str, now: datetime, expires_at: datetime
) -> None:
    connection.execute(
        insert(reset_tokens).values(
            token_hash=token_hash, account=account, created_at=now, expires_at=expires_at
        )
    )


def redeem_reset_token(connection: Connection, token_hash: str, now: datetime) -> str | None:
    """The account a live, unused token belongs to, spending it; else None."""
    row = (
        connection.execute(select(reset_tokens).where(reset_tokens.c.token_hash == token_hash))
        .mappings()
        .first()
    )
    if row is None or row["used_at"] is not None or row["expires_at"] <= now:
        return None
    claimed = connection.execute(
        update(reset_tokens)
        .where(reset_tokens.c.token_hash == token_hash, reset_tokens.c.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    return str(row["account"]) if claimed else None
