"""Wallet back ends behind one interface: the built-in demo wallet, or HTTP to the real one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

# Every status a transfer can have. `held`: its wallet was locked while it was pending; it
# cannot complete, and it can still be cancelled (CONTRACTS section 7).
STATUSES = ("pending", "held", "completed", "failed", "cancelled")
CANCELLABLE = ("pending", "held")
LATEST = 3  # how many of an account's transactions a caller hears, newest first


class WalletError(Exception):
    """The back end failed or timed out; the caller is offered a person instead."""


class NotCancellable(Exception):
    """The transaction is no longer pending or held."""


@dataclass(frozen=True)
class Account:
    account: str
    username: str
    phone: str  # registered, E.164
    locked: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Transaction:
    reference: str
    account: str
    status: str  # one of STATUSES
    amount: str
    currency: str
    disputed: bool = False
    created_at: datetime | None = None  # aware (UTC); None when the back end does not say

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat() if self.created_at else None
        return data


class Wallet(Protocol):
    """What the IVR asks of a wallet back end. Every method may raise WalletError."""

    def find_by_phone(self, phone: str) -> Account | None: ...

    def get_account(self, account: str) -> Account | None: ...

    def check_pin(self, account: str, pin: str) -> bool: ...

    def lock(self, account: str, reason: str) -> Account:
        """Lock the wallet and, in the same operation, hold its pending outgoing transfers."""
        ...

    def get_transaction(self, reference: str) -> Transaction | None: ...

    def latest_transactions(self, account: str, limit: int = LATEST) -> list[Transaction]:
        """The account's `limit` most recent transactions, newest first ([] for no account)."""
        ...

    def cancel(self, reference: str) -> Transaction:
        """Cancel a pending or held transaction; NotCancellable otherwise (re-checked)."""
        ...

    def open_dispute(self, reference: str, case_reference: str) -> Transaction: ...
