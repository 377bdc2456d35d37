"""Whole calls per second per core: a theft victim's call as Twilio makes it (the Voice URL,
`3` in the main menu, `1` in the lockdown menu: the wallet locked, a case stored and the
fraud desk dialed, then the status callback), from a new caller of every country each time,
against this IVR and against the floor app (bench/signed_app.py: the signature check and
fixed TwiML) on the same four URLs and forms, alternating in one run.

    python bench/calls.py [--seconds 5] [--rounds 3] [--clients 16]

A core is one CPU-second of the server's processes (gunicorn's master and workers, read from
/proc), so the figure holds on a machine shared with the load generator and other work.
Target: at least 0.8 x the floor's calls per core (the floor's webhooks per core / 4).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Client, database_url, ivr_servers, reset
from bench.throughput import WEBHOOKS, next_caller

TARGET_FLOOR = 0.8
# A theft call: each step's URL and Twilio's form, the IVR's answer must hold `expect`.
CALL = (
    (WEBHOOKS["voice"], "<Gather", {}),
    (("/voice/menu/main?lang=en-US&n=1", WEBHOOKS["menu"][1]), "/voice/menu/lockdown", {"Digits": "3"}),
    (WEBHOOKS["lockdown"], "<Dial", {}),
    (WEBHOOKS["status"], "<Response", {}),
)


@dataclass
class Run:
    calls: int
    seconds: float
    cpu_seconds: float  # the server's own
    failed: int

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds

    @property
    def per_core(self) -> float:
        return self.calls / self.cpu_seconds if self.cpu_seconds else float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU of `pid` and every process under it, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
    return total


def calls(base: str, pid: int, seconds: float, clients: int, check: bool) -> Run:
    """Whole calls that `clients` callers make in `seconds`, and the server CPU they took."""
    done, failed = [0] * clients, [0] * clients
    stop = time.monotonic() + seconds
    serial = iter(range(10**9))
    lock = threading.Lock()

    def caller(index: int) -> None:
        client = Client(base)
        while time.monotonic() < stop:
            with lock:
                number = next(serial)
            sid, phone = f"CA{index:04x}{number:08x}{time.time_ns() % 16**20:020x}", next_caller()
            ok = True
            for (path, make_form), expect, extra in CALL:
                status, body = client.post(path, {**make_form(sid, phone), **extra})
                ok = ok and status == 200 and (not check or expect in body)
            done[index] += ok
            failed[index] += not ok
        client.close()

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(clients)]
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(sum(done), time.monotonic() - started, cpu_seconds(pid) - cpu_before, sum(failed))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    url = database_url(Path(tempfile.mkdtemp()))
    reset(url)
    shape = {"workers": args.workers, "threads": args.threads}
    runs: dict[str, list[Run]] = {"ivr": [], "floor": []}
    ivr_started: list[Any] = []
    floor_started: list[Any] = []
    with (
        ivr_servers(1, url, started=ivr_started, **shape) as (ivr,),
        ivr_servers(1, url, app="bench.signed_app:app", started=floor_started, **shape) as (floor,),
    ):
        servers = {"ivr": (ivr, ivr_started[0].pid), "floor": (floor, floor_started[0].pid)}
        for name, (base, pid) in servers.items():  # warm up
            calls(base, pid, 1, 4, check=name == "ivr")
        for _ in range(args.rounds):
            for name, (base, pid) in servers.items():
                runs[name].append(calls(base, pid, args.seconds, args.clients, check=name == "ivr"))
    ivr_core = statistics.median(r.per_core for r in runs["ivr"])
    floor_core = statistics.median(r.per_core for r in runs["floor"])
    ratios = [
        mine.per_core / theirs.per_core for mine, theirs in zip(runs["ivr"], runs["floor"], strict=True)
    ]
    failed = sum(r.failed for r in runs["ivr"])
    ok = ivr_core / floor_core >= TARGET_FLOOR and failed == 0
    store = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(
        f"calls: {statistics.median(r.per_second for r in runs['ivr']):.0f} theft calls/s "
        f"({len(CALL)} webhooks each), {ivr_core:.0f} per core; floor "
        f"{statistics.median(r.per_second for r in runs['floor']):.0f}/s, {floor_core:.0f} per core; "
        f"{ivr_core / floor_core:.2f}x the floor per core (rounds {min(ratios):.2f}-{max(ratios):.2f}, "
        f"target >= {TARGET_FLOOR}); {failed} failed; {args.clients} clients (Python threads), "
        f"{args.workers}x{args.threads} gthread, {store} {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
