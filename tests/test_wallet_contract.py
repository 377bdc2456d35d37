"""One contract that both wallet back ends pass: the demo wallet and the HTTP adapter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from flask import Flask, Response

from ivr.store import Store
from ivr.wallet import NotCancellable, Wallet, WalletError
from ivr.wallet.demo import DemoWallet
from ivr.wallet.http import MAX_BODY_BYTES, HttpWallet
from tests.wallet_server import TOKEN, serving, wallet_api


class BrokenWallet:
    """A back end that is down: every call fails."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise WalletError(f"{name}: connection refused")

        return fail


@pytest.fixture(params=["demo", "http"])
def wallet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Wallet]:
    demo = DemoWallet(Store(f"sqlite:///{tmp_path / 'wallet.sqlite3'}"))
    if request.param == "demo":
        yield demo
        return
    with serving(wallet_api(demo)) as url:
        yield HttpWallet(url, TOKEN)


def test_find_by_phone(wallet: Wallet) -> None:
    account = wallet.find_by_phone("+8613800138000")
    assert account is not None
    assert (account.account, account.username, account.phone, account.locked) == (
        "A-1001",
        "li.hua",
        "+8613800138000",
        False,
    )
    assert wallet.find_by_phone("+8613900139000") is None


def test_every_demo_account(wallet: Wallet) -> None:
    found = {
        p: wallet.find_by_phone(p) for p in ("+8613800138000", "+447400123456", "+14155550123", "+6591234567")
    }
    assert {p: (a.account, a.username) for p, a in found.items() if a} == {
        "+8613800138000": ("A-1001", "li.hua"),
        "+447400123456": ("A-1002", "amelia.watson"),
        "+14155550123": ("A-1003", "sam.lee"),
        "+6591234567": ("A-1004", "tan.wei"),
    }


def test_check_pin(wallet: Wallet) -> None:
    assert wallet.check_pin("A-1001", "2468") is True
    assert wallet.check_pin("A-1001", "2469") is False
    assert wallet.check_pin("A-1004", "1122") is True


def test_lock_is_idempotent(wallet: Wallet) -> None:
    assert wallet.lock("A-1003", "theft").locked is True
    assert wallet.lock("A-1003", "theft").locked is True
    assert wallet.get_account("A-1003").locked is True  # type: ignore[union-attr]
    assert wallet.get_account("A-1004").locked is False  # type: ignore[union-attr]


def test_lock_holds_the_pending_transfers_of_that_wallet_only(wallet: Wallet) -> None:
    wallet.lock("A-1002", "theft")
    assert wallet.get_transaction("70020001").status == "held"  # type: ignore[union-attr]
    assert wallet.get_transaction("70010002").status == "pending"  # type: ignore[union-attr]
    wallet.lock("A-1001", "theft")
    statuses = {r: wallet.get_transaction(r).status for r in ("70010001", "70010002", "70010003")}  # type: ignore[union-attr]
    assert statuses == {"70010001": "completed", "70010002": "held", "70010003": "failed"}


def test_a_held_transfer_can_still_be_cancelled(wallet: Wallet) -> None:
    wallet.lock("A-1002", "theft")
    assert wallet.cancel("70020001").status == "cancelled"
    with pytest.raises(NotCancellable):
        wallet.cancel("70020001")


def test_latest_transactions_newest_first(wallet: Wallet) -> None:
    latest = wallet.latest_transactions("A-1001")
    assert [(t.reference, t.status) for t in latest] == [
        ("70010002", "pending"),
        ("70010003", "failed"),
        ("70010001", "completed"),
    ]
    assert all(t.created_at is not None and t.created_at.utcoffset() is not None for t in latest)
    assert [t.reference for t in wallet.latest_transactions("A-1001", limit=1)] == ["70010002"]
    assert wallet.latest_transactions("A-9999") == []


def test_transactions(wallet: Wallet) -> None:
    table = {
        r: wallet.get_transaction(r) for r in ("70010001", "70010002", "70010003", "70020001", "70030001")
    }
    assert {r: (t.account, t.status, t.amount, t.currency) for r, t in table.items() if t} == {
        "70010001": ("A-1001", "completed", "500.00", "USDT"),
        "70010002": ("A-1001", "pending", "120.00", "USDT"),
        "70010003": ("A-1001", "failed", "80.00", "USDT"),
        "70020001": ("A-1002", "pending", "0.05", "BTC"),
        "70030001": ("A-1003", "completed", "250.00", "USDC"),
    }
    assert wallet.get_transaction("99999999") is None


def test_cancel_only_pending(wallet: Wallet) -> None:
    assert wallet.cancel("70020001").status == "cancelled"
    with pytest.raises(NotCancellable):
        wallet.cancel("70020001")
    with pytest.raises(NotCancellable):
        wallet.cancel("70010001")
    assert wallet.get_transaction("70010001").status == "completed"  # type: ignore[union-attr]


def test_open_dispute(wallet: Wallet) -> None:
    assert wallet.open_dispute("70010003", "12345678").disputed is True


def test_a_held_transfer_never_completes(tmp_path: Path) -> None:
    """The demo back end's settlement: a pending transfer goes through, a held one does not."""
    demo = DemoWallet(Store(f"sqlite:///{tmp_path / 'settle.sqlite3'}"))
    demo.lock("A-1002", "theft")
    assert demo.complete("70020001") is False
    assert demo.get_transaction("70020001").status == "held"  # type: ignore[union-attr]
    assert demo.complete("70010002") is True
    assert demo.get_transaction("70010002").status == "completed"  # type: ignore[union-attr]


def test_http_adapter_refuses_a_status_it_cannot_say(tmp_path: Path) -> None:
    odd = Flask("odd")
    body = {"reference": "1", "account": "A", "status": "frozen", "amount": "1", "currency": "X"}
    odd.add_url_rule("/transactions/<reference>", "txn", lambda reference: body)
    with serving(odd) as url, pytest.raises(WalletError, match="status 'frozen'"):
        HttpWallet(url, TOKEN).get_transaction("1")


def test_http_adapter_times_out_after_its_limit(tmp_path: Path) -> None:
    demo = DemoWallet(Store(f"sqlite:///{tmp_path / 'slow.sqlite3'}"))
    with serving(wallet_api(demo, delay=1.0)) as url:
        wallet = HttpWallet(url, TOKEN, timeout=0.2)
        started = time.monotonic()
        with pytest.raises(WalletError, match=r"no answer within 0\.2 s"):
            wallet.find_by_phone("+8613800138000")
        assert time.monotonic() - started < 0.9


def test_http_adapter_says_the_same_when_the_socket_times_out_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """The socket's own timeout in the request thread can beat the deadline by a hair; the
    caller's log then said 'ReadTimeout' one run in a few and 'no answer' the rest."""
    wallet = HttpWallet("http://127.0.0.1:9", TOKEN, timeout=0.2)

    def socket_timeout(*args: Any) -> tuple[int, bytes]:
        raise requests.ReadTimeout("read timed out")

    monkeypatch.setattr(wallet, "_request", socket_timeout)
    with pytest.raises(WalletError, match=r"^GET /accounts: no answer within 0\.2 s$"):
        wallet.find_by_phone("+8613800138000")


def test_http_adapter_refuses_an_answer_over_its_size_cap() -> None:
    huge = Flask("huge")
    huge.add_url_rule("/accounts", "accounts", lambda: Response(b"[" + b"0," * MAX_BODY_BYTES + b"0]"))
    with serving(huge) as url, pytest.raises(WalletError, match=r"^GET /accounts: answer over 1024 KiB$"):
        HttpWallet(url, TOKEN).find_by_phone("+8613800138000")


def test_http_adapter_wrong_token_and_down(tmp_path: Path) -> None:
    demo = DemoWallet(Store(f"sqlite:///{tmp_path / 'auth.sqlite3'}"))
    with serving(wallet_api(demo)) as url, pytest.raises(WalletError, match="HTTP 401"):
        HttpWallet(url, "wrong").find_by_phone("+8613800138000")
    with pytest.raises(WalletError, match="ConnectionError"):
        HttpWallet(url, TOKEN).find_by_phone("+8613800138000")


def test_the_openapi_file_describes_every_operation() -> None:
    spec = yaml.safe_load((Path(__file__).resolve().parent.parent / "docs" / "wallet-api.yaml").read_text())
    operations = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert operations == {
        ("GET", "/accounts"),
        ("GET", "/accounts/{account}"),
        ("POST", "/accounts/{account}/pin-check"),
        ("POST", "/accounts/{account}/lock"),
        ("GET", "/accounts/{account}/transactions"),
        ("GET", "/transactions/{reference}"),
        ("POST", "/transactions/{reference}/cancel"),
        ("POST", "/transactions/{reference}/disputes"),
    }
