"""Several callback workers on one store: each case dialed once; a killed worker's case is
dialed again when its lease expires (PostgreSQL's row locks and SKIP LOCKED; SQLite's single
writer)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ivr.callbacks import LEASE, Dialer
from ivr.store.cases import find_case
from tests.fake_twilio import ACCOUNT, AUTH_TOKEN, FakeTwilio, fake_twilio
from tests.test_store import database_url, shipped_app  # noqa: F401  (sqlite and postgresql)

PUBLIC = "https://ivr.example.com"
OPEN = datetime.fromisoformat("2026-11-23T10:00:00+00:00")  # Monday: gb agents open
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        yield fake


def worker(url: str, tmp_path: Path, twilio: FakeTwilio, name: str) -> Any:
    """A worker process's runtime: its own engine on the shared store."""
    app = shipped_app(
        url,
        tmp_path / name,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_API_URL=twilio.url,
        PUBLIC_URL=PUBLIC,
    )
    return app.extensions["ivr"]


def waiting_callbacks(runtime: Any, count: int) -> list[str]:
    return [
        runtime.services.cases.open(
            kind="callback",
            region="gb",
            language="en-GB",
            status="open",
            now=OPEN - timedelta(hours=1, minutes=n),
            callback_number=f"+4474001230{n:02d}",
            requested_at=OPEN - timedelta(hours=1, minutes=n),
        )
        for n in range(count)
    ]


def dialed_cases(twilio: FakeTwilio) -> Counter[str]:
    return Counter(call["Url"].rsplit("case=", 1)[1] for call in twilio.calls())


def test_two_workers_dial_each_waiting_callback_once(
    database_url: str,  # noqa: F811
    tmp_path: Path,
    twilio: FakeTwilio,
) -> None:
    first, second = (worker(database_url, tmp_path, twilio, name) for name in ("a", "b"))
    references = waiting_callbacks(first, 12)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(runtime: Any) -> None:
        try:
            start.wait()
            Dialer(runtime, PUBLIC).run_once(OPEN)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert dialed_cases(twilio) == Counter(references)  # every one, once
    with first.store.begin() as connection:
        for reference in references:
            case = find_case(connection, reference)
            assert case is not None and case["status"] == "calling" and len(case["attempts"]) == 1
    for runtime in (first, second):
        runtime.store.dispose()


KILLED_WORKER = """
import sys, time
from datetime import datetime
from ivr.callbacks import LEASE, MAX_ATTEMPTS
from ivr.store import Store
from ivr.store import callbacks as rows

store = Store(sys.argv[1])
now = datetime.fromisoformat(sys.argv[2])
if sys.argv[3] == "claimed":  # claimed and about to dial when it is killed
    with store.begin() as connection:
        case = rows.claim_next(connection, ["gb"], now, LEASE, MAX_ATTEMPTS)
        rows.start_attempt(connection, case["reference"], now)
    print(case["reference"], flush=True)
else:  # killed while its claim's transaction (and row lock) is still open
    connection = store.engine.connect()
    transaction = connection.begin()
    case = rows.claim_next(connection, ["gb"], now, LEASE, MAX_ATTEMPTS)
    print(case["reference"], flush=True)
time.sleep(600)
"""


@contextmanager
def worker_process(url: str, when: datetime, moment: str) -> Iterator[str]:
    """A worker process that claims a case at `moment`; SIGKILLed when the block ends. Yields
    the reference it claimed."""
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_WORKER), url, when.isoformat(), moment],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        reference = process.stdout.readline().strip()
        assert reference.isdigit(), reference
        yield reference
    finally:
        process.kill()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()


def test_a_worker_killed_after_its_claim_leaves_the_case_to_be_dialed_when_the_lease_expires(
    database_url: str,  # noqa: F811
    tmp_path: Path,
    twilio: FakeTwilio,
) -> None:
    survivor = worker(database_url, tmp_path, twilio, "survivor")
    (reference,) = waiting_callbacks(survivor, 1)
    with worker_process(database_url, OPEN, "claimed") as claimed:
        assert claimed == reference
    dialer = Dialer(survivor, PUBLIC)
    assert dialer.run_once(OPEN + LEASE - timedelta(minutes=1)) == []  # still leased
    (attempt,) = dialer.run_once(OPEN + LEASE + timedelta(seconds=1))
    assert attempt.reference == reference and attempt.attempt == 2
    with survivor.store.begin() as connection:
        case = find_case(connection, reference)
    assert case is not None and [a["result"] for a in case["attempts"]] == ["lost", "dialing"]
    survivor.store.dispose()


@pytest.mark.postgres
def test_a_row_another_worker_holds_is_skipped_and_released_when_that_worker_dies(
    database_url: str,  # noqa: F811
    tmp_path: Path,
    twilio: FakeTwilio,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks held across processes: PostgreSQL")
    survivor = worker(database_url, tmp_path, twilio, "survivor")
    references = waiting_callbacks(survivor, 2)
    dialer = Dialer(survivor, PUBLIC)
    with worker_process(database_url, OPEN, "holding") as held:
        assert held == references[-1]  # the oldest request is claimed first
        (attempt,) = dialer.run_once(OPEN)  # SKIP LOCKED: the other one, without waiting
        assert attempt.reference == references[0]
    # Killed inside its transaction: the claim rolled back with it, the row lock went too.
    (late,) = dialer.run_once(OPEN)
    assert late.reference == held and late.attempt == 1
    assert dialed_cases(twilio) == Counter(references)
    survivor.store.dispose()
