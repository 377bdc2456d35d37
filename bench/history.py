"""Cost against stored history: the ops page, the weekly report and a code step's attempt
claim, with the same recent traffic on top of N and then 10 x N calls of history (calls,
cases, texts and attempts, spread over the past year). Target: within 20 % of each other.

    python bench/history.py [--calls 20000]    # --calls 100000: 100,000 then 1,000,000 (~1 min)

PostgreSQL when IVR_TEST_POSTGRES_URL is set, else SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bench.harness import database_url, reset  # noqa: E402
from ivr import create_app  # noqa: E402
from ivr.store import limits  # noqa: E402
from ivr.store.tables import attempts, calls, cases, sms_outbox  # noqa: E402

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TARGET = 1.2
BATCH = 10_000


def seed(runtime: Any, start: int, count: int) -> None:
    """`count` old calls, each with a case, a text and an attempt, over the year before the
    past week (the week the report looks at holds the same traffic either way)."""
    for first in range(start, start + count, BATCH):
        rows = range(first, min(first + BATCH, start + count))
        at = [NOW - timedelta(days=8 + n % 358, seconds=n % 86_400) for n in rows]  # before the week
        with runtime.store.begin() as connection:
            connection.execute(
                insert(calls),
                [
                    {
                        "sid": f"CA{n:032x}",
                        "region": "cn",
                        "matched_by": "caller",
                        "language": "zh-CN",
                        "caller_masked": "+86*******8000",
                        "started_at": t,
                        "ended_at": t,
                        "status": "completed",
                        "outcome": "lockdown",
                        "journey": "main:lockdown;",
                    }
                    for n, t in zip(rows, at, strict=True)
                ],
            )
            connection.execute(
                insert(cases),
                [
                    {
                        "reference": f"{20_000_000 + n}",
                        "kind": "lockdown",
                        "account": "A-1001",
                        "region": "cn",
                        "language": "zh-CN",
                        "status": "locked",
                        "priority": True,
                        "call_sid": f"CA{n:032x}",
                        "note": "",
                        "created_at": t,
                        "updated_at": t,
                    }
                    for n, t in zip(rows, at, strict=True)
                ],
            )
            connection.execute(
                insert(sms_outbox),
                [
                    {
                        "to_number": "+8613800138000",
                        "body": "old",
                        "status": "outbox",
                        "attempts": 0,
                        "created_at": t,
                    }
                    for t in at
                ],
            )
            connection.execute(
                insert(attempts),
                [
                    {"kind": "code_sent", "subject": f"A-{n % 5000}", "at": t}
                    for n, t in zip(rows, at, strict=True)
                ],
            )


def settle(runtime: Any) -> None:
    """The store at rest after the bulk seed, as a live one is between bursts: statistics
    current (autovacuum's pass over the new rows) and the seed's writes checkpointed. Left to
    the background, either can land in the middle of the measurement and slow each code
    claim's commit by half a millisecond, which is noise, not history."""
    if runtime.store.engine.dialect.name == "postgresql":
        with runtime.store.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql("VACUUM ANALYZE calls, cases, sms_outbox, attempts")
            autocommit.exec_driver_sql("CHECKPOINT")


def measure(app: Any, tries: int = 21) -> dict[str, float]:
    """Median milliseconds of each operation over `tries` (a code claim commits, and one
    commit's flush to disk varies by a millisecond: a median of 5 moved by 30 %)."""
    from ivr.reports import build_report

    runtime = app.extensions["ivr"]
    client = app.test_client()
    timings: dict[str, list[float]] = {"ops": [], "report": [], "code claim": []}
    for attempt in range(tries):
        started = time.perf_counter()
        assert client.get("/ops", auth=("ops", "pw")).status_code == 200
        timings["ops"].append(time.perf_counter() - started)
        started = time.perf_counter()
        build_report(runtime, NOW - timedelta(days=7), NOW)
        timings["report"].append(time.perf_counter() - started)
        started = time.perf_counter()
        with runtime.store.begin() as connection:
            limits.claim(connection, "code_sent", f"A-bench-{attempt}", NOW)
        timings["code claim"].append(time.perf_counter() - started)
    return {name: statistics.median(found) * 1000 for name, found in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000, help="the smaller history; the larger is 10x")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    url = database_url(folder)
    reset(url)
    app = create_app(
        {
            "TWILIO_AUTH_TOKEN": "bench",
            "CONFIG_DIR": str(ROOT / "config"),
            "DATABASE_URL": url,
            "INSTANCE_DIR": str(folder),
            "JOURNAL_BACKGROUND": False,
            "CLOCK": lambda: NOW,
            "OPS_USER": "ops",
            "OPS_PASSWORD": "pw",
        }
    )
    runtime = app.extensions["ivr"]
    runtime.store.ensure_schema()
    seed(runtime, 0, args.calls)
    settle(runtime)
    small = measure(app)
    seed(runtime, args.calls, args.calls * 9)
    settle(runtime)
    large = measure(app)
    ratios = {name: large[name] / small[name] for name in small}
    ok = all(ratio <= TARGET for ratio in ratios.values())
    figures = ", ".join(
        f"{name} {small[name]:.1f} -> {large[name]:.1f} ms ({ratios[name]:.2f}x)" for name in small
    )
    store = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(
        f"history: {args.calls:,} -> {args.calls * 10:,} calls of history, {store}: {figures} "
        f"(target within {TARGET - 1:.0%}) {'PASS' if ok else 'FAIL'}"
    )
    runtime.store.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
