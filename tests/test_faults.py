"""Faults: a slow or dead wallet, a store that goes away, SMS provider errors, bad config edits."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from ivr import StartupError, create_app
from ivr.store import Store
from ivr.wallet.demo import DemoWallet
from ivr.wallet.guard import CircuitBreaker
from ivr.wallet.http import HttpWallet
from tests.conftest import POSTGRES_SKIP, TOKEN, Clock, Phone, stored_cases
from tests.netproxy import Proxy
from tests.test_sms import ACCOUNT_SID, FakeTwilioHttp
from tests.test_store import reset_postgres
from tests.wallet_server import TOKEN as WALLET_TOKEN
from tests.wallet_server import serving, wallet_api

POSTGRES_URL = os.environ.get("IVR_TEST_POSTGRES_URL")
FRAUD_DESK = "+442079460001"


def test_circuit_breaker_opens_after_three_failures_and_half_opens_after_cooldown() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown=30, clock=lambda: now[0])
    for _ in range(2):
        breaker.record(False)
    assert breaker.state == "closed" and breaker.allow()
    breaker.record(False)
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 30.0
    assert breaker.state == "half-open" and breaker.allow()
    breaker.record(False)  # the trial failed: open again for a full cooldown
    assert breaker.state == "open"
    now[0] = 60.0
    breaker.record(True)
    assert breaker.state == "closed"


@pytest.fixture
def slow_wallet(tmp_path: Path) -> Iterator[str]:
    demo = DemoWallet(Store(f"sqlite:///{tmp_path / 'slow.sqlite3'}"))
    with serving(wallet_api(demo, delay=1.8)) as url:
        yield url
    demo.store.dispose()


def test_a_slow_wallet_still_answers_every_webhook_within_3_seconds(
    app_factory: Any, slow_wallet: str
) -> None:
    app = app_factory(WALLET=HttpWallet(slow_wallet, WALLET_TOKEN))
    phone = Phone(app.test_client())
    phone.keys("3")
    started = time.monotonic()
    answer = phone.press("1")
    assert time.monotonic() - started < 3.0
    assert answer.dialed == [FRAUD_DESK]
    [case] = stored_cases(app.extensions["ivr"])
    assert case["outcome"] == "lock_failed"  # the request is kept for the fraud desk
    started = time.monotonic()
    other = Phone(app.test_client(), sid="CA2")
    other.keys("2")
    assert time.monotonic() - started < 3.0 + 0.5  # /voice plus the slow step


def test_a_failing_wallet_is_skipped_by_the_circuit_breaker(app_factory: Any, tmp_path: Path) -> None:
    demo = DemoWallet(Store(f"sqlite:///{tmp_path / 'down.sqlite3'}"))
    api = wallet_api(demo)
    hits = []

    @api.before_request
    def fail() -> Any:
        hits.append(1)
        return "down", 503

    with serving(api) as url:
        app = app_factory(WALLET=HttpWallet(url, WALLET_TOKEN))
        for n in range(5):
            answer = Phone(app.test_client(), sid=f"CA{n}").keys("1", "1")
            assert "暂时无法连接钱包系统" in answer.text and answer.dialed == ["+864008200000"]
    assert len(hits) == 3  # after three failures the wallet was not called again
    demo.store.dispose()


def test_the_server_starts_and_answers_with_the_store_unreachable(app_factory: Any, tmp_path: Path) -> None:
    app = app_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'missing' / 'folder' / 'ivr.sqlite3'}")
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    phone = Phone(client, faults=True)
    menu = phone.call()
    assert "手机丢了或被盗，请按3" in menu.text  # routing and hours need no store
    assert phone.press("3").gather_action.startswith("/voice/menu/lockdown")
    locked = phone.press("1")
    assert locked.dialed == [FRAUD_DESK] and "非常抱歉" in locked.text  # apology, then the fraud desk


def proxied_postgres() -> tuple[Proxy, str]:
    """A fresh PostgreSQL store behind a proxy the test can cut, and the store's URL through it."""
    assert POSTGRES_URL
    target = urlsplit(POSTGRES_URL.replace("postgresql+psycopg", "postgresql"))
    reset_postgres(POSTGRES_URL)
    proxy = Proxy((target.hostname or "127.0.0.1", target.port or 5432))
    return proxy, POSTGRES_URL.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}")


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP)
def test_the_store_going_away_and_back_mid_call(app_factory: Any) -> None:
    proxy, proxied = proxied_postgres()
    try:
        proxy.down()
        app = app_factory(DATABASE_URL=proxied)  # the store is down at start: the server starts
        client = app.test_client()
        assert client.get("/readyz").status_code == 503
        phone = Phone(client, faults=True)
        assert "手机丢了或被盗，请按3" in phone.call().text
        proxy.up()
        assert client.get("/readyz").status_code == 200  # it recovers by itself
        phone.keys("3", "1")
        assert phone.last is not None and phone.last.dialed == [FRAUD_DESK]
        hotline = app.extensions["ivr"]
        assert [c["outcome"] for c in stored_cases(hotline)] == ["locked"]
        caller = Phone(client, sid="CA-MID", faults=True)
        caller.keys("1")
        proxy.down()  # mid-call
        answer = caller.press("1")
        assert answer.dialed == ["+864008200000"] and "非常抱歉" in answer.text
        assert client.get("/readyz").status_code == 503
        proxy.up()
        assert client.get("/readyz").status_code == 200
        assert [c["outcome"] for c in stored_cases(hotline)] == ["locked"]  # nothing stored was lost
        hotline.store.dispose()
    finally:
        proxy.close()


def test_failed_texts_are_kept_and_retried_with_backoff(app_factory: Any, clock: Clock) -> None:
    http = FakeTwilioHttp(status=500)
    app = app_factory(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=http, SMS_FROM="OKWallet")
    hotline = app.extensions["ivr"]
    Phone(app.test_client()).keys("3", "1")  # the lockdown text fails
    Phone(app.test_client(), caller="+447400123456", dialed="+442038089999", sid="CA2").keys("2")  # a code
    assert [s["status"] for s in hotline.sms.outbox()] == ["queued", "queued"]  # no webhook sends
    none = {"sent": 0, "failed": 0, "expired": 0, "unconfirmed": 0}
    assert hotline.sms.drain(clock()) == {**none, "failed": 2}  # the sender's first pass
    assert [s["status"] for s in hotline.sms.outbox()] == ["failed", "failed"]
    assert hotline.sms.retry_due(clock()) == none  # not due yet
    clock.set("2026-11-23T12:00:31+08:00")
    assert hotline.sms.retry_due(clock()) == {**none, "failed": 2}
    http.status = 201
    clock.set("2026-11-23T12:01:00+08:00")
    assert hotline.sms.retry_due(clock()) == none  # backoff doubled
    clock.set("2026-11-23T12:01:32+08:00")
    assert hotline.sms.retry_due(clock()) == {**none, "sent": 2}
    outbox = hotline.sms.outbox()
    assert [s["status"] for s in outbox] == ["sent", "sent"]
    assert "[redacted]" in outbox[1]["body"]  # the code never sits in the outbox
    sent_bodies = [r["data"]["Body"] for r in http.requests]
    assert sent_bodies[-1].count("[redacted]") == 0 and "code is" in sent_bodies[-1]


def test_an_expired_code_text_is_not_retried(app_factory: Any, clock: Clock) -> None:
    http = FakeTwilioHttp(status=500)
    app = app_factory(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=http, SMS_FROM="OKWallet")
    hotline = app.extensions["ivr"]
    Phone(app.test_client()).keys("2")
    assert hotline.sms.drain(clock())["failed"] == 1
    clock.set("2026-11-23T12:06:00+08:00")
    http.status = 201
    assert hotline.sms.retry_due(clock()) == {"sent": 0, "failed": 0, "expired": 1, "unconfirmed": 0}
    assert len(http.requests) == 1


def test_a_config_edit_is_picked_up_and_a_bad_one_refused(
    app: Flask, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hotline = app.extensions["ivr"]
    hours = config_dir / "hours.yaml"
    good = hours.read_text()
    hours.write_text(good.replace('mon-fri: ["09:00-21:00"]', 'mon-fri: ["13:00-21:00"]'))
    assert hotline.refresh_config(every=0) is True
    assert "人工客服现在休息，将于今天下午1点恢复服务" in Phone(app.test_client()).call().text
    hours.write_text(good.replace('mon-fri: ["09:00-21:00"]', 'mon-fri: ["9-21"]'))
    with caplog.at_level(logging.ERROR):
        assert hotline.refresh_config(every=0) is False
    assert "config edit refused" in caplog.text and "schedules.cn.weekly.mon-fri" in caplog.text
    assert "将于今天下午1点恢复服务" in Phone(app.test_client(), sid="CA2").call().text  # last good


def test_sighup_rereads_the_config_at_the_next_webhook(app: Flask, config_dir: Path) -> None:
    hotline = app.extensions["ivr"]
    hours = config_dir / "hours.yaml"
    hours.write_text(
        hours.read_text().replace("closures: {}", "closures:\n  cn:\n    2026-11-23: Office move")
    )
    os.utime(hours, ns=(0, 0))  # an edit the mtime check would miss
    hotline.source._checked_at = time.monotonic()
    hotline.request_reload()
    Phone(app.test_client(), sid="CA-HUP").call()  # starts the reload, off the request path
    reload = hotline.source._lock
    deadline = time.monotonic() + 5
    while (hotline.source._reload_requested or reload.locked()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "今天暂停服务" in Phone(app.test_client()).call().text


def test_a_reload_with_a_bad_edit_keeps_the_last_good_config(
    app_factory: Any, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_factory()  # a good start saves the last good config
    regions = config_dir / "regions.yaml"
    regions.write_text(regions.read_text().replace("timezone: UTC", "timezone: Mars/Base"))
    with pytest.raises(StartupError, match="Mars/Base"):
        app_factory()  # a cold start refuses
    monkeypatch.setenv("IVR_RELOADING", "1")  # gunicorn.conf.py: a running server
    reloaded = app_factory()
    assert reloaded.extensions["ivr"].config.regions["global"].timezone == "UTC"


def test_store_times_are_utc_whatever_the_clock_zone(tmp_path: Path) -> None:
    from sqlalchemy import select

    from ivr.store.tables import attempts

    store = Store(f"sqlite:///{tmp_path / 'tz.sqlite3'}")
    with store.begin() as connection:
        connection.execute(
            attempts.insert().values(
                kind="k", subject="s", at=datetime.fromisoformat("2026-11-23T12:00:00+08:00")
            )
        )
    row = store.one(select(attempts.c.at))
    assert row["at"].isoformat() == "2026-11-23T04:00:00+00:00"
    with pytest.raises(Exception, match="naive datetime"), store.begin() as connection:
        connection.execute(attempts.insert().values(kind="k", subject="s", at=datetime(2026, 1, 1)))
    store.dispose()


def test_create_app_never_touches_the_store() -> None:
    app = create_app(
        {
            "TWILIO_AUTH_TOKEN": TOKEN,
            "DATABASE_URL": "postgresql+psycopg://x@127.0.0.1:1/none",
            "SNAPSHOT": False,
            "INSTANCE_DIR": "/nonexistent",
        }
    )
    assert app.test_client().get("/healthz").status_code == 200


def test_a_new_worker_warms_the_store_before_its_first_caller(app_factory: Any, tmp_path: Path) -> None:
    from sqlalchemy import select

    from ivr.store.tables import wallet_accounts

    hotline = app_factory().extensions["ivr"]
    assert hotline.store.engine.pool.checkedin() == 0  # create_app connects to nothing
    assert hotline.warm_store(connections=3) is True
    assert hotline.store.engine.pool.checkedin() == 3  # one open connection per request thread
    seeded = hotline.store.all(select(wallet_accounts.c.account).order_by(wallet_accounts.c.account))
    assert [row["account"] for row in seeded] == ["A-1001", "A-1002", "A-1003", "A-1004"]
    hotline.store.dispose()
    down = app_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'missing' / 'folder' / 'ivr.sqlite3'}")
    assert down.extensions["ivr"].warm_store() is False  # a store that is down: no error


@pytest.mark.postgres
@pytest.mark.faults
@pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP)
def test_a_partitioned_store_keeps_every_webhook_under_5_seconds(app_factory: Any) -> None:
    """16 callers at once while the store's connections hang unanswered: each hears the
    apology and is put through within 5 s (Twilio gives up at 15 s)."""
    proxy, proxied = proxied_postgres()
    try:
        app = app_factory(DATABASE_URL=proxied)
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        hotline = app.extensions["ivr"]
        proxy.stall()
        hotline.store.engine.dispose()  # every connection from now on crosses the partition
        took: list[float] = []
        answers: list[Any] = []

        def caller(n: int) -> None:
            phone = Phone(app.test_client(), sid=f"CA{n:032x}", faults=True)
            phone.call()
            started = time.monotonic()
            phone.press("3")
            answers.append(phone.press("1"))
            took.append(time.monotonic() - started)

        threads = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(took) == 16 and max(took) < 5.0, sorted(took)
        assert all(answer.dialed == [FRAUD_DESK] and "非常抱歉" in answer.text for answer in answers)
        assert client.get("/readyz").status_code == 503
        proxy.up()
        hotline.store.engine.dispose()
        assert client.get("/readyz").status_code == 200
        hotline.store.dispose()
    finally:
        proxy.close()
