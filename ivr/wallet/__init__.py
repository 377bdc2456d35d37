"""Wallet back ends behind one interface: the built-in demo wallet, or HTTP to the real one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol


class WalletError(Exception):
    """The back end failed or timed out; the caller is offered a person instead."""


class NotCancellable(Exception):
    """The transaction is no longer pending."""


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
    status: str  # pending | completed | failed | cancelled
    amount: str
    currency: str
    disputed: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Wallet(Protocol):
    """What the IVR asks of a wallet back end. Every method may raise WalletError."""

    def find_by_phone(self, phone: str) -> Account | None: ...

    def get_account(self, account: str) -> Account | None: ...

    def check_pin(self, account: str, pin: str) -> bool: ...

    def lock(self, account: str, reason: str) -> Account: ...

    def get_transaction(self, reference: str) -> Transaction | None: ...

    def cancel(self, reference: str) -> Transaction:
        """Cancel a pending transaction; NotCancellable when it is not pending (re-checked)."""
        ...

    def open_dispute(self, reference: str, case_reference: str) -> Transaction: ...
