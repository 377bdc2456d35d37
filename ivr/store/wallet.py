"""The demo wallet's tables: the contract's accounts and transactions, in the IVR's own store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ivr.store.tables import wallet_accounts, wallet_transactions


def seed(
    connection: Connection, accounts: Iterable[dict[str, Any]], transactions: Iterable[dict[str, Any]]
) -> None:
    """Fill empty wallet tables; a store another server seeded first is left alone."""
    if connection.execute(select(wallet_accounts.c.account).limit(1)).first() is not None:
        return
    try:
        with connection.begin_nested():
            connection.execute(insert(wallet_accounts), list(accounts))
            connection.execute(insert(wallet_transactions), list(transactions))
    except IntegrityError:
        pass


def reset(
    connection: Connection, accounts: Iterable[dict[str, Any]], transactions: Iterable[dict[str, Any]]
) -> None:
    """Replace every wallet row with the seed: one transaction, so a reader sees old or new."""
    connection.execute(delete(wallet_transactions))
    connection.execute(delete(wallet_accounts))
    connection.execute(insert(wallet_accounts), list(accounts))
    connection.execute(insert(wallet_transactions), list(transactions))


def account_by_phone(connection: Connection, phone: str) -> dict[str, Any] | None:
    row = (
        connection.execute(select(wallet_accounts).where(wallet_accounts.c.phone == phone)).mappings().first()
    )
    return dict(row) if row else None


def account(connection: Connection, account_id: str) -> dict[str, Any] | None:
    row = (
        connection.execute(select(wallet_accounts).where(wallet_accounts.c.account == account_id))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def lock(connection: Connection, account_id: str, now: datetime) -> None:
    """Lock the account and hold its pending transfers, in the caller's one transaction."""
    connection.execute(
        update(wallet_accounts)
        .where(wallet_accounts.c.account == account_id, wallet_accounts.c.locked.is_(False))
        .values(locked=True, locked_at=now)
    )
    connection.execute(
        update(wallet_transactions)
        .where(wallet_transactions.c.account == account_id, wallet_transactions.c.status == "pending")
        .values(status="held")
    )


def transaction(connection: Connection, reference: str) -> dict[str, Any] | None:
    row = (
        connection.execute(select(wallet_transactions).where(wallet_transactions.c.reference == reference))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def latest_transactions(connection: Connection, account_id: str, limit: int) -> list[dict[str, Any]]:
    """The account's newest transactions first (the reference breaks a tie; undated ones last)."""
    table = wallet_transactions.c
    rows = connection.execute(
        select(wallet_transactions)
        .where(table.account == account_id)
        .order_by(table.created_at.desc().nulls_last(), table.reference.desc())
        .limit(limit)
    ).mappings()
    return [dict(row) for row in rows]


def _move(connection: Connection, reference: str, before: tuple[str, ...], after: str) -> bool:
    """Change the status if it is still one of `before`, checked in the same statement."""
    changed = connection.execute(
        update(wallet_transactions)
        .where(wallet_transactions.c.reference == reference, wallet_transactions.c.status.in_(before))
        .values(status=after)
    ).rowcount
    return bool(changed)


def cancel_pending(connection: Connection, reference: str) -> bool:
    """Cancel the transaction if it is still pending or held."""
    return _move(connection, reference, ("pending", "held"), "cancelled")


def complete_pending(connection: Connection, reference: str) -> bool:
    """Settle the transaction if it is pending: a held one (its wallet locked) never completes."""
    return _move(connection, reference, ("pending",), "completed")


def mark_disputed(connection: Connection, reference: str) -> None:
    connection.execute(
        update(wallet_transactions).where(wallet_transactions.c.reference == reference).values(disputed=True)
    )
