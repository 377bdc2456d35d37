"""The HTTP adapter for a real wallet back end; the API is `docs/wallet-api.yaml`."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Any

import requests

from ivr.wallet import LATEST, STATUSES, Account, NotCancellable, Transaction, WalletError

TIMEOUT_SECONDS = 2.0  # the whole of one request, however the back end drips its answer
MAX_BODY_BYTES = 1024 * 1024
# Requests run here so the webhook waits for a deadline, not for each socket read: a back end
# that sends one byte a second would otherwise hold a call for minutes.
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ivr-wallet")


class HttpWallet:
    """JSON over HTTPS with a bearer token; any failure or timeout is a WalletError."""

    accepts_timeout = True  # each operation takes `timeout=`: what is left of the webhook's budget

    def __init__(self, base_url: str, token: str | None = None, timeout: float = TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _call(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200,),
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """The decoded body, None on 404; WalletError on anything unexpected."""
        limit = self.timeout if timeout is None else max(0.05, min(self.timeout, timeout))
        deadline = time.monotonic() + limit
        future = _POOL.submit(self._request, method, path, deadline, kwargs)
        try:
            status, body = future.result(timeout=limit)
        except (FutureTimeout, requests.Timeout):
            # Whichever notices first, the deadline here or the socket's own timeout in the
            # request thread, it is the same event for the caller and for the log.
            raise WalletError(f"{method} {path}: no answer within {limit:.1f} s") from None
        except requests.RequestException as exc:
            raise WalletError(f"{method} {path}: {type(exc).__name__}") from exc
        if status == 404:
            return None
        if status == 409:
            raise NotCancellable(path)
        if status not in ok:
            raise WalletError(f"{method} {path}: HTTP {status}")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise WalletError(f"{method} {path}: body is not JSON") from exc

    def _request(self, method: str, path: str, deadline: float, kwargs: dict[str, Any]) -> tuple[int, bytes]:
        """One request, read in chunks and abandoned at the deadline (the thread never lingers
        on a back end that drips its body)."""
        left = max(0.05, deadline - time.monotonic())
        with self.session.request(
            method, self.base_url + path, timeout=left, stream=True, **kwargs
        ) as response:
            chunks, size = [], 0
            for chunk in response.iter_content(4096):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise WalletError(f"{method} {path}: answer over {MAX_BODY_BYTES // 1024} KiB")
                if time.monotonic() > deadline:
                    raise requests.Timeout("wallet answer too slow")
            return response.status_code, b"".join(chunks)

    @staticmethod
    def _account(data: Any) -> Account | None:
        if data is None:
            return None
        try:
            return Account(
                str(data["account"]), str(data["username"]), str(data["phone"]), bool(data["locked"])
            )
        except (KeyError, TypeError) as exc:
            raise WalletError(f"malformed account: {exc}") from exc

    @staticmethod
    def _transaction(data: Any) -> Transaction | None:
        if data is None:
            return None
        try:
            made = data.get("created_at")
            transaction = Transaction(
                str(data["reference"]),
                str(data["account"]),
                str(data["status"]),
                str(data["amount"]),
                str(data["currency"]),
                bool(data.get("disputed", False)),
                datetime.fromisoformat(made) if made else None,
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise WalletError(f"malformed transaction: {exc}") from exc
        if transaction.status not in STATUSES:  # a status the IVR would not know how to say
            raise WalletError(f"malformed transaction: status {transaction.status!r}")
        if transaction.created_at is not None and transaction.created_at.tzinfo is None:
            raise WalletError("malformed transaction: created_at without an offset")
        return transaction

    def find_by_phone(self, phone: str, timeout: float | None = None) -> Account | None:
        return self._account(self._call("GET", "/accounts", params={"phone": phone}, timeout=timeout))

    def get_account(self, account: str, timeout: float | None = None) -> Account | None:
        return self._account(self._call("GET", f"/accounts/{account}", timeout=timeout))

    def check_pin(self, account: str, pin: str, timeout: float | None = None) -> bool:
        data = self._call("POST", f"/accounts/{account}/pin-check", json={"pin": pin}, timeout=timeout)
        return bool(data and data.get("valid") is True)

    def lock(self, account: str, reason: str, timeout: float | None = None) -> Account:
        found = self._account(
            self._call("POST", f"/accounts/{account}/lock", json={"reason": reason}, timeout=timeout)
        )
        if found is None:
            raise WalletError(f"lock {account}: not found")
        return found

    def get_transaction(self, reference: str, timeout: float | None = None) -> Transaction | None:
        return self._transaction(self._call("GET", f"/transactions/{reference}", timeout=timeout))

    def latest_transactions(
        self, account: str, limit: int = LATEST, timeout: float | None = None
    ) -> list[Transaction]:
        data = self._call(
            "GET", f"/accounts/{account}/transactions", params={"limit": limit}, timeout=timeout
        )
        if data is None:
            return []
        try:
            rows = list(data["transactions"])[:limit]
        except (KeyError, TypeError) as exc:
            raise WalletError(f"malformed transaction list: {exc}") from exc
        return [t for t in map(self._transaction, rows) if t is not None]

    def cancel(self, reference: str, timeout: float | None = None) -> Transaction:
        found = self._transaction(self._call("POST", f"/transactions/{reference}/cancel", timeout=timeout))
        if found is None:
            raise WalletError(f"cancel {reference}: not found")
        return found

    def open_dispute(self, reference: str, case_reference: str, timeout: float | None = None) -> Transaction:
        found = self._transaction(
            self._call(
                "POST",
                f"/transactions/{reference}/disputes",
                ok=(200, 201),
                json={"case_reference": case_reference},
            )
        )
        if found is None:
            raise WalletError(f"dispute {reference}: not found")
        return found
