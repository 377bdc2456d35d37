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
    connection.execute(
        update(wallet_accounts)
        .where(wallet_accounts.c.account == account_id, wallet_accounts.c.locked.is_(False))
        .values(locked=True, locked_at=now)
    )


def transaction(connection: Connection, reference: str) -> dict[str, Any] | None:
    row = (
        connection.execute(select(wallet_transactions).where(wallet_transactions.c.reference == reference))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def cancel_pending(connection: Connection, reference: str) -> bool:
    """Cancel the transaction if it is still pending, checked in the same statement."""
    changed = connection.execute(
        update(wallet_transactions)
        .where(wallet_transactions.c.reference == reference, wallet_transactions.c.status == "pending")
        .values(status="cancelled")
    ).rowcount
    return bool(changed)


def mark_disputed(connection: Connection, reference: str) -> None:
    connection.execute(
        update(wallet_transactions).where(wallet_transactions.c.reference == reference).values(disputed=True)
    )
