"""The HTTP adapter for a real wallet back end; the API is `docs/wallet-api.yaml`."""

from __future__ import annotations

from typing import Any

import requests

from ivr.wallet import Account, NotCancellable, Transaction, WalletError

TIMEOUT_SECONDS = 2.0


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
        try:
            response = self.session.request(method, self.base_url + path, timeout=limit, **kwargs)
        except requests.RequestException as exc:
            raise WalletError(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code == 409:
            raise NotCancellable(path)
        if response.status_code not in ok:
            raise WalletError(f"{method} {path}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise WalletError(f"{method} {path}: body is not JSON") from exc

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
            return Transaction(
                str(data["reference"]),
                str(data["account"]),
                str(data["status"]),
                str(data["amount"]),
                str(data["currency"]),
                bool(data.get("disputed", False)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise WalletError(f"malformed transaction: {exc}") from exc

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
