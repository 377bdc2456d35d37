"""Whole journeys at once: simulated calls (lockdown, recovery, transactions, agent) spread over
two gunicorn servers sharing one store, every webhook alternating between them.

    python bench/journeys.py [--journeys 200] [--callers 16]

Targets: zero errors, every case stored exactly once, p99 per webhook under 50 ms.
Uses PostgreSQL when IVR_TEST_POSTGRES_URL is set (as it should be: this is the scale test).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text

from bench.harness import (
    PUBLIC,
    TOKEN,
    Client,
    database_url,
    ivr_servers,
    percentile,
    reset,
    server_p99_ms,
    webhook_buckets,
)
from ivr.store import Store
from ivr.store.tables import cases
from ivr.tools.simulator import SimulationError, Simulator, keys_from_list, signed_transport

KINDS = {  # journey: (keys, the case it must store)
    "lockdown": (["3", "1"], "lockdown"),
    "recovery": (["1", "2"], None),
    "transactions": (["2", "000000", "000000", "000000", "0"], None),
    "agent": (["0"], None),
}


def deadlocks(url: str) -> int:
    """Deadlocks PostgreSQL has detected in the bench's database so far (0 for SQLite)."""
    if not url.startswith("postgresql"):
        return 0
    store = Store(url)
    try:
        [row] = store.all(
            select(text("deadlocks"))
            .select_from(text("pg_stat_database"))
            .where(text("datname = current_database()"))
        )
        return int(row["deadlocks"])
    finally:
        store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument(
        "--think",
        type=float,
        default=0.5,
        help="seconds a caller listens before the next webhook (0: back to back)",
    )
    args = parser.parse_args()
    url = database_url(Path(tempfile.mkdtemp()))
    reset(url)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    plan = list(itertools.islice(itertools.cycle(KINDS), args.journeys))
    deadlocks_before = deadlocks(url)
    with ivr_servers(2, url) as servers:
        local = threading.local()

        def send(full_url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
            if not hasattr(local, "clients"):
                local.clients, local.turn = [Client(s) for s in servers], 0
            local.turn += 1
            client = local.clients[local.turn % 2]
            if args.think:
                time.sleep(args.think)  # the caller listens to the prompt
            started = time.perf_counter()
            status, body = client.post(full_url.removeprefix(PUBLIC), form)
            with lock:
                latencies.append(time.perf_counter() - started)
            return status, body

        def journey(index: int) -> None:
            keys = KINDS[plan[index]][0]
            caller = f"+86139{index:08d}"  # a different real-looking caller each time
            try:
                transcript = Simulator(
                    signed_transport(PUBLIC, TOKEN, send),
                    caller,
                    "+864001234567",
                    keys_from_list(keys),
                    call_sid=f"CA{index:08x}{time.time_ns() % 16**24:024x}",
                ).run()
                if not transcript.ended:
                    raise SimulationError("no end")
            except SimulationError as error:
                with lock:
                    errors.append(f"{plan[index]} #{index}: {error}")

        for server in servers:  # a server in production has long been warm: leave its first calls out
            warm = Client(server)
            for n in range(12):
                warm.post(
                    "/voice", {"CallSid": f"CA{n:032x}", "From": "+8613800138000", "To": "+864001234567"}
                )
                warm.post(
                    "/voice/menu/main?lang=zh-CN",
                    {"CallSid": f"CA{n:032x}", "From": "+8613800138000", "Digits": "1"},
                )
            warm.close()
        baseline = webhook_buckets(servers)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.callers) as pool:
            list(pool.map(journey, range(args.journeys)))
        elapsed = time.perf_counter() - started
        server_p99, counted = server_p99_ms(servers, baseline)
    if url.startswith("postgresql"):
        time.sleep(1.5)  # PostgreSQL publishes its statistics within a second
    deadlocked = deadlocks(url) - deadlocks_before  # deadlocks() is 0 for SQLite
    store = Store(url)
    rows = store.all(select(cases.c.kind, func.count().label("n")).group_by(cases.c.kind))
    stored = Counter({row["kind"]: row["n"] for row in rows})
    store.dispose()
    expected = Counter(KINDS[kind][1] for kind in plan if KINDS[kind][1])
    once = stored == expected
    p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
    ok = not errors and once and server_p99 <= 50 and not deadlocked
    for error in errors[:5]:
        print("  error:", error)
    print(
        f"journeys: {args.journeys} journeys ({', '.join(f'{k} {v}' for k, v in Counter(plan).items())}), "
        f"{len(latencies)} webhooks over 2 servers in {elapsed:.1f} s, {args.callers} callers at once "
        f"({args.think:g} s between webhooks); "
        f"errors {len(errors)}; deadlocks {deadlocked} (pg_stat_database); "
        f"cases stored {dict(stored)} (expected {dict(expected)}); "
        f"server-side p99 <= {server_p99:.0f} ms over {counted} webhooks (target < 50); "
        f"client-side p50 {p50:.1f} ms, p99 {p99:.1f} ms {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
