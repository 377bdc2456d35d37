"""The demo wallet: the contract's accounts and transactions, in the IVR's own store."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ivr.store import Store
from ivr.store import wallet as tables
from ivr.wallet import LATEST, Account, NotCancellable, Transaction

ACCOUNTS = [
    ("A-1001", "li.hua", "+8613800138000", "2468"),
    ("A-1002", "amelia.watson", "+447400123456", "1357"),
    ("A-1003", "sam.lee", "+14155550123", "9753"),
    ("A-1004", "tan.wei", "+6591234567", "1122"),
]
TRANSACTIONS = [  # reference, account, status, amount, currency, made this long before seeding
    ("70010001", "A-1001", "completed", "500.00", "USDT", timedelta(days=3)),
    ("70010002", "A-1001", "pending", "120.00", "USDT", timedelta(minutes=20)),
    ("70010003", "A-1001", "failed", "80.00", "USDT", timedelta(days=1)),
    ("70020001", "A-1002", "pending", "0.05", "BTC", timedelta(minutes=10)),
    ("70030001", "A-1003", "completed", "250.00", "USDC", timedelta(days=2)),
]


def hash_pin(account: str, pin: str) -> str:
    """Salted (by account) and stretched, so a copied table does not give PINs away."""
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), f"okwallet:{account}".encode(), 50_000).hex()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DemoWallet:
    """Seeded on first use; reads and writes the store's wallet tables."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = _utc_now) -> None:
        self.store = store
        self.clock = clock
        self._seeded = False

    @staticmethod
    def seed_rows(now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The wallet as first seeded at `now`: the accounts (PINs hashed) and their
        transactions (each made its own while before `now`)."""
        accounts = [
            {"account": a, "username": u, "phone": p, "pin_hash": hash_pin(a, pin), "locked": False}
            for a, u, p, pin in ACCOUNTS
        ]
        transactions = [
            {
                "reference": r,
                "account": a,
                "status": s,
                "amount": m,
                "currency": c,
                "disputed": False,
                "created_at": now - age,
            }
            for r, a, s, m, c, age in TRANSACTIONS
        ]
        return accounts, transactions

    def seed(self) -> None:
        if self._seeded:
            return
        now = self.clock()
        with self.store.begin() as connection:
            tables.seed(connection, *self.seed_rows(now))
        self._seeded = True

    def reset(self) -> tuple[int, int]:
        """Put the wallet back as seeded (after a rehearsal lock): how many accounts, transactions."""
        accounts, transactions = self.seed_rows(self.clock())
        with self.store.begin() as connection:
            tables.reset(connection, accounts, transactions)
        self._seeded = True
        return len(accounts), len(transactions)

    def _run(self, query: Callable[..., Any], *args: Any) -> Any:
        """One query of `ivr.store.wallet` (a read or a write) in its own transaction."""
        self.seed()
        return self.store.run(query, *args)

    @staticmethod
    def _account(row: Any) -> Account | None:
        if row is None:
            return None
        return Account(row["account"], row["username"], row["phone"], bool(row["locked"]))

    @staticmethod
    def _transaction(row: Any) -> Transaction | None:
        if row is None:
            return None
        return Transaction(
            row["reference"],
            row["account"],
            row["status"],
            row["amount"],
            row["currency"],
            bool(row["disputed"]),
            row["created_at"],
        )

    def find_by_phone(self, phone: str) -> Account | None:
        return self._account(self._run(tables.account_by_phone, phone))

    def get_account(self, account: str) -> Account | None:
        return self._account(self._run(tables.account, account))

    def check_pin(self, account: str, pin: str) -> bool:
        row = self._run(tables.account, account)
        typed = hash_pin(account, pin)  # hashed whether or not the account exists: same time
        return row is not None and hmac.compare_digest(row["pin_hash"], typed)

    def lock(self, account: str, reason: str) -> Account:
        """The lock and the hold on its pending transfers commit together, or not at all."""
        self._run(tables.lock, account, self.clock())
        found = self.get_account(account)
        if found is None:
            raise KeyError(account)
        return found

    def get_transaction(self, reference: str) -> Transaction | None:
        return self._transaction(self._run(tables.transaction, reference))

    def latest_transactions(self, account: str, limit: int = LATEST) -> list[Transaction]:
        rows = self._run(tables.latest_transactions, account, limit)
        return [t for t in map(self._transaction, rows) if t is not None]

    def complete(self, reference: str) -> bool:
        """The back end settling a transfer (demo only): True when it completed; a held one
        does not."""
        return bool(self._run(tables.complete_pending, reference))

    def cancel(self, reference: str) -> Transaction:
        if not self._run(tables.cancel_pending, reference):
            raise NotCancellable(reference)
        found = self.get_transaction(reference)
        assert found is not None
        return found

    def open_dispute(self, reference: str, case_reference: str) -> Transaction:
        self._run(tables.mark_disputed, reference)
        found = self.get_transaction(reference)
        if found is None:
            raise KeyError(reference)
        return found
