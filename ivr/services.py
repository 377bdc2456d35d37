"""The narrow services a call step is handed: each owns one thing the store keeps, opens its
own transaction (one unit of work per use), and knows nothing of HTTP, menus or the rest."""

from __future__ import annotations

import hashlib
import hmac
import secrets as random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from ivr.agentline import AgentLine
from ivr.store import Store, limits, steps
from ivr.store import callbacks as callback_rows
from ivr.store import cases as case_rows
from ivr.store import secrets as secret_rows
from ivr.store.cases import CaseExists as CaseExists

CODE_LIFETIME = timedelta(minutes=5)
TRIES_PER_CODE = 3
RESET_LINK_LIFETIME = timedelta(minutes=30)
REPLAY_WAIT_SECONDS = 5.0  # a duplicate webhook waits this long for the first copy's answer


class CallOver(Exception):
    """A step of a call that is over (ended, or older than any call lasts): it acts never."""


class Digest:
    """Keyed hashes for codes, tokens and typed keys: useless to whoever copies a table."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(f"okwallet-ivr:{secret}".encode()).digest()

    def __call__(self, *parts: str) -> str:
        return hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


class Cases:
    """Lockdowns, disputes, callbacks and voicemails."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def open(self, **fields: Any) -> str:
        """Store a case (committed before this returns); its reference. CaseExists when a
        case the rules allow once is already open."""
        return self.store.run(case_rows.open_case, **fields)

    def find(self, reference: str) -> dict[str, Any] | None:
        return self.store.run(case_rows.find_case, reference)

    def callbacks_waiting(self, region: str, theft_only: bool = False) -> int:
        """Callbacks waiting in `region` (ahead of a new one; `theft_only`: of a theft one)."""
        found = self.store.run(callback_rows.waiting_by_region, theft_only).get(region)
        return found[0] if found else 0

    def prioritise_callback(self, number: str) -> bool:
        """Move the callback waiting for `number` ahead, with theft priority."""
        return self.store.run(callback_rows.prioritise_waiting, number)

    def callback_leg(self, reference: str, call_sid: str, now: datetime) -> None:
        """A leg of the callback's attempt in progress, by its Call SID."""
        self.store.run(callback_rows.add_leg, reference, call_sid, now)

    def callback_outcome(self, reference: str, result: str, now: datetime, *, connected: bool) -> str | None:
        """The attempt in progress ended (`result`); the case's new status, once per attempt."""
        from ivr.callbacks import MAX_ATTEMPTS, RETRY_SPACING

        return self.store.run(
            callback_rows.finish_attempt,
            reference,
            result,
            now,
            connected=connected,
            max_attempts=MAX_ATTEMPTS,
            spacing=RETRY_SPACING,
        )


class Limits:
    """Attempt limits (wrong PINs, texts, codes), counted in the store for every server."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def claim(self, kind: str, subject: str, now: datetime) -> int | None:
        return self.store.run(limits.claim, kind, subject, now)

    def release(self, attempt: int) -> None:
        self.store.run(limits.release, attempt)


class Codes:
    """One-time codes (6 digits, 5 minutes, 3 tries) and single-use reset links."""

    def __init__(self, store: Store, digest: Digest, reset_url: Callable[[], str]) -> None:
        self.store, self.digest, self.reset_url = store, digest, reset_url

    def issue_code(self, account: str, call_sid: str, now: datetime) -> str:
        """A new code for `account` in this call; only its hash is kept."""
        code = f"{random.randbelow(1_000_000):06d}"
        code_hash = self.digest("code", account, code)
        self.store.run(secret_rows.add_code, account, call_sid, code_hash, now, now + CODE_LIFETIME)
        return code

    def check_code(self, account: str, call_sid: str, typed: str, now: datetime) -> bool:
        """The latest code sent in this call: unexpired, unused, fewer than 3 tries."""

        def check(connection: Connection) -> bool:
            row = secret_rows.latest_code(connection, account, call_sid)
            if row is None or row["used"] or row["tries"] >= TRIES_PER_CODE or row["expires_at"] <= now:
                return False
            right = hmac.compare_digest(row["code_hash"], self.digest("code", account, typed))
            return secret_rows.count_try(connection, row["id"], row["tries"], right) and right

        return self.store.run(check)

    def issue_reset_link(self, account: str, now: datetime) -> str:
        """A single-use reset link; only the token's hash is kept."""
        token = random.token_urlsafe(24)
        token_hash = self.digest("reset", token)
        self.store.run(secret_rows.add_reset_token, token_hash, account, now, now + RESET_LINK_LIFETIME)
        return self.reset_url().format(token=token)

    def redeem_reset_token(self, token: str, now: datetime) -> str | None:
        """The account a reset token belongs to, once: for the wallet's reset page to call."""
        return self.store.run(secret_rows.redeem_reset_token, self.digest("reset", token), now)


class CallStates:
    """What each call has proved and typed, and the answers of steps with effects."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, sid: str) -> dict[str, Any]:
        return self.store.run(steps.load_state, sid)

    def save(self, sid: str, data: Mapping[str, Any], now: datetime) -> bool:
        """False when the call has ended: nothing is kept for it any more."""
        return self.store.run(steps.save_state, sid, data, now)

    def once(
        self,
        sid: str,
        key: str,
        now: datetime,
        produce: Callable[[], str],
        after_end: timedelta = timedelta(0),
    ) -> str:
        """Run `produce` once per (call, step); a repeat of the same webhook gets its answer.
        Nothing runs for a call that is over (`CallOver`): a captured request replayed after
        its step record was purged acts never. `after_end` lets a step Twilio sends after the
        call (a recording's callback) act that long after the end."""
        key = key[:255]

        def claim(connection: Connection) -> bool:
            if steps.call_over(connection, sid, now, after_end):
                raise CallOver(sid)
            return steps.claim_step(connection, sid, key, now)

        if not self.store.run(claim):
            return self._replay(sid, key)
        try:
            answer = produce()
        except BaseException:
            self.store.run(steps.release_step, sid, key)
            raise
        self.store.run(steps.finish_step, sid, key, answer)
        return answer

    def _replay(self, sid: str, key: str) -> str:
        """The first copy's answer, waiting briefly while it is still being produced."""
        deadline = time.monotonic() + REPLAY_WAIT_SECONDS
        while True:
            answer = self.store.run(steps.stored_answer, sid, key)
            if answer:
                return answer
            if time.monotonic() > deadline:
                raise RuntimeError("duplicate webhook: first copy still running")
            time.sleep(0.05)


@dataclass(frozen=True)
class Services:
    """Everything a call step may use, built once by the runtime."""

    wallet: Any  # ivr.wallet.Wallet, behind its guard
    texts: Any  # ivr.sms.SmsSender
    cases: Cases
    limits: Limits
    codes: Codes
    states: CallStates
    digest: Digest
    events: Any  # ivr.runtime.Events: what happened, for metrics and the call's journey
    line: AgentLine  # calls the IVR places itself (hold); unavailable without TWILIO_ACCOUNT_SID
