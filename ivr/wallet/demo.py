"""The demo wallet: the contract's accounts and transactions, in the IVR's own store."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ivr.store import Store, utcnow, wallet_accounts, wallet_transactions
from ivr.wallet import Account, NotCancellable, Transaction

ACCOUNTS = [
    ("A-1001", "li.hua", "+8613800138000", "2468"),
    ("A-1002", "amelia.watson", "+447400123456", "1357"),
    ("A-1003", "sam.lee", "+14155550123", "9753"),
    ("A-1004", "tan.wei", "+6591234567", "1122"),
]
TRANSACTIONS = [
    ("70010001", "A-1001", "completed", "500.00", "USDT"),
    ("70010002", "A-1001", "pending", "120.00", "USDT"),
    ("70010003", "A-1001", "failed", "80.00", "USDT"),
    ("70020001", "A-1002", "pending", "0.05", "BTC"),
    ("70030001", "A-1003", "completed", "250.00", "USDC"),
]


def hash_pin(account: str, pin: str) -> str:
    """Salted (by account) and stretched, so a copied table does not give PINs away."""
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), f"okwallet:{account}".encode(), 50_000).hex()


class DemoWallet:
    """Seeded on first use; reads and writes the store's wallet tables."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._seeded = False

    def seed(self) -> None:
        if self._seeded:
            return
        with self.store.begin() as connection:
            if connection.execute(select(wallet_accounts.c.account).limit(1)).first() is None:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            insert(wallet_accounts),
                            [
                                {
                                    "account": a,
                                    "username": u,
                                    "phone": p,
                                    "pin_hash": hash_pin(a, pin),
                                    "locked": False,
                                }
                                for a, u, p, pin in ACCOUNTS
                            ],
                        )
                        connection.execute(
                            insert(wallet_transactions),
                            [
                                {
                                    "reference": r,
                                    "account": a,
                                    "status": s,
                                    "amount": m,
                                    "currency": c,
                                    "disputed": False,
                                }
                                for r, a, s, m, c in TRANSACTIONS
                            ],
                        )
                except IntegrityError:
                    pass  # another server seeded it first
        self._seeded = True

    def _account(self, row: Any) -> Account | None:
        if row is None:
            return None
        return Account(row["account"], row["username"], row["phone"], bool(row["locked"]))

    def find_by_phone(self, phone: str) -> Account | None:
        self.seed()
        return self._account(self.store.one(select(wallet_accounts).where(wallet_accounts.c.phone == phone)))

    def get_account(self, account: str) -> Account | None:
        self.seed()
        return self._account(
            self.store.one(select(wallet_accounts).where(wallet_accounts.c.account == account))
        )

    def check_pin(self, account: str, pin: str) -> bool:
        self.seed()
        row = self.store.one(select(wallet_accounts.c.pin_hash).where(wallet_accounts.c.account == account))
        typed = hash_pin(account, pin)  # hashed whether or not the account exists: same time
        return row is not None and hmac.compare_digest(row["pin_hash"], typed)

    def lock(self, account: str, reason: str) -> Account:
        self.seed()
        with self.store.begin() as connection:
            connection.execute(
                update(wallet_accounts)
                .where(wallet_accounts.c.account == account, wallet_accounts.c.locked.is_(False))
                .values(locked=True, locked_at=utcnow())
            )
        found = self.get_account(account)
        if found is None:
            raise KeyError(account)
        return found

    def _transaction(self, row: Any) -> Transaction | None:
        if row is None:
            return None
        return Transaction(
            row["reference"],
            row["account"],
            row["status"],
            row["amount"],
            row["currency"],
            bool(row["disputed"]),
        )

    def get_transaction(self, reference: str) -> Transaction | None:
        self.seed()
        return self._transaction(
            self.store.one(select(wallet_transactions).where(wallet_transactions.c.reference == reference))
        )

    def cancel(self, reference: str) -> Transaction:
        self.seed()
        with self.store.begin() as connection:
            # The state is re-checked in the same statement that changes it.
            changed = connection.execute(
                update(wallet_transactions)
                .where(
                    wallet_transactions.c.reference == reference, wallet_transactions.c.status == "pending"
                )
                .values(status="cancelled")
            ).rowcount
        if not changed:
            raise NotCancellable(reference)
        found = self.get_transaction(reference)
        assert found is not None
        return found

    def open_dispute(self, reference: str, case_reference: str) -> Transaction:
        self.seed()
        with self.store.begin() as connection:
            connection.execute(
                update(wallet_transactions)
                .where(wallet_transactions.c.reference == reference)
                .values(disputed=True)
            )
        found = self.get_transaction(reference)
        if found is None:
            raise KeyError(reference)
        return found
