"""PostgreSQL drops the servers' connections (issue 31, item 4): `pg_terminate_backend` on every
pooled connection, the database back at once; no webhook after that hears the apology."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_SKIP, Phone, internal_errors, stored_cases
from tests.test_store import POSTGRES_URL, reset_postgres, shipped_app

pytestmark = pytest.mark.postgres

CALLERS = ("+8613800138000", "+447400123456", "+14155550123", "+6591234567")


@pytest.fixture
def pg_app(tmp_path: Path) -> Iterator[Flask]:
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP)
    reset_postgres(POSTGRES_URL)
    app = shipped_app(POSTGRES_URL, tmp_path)
    yield app
    app.extensions["ivr"].store.dispose()


def terminate_the_servers_connections() -> int:
    """What an operator's `pg_terminate_backend` (or a failover) does: every other session of
    this database ends; the database itself stays up."""
    assert POSTGRES_URL
    engine = create_engine(POSTGRES_URL, poolclass=None)
    with engine.connect() as connection:
        ended = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    engine.dispose()
    return int(ended)


def journey(app: Flask, n: int) -> str:
    """3,1 from one of the demo wallet's owners: a lock, a case, a text; what the caller heard."""
    phone = Phone(app.test_client(), caller=CALLERS[n % len(CALLERS)], sid=f"dropped-{n}", faults=True)
    return phone.keys("3", "1").raw


def run_journeys(app: Flask, first: int, count: int) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda n: journey(app, n), range(first, first + count)))


def test_webhooks_after_every_pooled_connection_was_terminated_hear_no_apology(pg_app: Flask) -> None:
    run_journeys(pg_app, 0, 16)  # the pool holds its connections now
    assert terminate_the_servers_connections() >= 3
    heard = run_journeys(pg_app, 100, 32)
    assert internal_errors(pg_app) == 0, [h for h in heard if "Polly" in h and "故障" in h][:1]
    assert all("+442079460001" in answer for answer in heard)  # each went to the fraud desk
    assert len(stored_cases(pg_app.extensions["ivr"], "lockdown")) == 48


@pytest.mark.parametrize("run", range(3))
def test_connections_terminated_while_webhooks_are_in_flight_are_retried_once(
    pg_app: Flask, run: int
) -> None:
    """Three rounds of terminations during 48 journeys (8 at a time): each transaction a
    termination hits runs again on a fresh connection, or is found committed."""
    run_journeys(pg_app, 0, 8)
    stop = threading.Event()
    killed: list[int] = []

    def keep_terminating() -> None:
        for pause in (0.1, 0.3, 0.3):
            if stop.wait(pause):
                return
            killed.append(terminate_the_servers_connections())

    killer = threading.Thread(target=keep_terminating)
    killer.start()
    try:
        heard = run_journeys(pg_app, 200, 48)
    finally:
        stop.set()
        killer.join()
    assert killed and sum(killed) >= 3  # in flight: the journeys were still running
    errors = internal_errors(pg_app)
    assert errors == 0, f"{errors} webhooks heard the apology"
    assert all("+442079460001" in answer for answer in heard)
    assert len(stored_cases(pg_app.extensions["ivr"], "lockdown")) == 56  # none twice, none lost
