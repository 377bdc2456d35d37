"""The store on SQLite always, and on PostgreSQL when IVR_TEST_POSTGRES_URL is set (.ci/run)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from ivr import create_app
from ivr.store import Store, limits, metadata
from ivr.store.cases import list_cases, open_case
from ivr.store.tables import calls
from ivr.wallet.demo import DemoWallet
from tests.conftest import POSTGRES_SKIP, TOKEN, Clock, Phone, stored_cases, twilio_sid

POSTGRES_URL = os.environ.get("IVR_TEST_POSTGRES_URL")
NOON = datetime.fromisoformat("2026-11-23T12:00:00+08:00")


def reset_postgres(url: str) -> None:
    """An empty database: our tables and Alembic's version table dropped."""
    store = Store(url)
    metadata.drop_all(store.engine)
    with store.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP)
    reset_postgres(POSTGRES_URL)
    yield POSTGRES_URL


def shipped_app(database_url: str, tmp_path: Path, **settings: Any) -> Any:
    """The app on the shipped config and `database_url`, at a fixed Monday noon."""
    return create_app(
        {
            "TWILIO_AUTH_TOKEN": TOKEN,
            "CONFIG_DIR": str(Path(__file__).parent.parent / "config"),
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path),
            "JOURNAL_BACKGROUND": False,
            "CLOCK": Clock(),
            **settings,
        }
    )


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    yield store
    store.dispose()


def test_cases_round_trip_with_utc_times(store: Store) -> None:
    with store.begin() as connection:
        reference = open_case(
            connection,
            kind="lockdown",
            region="cn",
            language="zh-CN",
            status="open",
            outcome="locked",
            now=NOON,
            account="A-1001",
            priority=True,
        )
    with store.begin() as connection:
        [case] = list_cases(connection)
    assert case == {
        "reference": reference,
        "kind": "lockdown",
        "account": "A-1001",
        "region": "cn",
        "status": "open",
        "created_at": "2026-11-23T04:00:00+00:00",
        "priority": True,
        "outcome": "locked",
    }


def test_attempt_limits_count_within_their_window(store: Store) -> None:
    def claim(subject: str, minutes: int) -> int | None:
        with store.begin() as connection:
            return limits.claim(connection, "recovery_sms", subject, NOON + timedelta(minutes=minutes))

    assert all(claim("A-1002", minutes) for minutes in (0, 10, 20))
    assert claim("A-1002", 30) is None  # 3 an hour
    assert claim("A-1001", 30) is not None  # per account
    assert claim("A-1002", 61) is not None  # the first one has left the window
    with store.begin() as connection:
        assert limits.used(connection, "recovery_sms", "A-1002", NOON + timedelta(minutes=61)) == 3


def test_a_released_attempt_does_not_count(store: Store) -> None:
    with store.begin() as connection:
        attempt = limits.claim(connection, "wrong_pin", "A-1002", NOON)
        assert attempt is not None
        limits.release(connection, attempt)
        assert limits.used(connection, "wrong_pin", "A-1002", NOON) == 0


def test_parallel_attempts_on_several_servers_share_the_limit_exactly(database_url: str) -> None:
    """A brute force over many parallel calls gets 5 PIN tries in all, not 5 each."""
    servers = [Store(database_url) for _ in range(3)]
    for server in servers:
        server.ensure_schema()
    start = threading.Barrier(12)
    granted: list[int | None] = []

    def attempt(index: int) -> None:
        server = servers[index % len(servers)]
        start.wait()
        with server.begin() as connection:
            granted.append(limits.claim(connection, "wrong_pin", "A-1001", NOON))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 12 and sum(1 for g in granted if g is not None) == 5
    with servers[0].begin() as connection:
        assert limits.used(connection, "wrong_pin", "A-1001", NOON) == 5
    for server in servers:
        server.dispose()


def test_demo_wallet_seeds_once_for_several_servers(store: Store, database_url: str) -> None:
    other_server = Store(database_url)
    first, second = DemoWallet(store), DemoWallet(other_server)
    assert first.find_by_phone("+8613800138000").account == "A-1001"  # type: ignore[union-attr]
    assert second.find_by_phone("+6591234567").account == "A-1004"  # type: ignore[union-attr]
    first.lock("A-1004", "test")
    assert second.get_account("A-1004").locked is True  # type: ignore[union-attr]
    other_server.dispose()


def test_a_full_lockdown_journey(database_url: str, tmp_path: Path) -> None:
    app = shipped_app(database_url, tmp_path)
    hotline: Any = app.extensions["ivr"]
    answer = Phone(app.test_client()).keys("3", "1")
    assert answer.dialed == ["+442079460001"]
    [case] = stored_cases(hotline)
    assert (case["account"], case["outcome"]) == ("A-1001", "locked")
    hotline.journal.flush()
    assert hotline.store.one(select(calls.c.region))["region"] == "cn"
    hotline.store.dispose()


@pytest.mark.parametrize(
    ("setup", "twin_path", "digits", "kind", "texts"),
    [
        (["3"], "/voice/menu/lockdown?lang=zh-CN", "1", "lockdown", 1),
        (["2", "CODE", "70010003"], "/voice/menu/txn.settled?lang=zh-CN", "2", "dispute", 2),
        (["0", "BUSY"], "/voice/menu/offer?lang=zh-CN&theft=", "1", "callback", 0),
    ],
)
def test_two_identical_webhooks_at_once_have_one_effect(
    database_url: str, tmp_path: Path, setup: list[str], twin_path: str, digits: str, kind: str, texts: int
) -> None:
    app = shipped_app(database_url, tmp_path)
    hotline: Any = app.extensions["ivr"]
    phone = Phone(app.test_client())
    phone.call()
    for key in setup:
        if key == "BUSY":
            phone.follow(DialCallStatus="busy")
            continue
        if key == "CODE":
            key = hotline.sms.outbox()[-1]["body"].split("验证码是")[1][:6]
        phone.press(key)
    twin_path = twin_path.removesuffix("&theft=")
    answers: list[str] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        twin = Phone(app.test_client())
        barrier.wait()
        answers.append(twin.twiml(twin_path, Digits=digits).raw)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 2 and answers[0] == answers[1]
    assert [c["kind"] for c in stored_cases(hotline)] == [kind]
    assert len(hotline.sms.outbox()) == texts
    hotline.store.dispose()


def test_one_open_callback_per_number_is_enforced_by_the_database(store: Store) -> None:
    from ivr.store.cases import CaseExists

    def book(number: str) -> str:
        with store.begin() as connection:
            return open_case(
                connection,
                kind="callback",
                region="cn",
                language="zh-CN",
                status="open",
                now=NOON,
                callback_number=number,
                requested_at=NOON,
            )

    book("+8613800138000")
    with pytest.raises(CaseExists):  # the database's rule, in the flows' terms
        book("+8613800138000")
    book("+8613900139000")  # another number is fine
    with store.begin() as connection:
        assert len(list_cases(connection, "callback")) == 2


def test_a_reference_collision_draws_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.store import cases as cases_module

    draws = iter(["11111111", "11111111", "22222222"])
    monkeypatch.setattr(cases_module, "new_reference", lambda: next(draws))
    with store.begin() as connection:
        first = open_case(connection, kind="dispute", region="cn", language="zh-CN", status="open", now=NOON)
        second = open_case(connection, kind="dispute", region="cn", language="zh-CN", status="open", now=NOON)
    assert (first, second) == ("11111111", "22222222")


def test_the_journal_writes_call_records_in_the_background(database_url: str, tmp_path: Path) -> None:
    import time as clock

    app = shipped_app(database_url, tmp_path, JOURNAL_BACKGROUND=True)
    hotline: Any = app.extensions["ivr"]
    Phone(app.test_client(), sid=twilio_sid("CA-JOURNAL")).call()
    deadline = clock.monotonic() + 5
    while hotline.store.one(select(calls.c.region).where(calls.c.sid == twilio_sid("CA-JOURNAL"))) is None:
        assert clock.monotonic() < deadline, "the journal never wrote the call"
        clock.sleep(0.05)
    hotline.store.dispose()


def test_a_call_two_servers_recorded_is_kept_once_with_the_rest_of_the_batch(
    database_url: str, tmp_path: Path
) -> None:
    """Twilio retried /voice on another server: both journals hold the call; one row results,
    and the other calls in the second server's batch are not lost."""
    first = shipped_app(database_url, tmp_path)
    second = shipped_app(database_url, tmp_path)
    Phone(first.test_client(), sid=twilio_sid("CA-RETRIED")).call()
    Phone(second.test_client(), sid=twilio_sid("CA-RETRIED")).call()
    Phone(second.test_client(), sid=twilio_sid("CA-OTHER"), caller="+447400123456").call()
    first.extensions["ivr"].journal.flush()
    second.extensions["ivr"].journal.flush()
    store = first.extensions["ivr"].store
    rows = store.all(select(calls.c.sid, calls.c.region).order_by(calls.c.sid))
    assert sorted((row["sid"], row["region"]) for row in rows) == sorted(
        [(twilio_sid("CA-OTHER"), "gb"), (twilio_sid("CA-RETRIED"), "cn")]
    )
    store.dispose()
    second.extensions["ivr"].store.dispose()
