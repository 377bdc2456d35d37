"""Entry webhook throughput: the IVR's POST /voice against a bare Flask app that returns fixed
TwiML, both under the same gunicorn settings (gunicorn.conf.py), alternating in one run.

    python bench/throughput.py [--seconds 5] [--rounds 3] [--clients 16]

Target: the IVR serves at least 0.85 x the bare app's requests per second.

For scale, the same run measures a third app (bench/signed_app.py): the bare app plus only
Twilio's signature check on the parsed form, which every webhook must do before anything else.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Client, database_url, ivr_servers, reset

TARGET = 0.85
# Every call a new caller, as on a real line (the IVR keeps a parsed number for the rest of
# its call, so a few numbers repeated would flatter it): valid mobile ranges, six countries.
CALLER_PATTERNS = (
    "+86138{:08d}",
    "+4474{:08d}",
    "+14152{:06d}",
    "+6591{:06d}",
    "+33612{:06d}",
    "+6012{:07d}",
)
_serial = itertools.count()  # shared by every client thread and round: no number comes twice


def next_caller() -> str:
    n = next(_serial)
    return CALLER_PATTERNS[n % len(CALLER_PATTERNS)].format(n // len(CALLER_PATTERNS) % 1_000_000)


def load(base: str, seconds: float, clients: int) -> float:
    """Requests per second that `clients` keep-alive callers get from POST /voice."""
    done = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def caller(index: int) -> None:
        client, n = Client(base), 0
        while time.monotonic() < stop:
            n += 1
            status, _ = client.post(
                "/voice",
                {
                    "CallSid": f"CA{index:04x}{n:08x}{time.time_ns() % 16**20:020x}",
                    "From": next_caller(),
                    "To": "+18885550100",
                },
            )
            if status == 200:
                done[index] += 1
            else:
                errors[index] += 1
        client.close()

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if sum(errors):
        print(f"  {sum(errors)} errors from {base}", file=sys.stderr)
    return sum(done) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, for both apps")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker, for both apps")
    args = parser.parse_args()
    import tempfile

    folder = Path(tempfile.mkdtemp())
    url = database_url(folder)
    reset(url)
    rates: dict[str, list[float]] = {"ivr": [], "bare": [], "signed": []}
    shape = {"workers": args.workers, "threads": args.threads}
    with (
        ivr_servers(1, url, **shape) as (ivr,),
        ivr_servers(1, url, app="bench.bare_app:app", **shape) as (bare,),
        ivr_servers(1, url, app="bench.signed_app:app", **shape) as (signed,),
    ):
        bases = {"ivr": ivr, "bare": bare, "signed": signed}
        for base in bases.values():  # warm them up
            load(base, 1, 4)
        for _ in range(args.rounds):
            for name, base in bases.items():
                rates[name].append(load(base, args.seconds, args.clients))
    ivr_rate, bare_rate, signed_rate = (statistics.median(rates[name]) for name in ("ivr", "bare", "signed"))
    ratio = ivr_rate / bare_rate
    store = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(
        f"throughput: IVR {ivr_rate:.0f} req/s vs bare Flask {bare_rate:.0f} req/s = {ratio:.2f}x "
        f"(target >= {TARGET}x; {args.clients} clients, {args.workers}x{args.threads} gthread, {store}; "
        f"signature check alone {signed_rate / bare_rate:.2f}x) "
        f"{'PASS' if ratio >= TARGET else 'FAIL'}"
    )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
