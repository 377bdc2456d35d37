"""Keep a slow or failing wallet back end from slowing every call: a time budget per webhook
and a circuit breaker that skips a back end that keeps failing, for a while."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ivr.wallet import NotCancellable, WalletError

# Seconds of wallet time one webhook may spend in all, whatever the back end does (Twilio gives
# up on a webhook at 15 s; we answer within about 3 s even when the wallet hangs or drips).
WEBHOOK_WALLET_BUDGET = 2.5
_deadline: ContextVar[float | None] = ContextVar("wallet_deadline", default=None)


@contextmanager
def wallet_budget(seconds: float = WEBHOOK_WALLET_BUDGET) -> Iterator[None]:
    """All wallet calls inside share `seconds` of waiting."""
    token = start_budget(seconds)
    try:
        yield
    finally:
        end_budget(token)


def remaining_budget() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


class CircuitBreaker:
    """Closed: calls pass. After `threshold` failures in a row: open, calls fail at once for
    `cooldown` seconds. Then half-open: one call tries; success closes, failure reopens."""

    def __init__(
        self, threshold: int = 3, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold, self.cooldown, self.clock = threshold, cooldown, clock
        self.failures = 0
        self.opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        with self._lock:
            return self.state != "open"

    def record(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self.failures, self.opened_at = 0, None
                return
            self.failures += 1
            if self.failures >= self.threshold or self.opened_at is not None:
                self.opened_at = self.clock()


class GuardedWallet:
    """Any Wallet, behind the webhook's time budget and a circuit breaker."""

    def __init__(
        self,
        wallet: Any,
        breaker: CircuitBreaker | None = None,
        on_call: Callable[[str, float, bool], None] | None = None,
    ) -> None:
        self.wallet = wallet
        self.breaker = breaker or CircuitBreaker()
        self.on_call = on_call  # (operation, seconds, ok): for metrics

    def _guarded(self, name: str) -> Callable[..., Any]:
        operation = getattr(self.wallet, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            left = remaining_budget()
            if left is not None and left <= 0.05:
                raise WalletError(f"{name}: no time left in this webhook")
            if not self.breaker.allow():
                raise WalletError(f"{name}: circuit open")
            started, ok = time.monotonic(), False
            try:
                if _takes_timeout(self.wallet):
                    kwargs["timeout"] = left
                result = operation(*args, **kwargs)
                ok = True
                return result
            except NotCancellable:
                ok = True  # the back end answered; the transaction just is not pending
                raise
            finally:
                self.breaker.record(ok)
                if self.on_call:
                    self.on_call(name, time.monotonic() - started, ok)

        return call

    def __getattr__(self, name: str) -> Any:
        return self._guarded(name)


def _takes_timeout(wallet: Any) -> bool:
    return bool(getattr(wallet, "accepts_timeout", False))


def start_budget(seconds: float = WEBHOOK_WALLET_BUDGET) -> Any:
    """For frameworks with before/after hooks: start the budget, return the token to end it."""
    return _deadline.set(time.monotonic() + seconds)


def end_budget(token: Any) -> None:
    _deadline.reset(token)
