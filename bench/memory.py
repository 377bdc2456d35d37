"""Memory per worker: one gunicorn worker answers N calls (entry plus a menu step each); its
resident memory is sampled as it goes.

    python bench/memory.py [--calls 10000]

Targets: under 150 MB after 10,000 calls, and flat over the second half (< 5 % growth).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Client, database_url, ivr_servers, reset

LIMIT_MB = 150


def worker_pids(master_port: int) -> list[int]:
    """The gunicorn worker processes listening under the master on `master_port`."""
    import subprocess

    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    masters = [int(line.split()[0]) for line in out.splitlines() if f"127.0.0.1:{master_port}" in line]
    return [
        int(line.split()[0])
        for line in out.splitlines()[1:]
        if line.split()[1].isdigit() and int(line.split()[1]) in masters
    ]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    url = database_url(Path(tempfile.mkdtemp()))
    reset(url)
    samples: list[tuple[int, float]] = []
    with ivr_servers(1, url, workers=1, threads=4) as (server,):
        port = int(server.rsplit(":", 1)[1])
        urllib.request.urlopen(server + "/healthz").close()
        [pid] = worker_pids(port)
        done = [0]
        lock = threading.Lock()
        callers = ["+8613800138000", "+447400123456", "+85291234567", "+14155550123", "+6591234567"]

        def caller(index: int) -> None:
            client = Client(server)
            while True:
                with lock:
                    if done[0] >= args.calls:
                        break
                    done[0] += 1
                    n = done[0]
                sid = f"CA{n:032x}"
                form = {"CallSid": sid, "From": callers[n % len(callers)], "To": "+18885550100"}
                client.post("/voice", form)
                client.post("/voice/menu/main?lang=en-US", {**form, "Digits": "1"})
                if n % (args.calls // 20 or 1) == 0:
                    samples.append((n, rss_mb(pid)))
            client.close()

        threads = [threading.Thread(target=caller, args=(i,)) for i in range(args.clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        samples.append((args.calls, rss_mb(pid)))
        elapsed = time.monotonic() - started
    samples.sort()
    half = [mb for n, mb in samples if n >= args.calls // 2]
    final = samples[-1][1]
    growth = (half[-1] - half[0]) / half[0] * 100 if half else float("nan")
    ok = final < LIMIT_MB and growth < 5
    print(
        "  rss by calls: " + ", ".join(f"{n}:{mb:.0f}MB" for n, mb in samples[:: max(1, len(samples) // 8)])
    )
    print(
        f"memory: one worker after {args.calls} calls ({2 * args.calls} webhooks, {elapsed:.0f} s): "
        f"{final:.1f} MB (target < {LIMIT_MB}); second half growth {growth:+.1f} % (target < 5 %) "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
