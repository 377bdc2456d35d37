"""Webhook throughput with Twilio's real forms (27 fields on the Voice URL, the Gather action's
and the status callback's) and a new caller from every country phonenumbers supports, apps
under the same gunicorn settings, alternating in one run:

- bare: fixed TwiML, reads nothing (bench/bare_app.py);
- floor: parses the form, checks the signature once with RequestValidator (bench/signed_app.py);
- straight: a straightforward 30-line IVR (bench/straight_app.py);
- ivr: this IVR's webhooks: /voice, the main menu's Gather action (`1`), the lockdown menu's
  (`1`: locks the wallet registered to the caller, stores a case) and the status callback.

    python bench/throughput.py [--seconds 5] [--rounds 3] [--clients 16] [--webhooks voice,menu]

Targets: every webhook at least 0.8 x the floor on the same path and form, and /voice 1.3 x the
straightforward IVR (medians).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Client, database_url, ivr_servers, reset

TARGET_FLOOR, TARGET_STRAIGHT = 0.8, 1.3


def _callers(per_country: int = 200) -> list[str]:
    """Valid numbers from every country phonenumbers supports, interleaved country by country:
    up to `per_country` each, varying the last digits of its example mobile (or fixed) number."""
    import phonenumbers

    pools = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number_for_type(
            region, phonenumbers.PhoneNumberType.MOBILE
        ) or phonenumbers.example_number(region)
        if example is None:
            continue
        stem = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[:-3]
        valid: list[str] = []
        for n in range(1000):
            if len(valid) == per_country:
                break
            if phonenumbers.is_valid_number(phonenumbers.parse(f"{stem}{n:03d}", None)):
                valid.append(f"{stem}{n:03d}")
        pools.append(valid)
    interleaved = [pool[i] for i in range(per_country) for pool in pools if i < len(pool)]
    return list(dict.fromkeys(interleaved))  # countries sharing an example number: once each


CALLERS = _callers()
COUNTRIES = len({number[:4] for number in CALLERS})
_serial = itertools.count()  # shared by every client thread and round: no number comes twice


def next_caller() -> str:
    """A new caller on every call, cycling through every country (the IVR keeps a parsed
    number for the rest of its call, so repeated numbers would flatter it)."""
    return CALLERS[next(_serial) % len(CALLERS)]


def twilio_form(call_sid: str, caller: str) -> dict[str, str]:
    """The 27 fields Twilio posts to a Voice URL for an inbound call."""
    return {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "CallToken": "%7B%22parentCallInfoToken%22%3A%22eyJhbGci%22%7D",
        "Called": "+18885550100",
        "CalledCity": "",
        "CalledCountry": "US",
        "CalledState": "",
        "CalledZip": "",
        "Caller": caller,
        "CallerCity": "",
        "CallerCountry": "",
        "CallerState": "",
        "CallerZip": "",
        "Direction": "inbound",
        "From": caller,
        "FromCity": "",
        "FromCountry": "",
        "FromState": "",
        "FromZip": "",
        "StirVerstat": "TN-Validation-Passed-A",
        "To": "+18885550100",
        "ToCity": "",
        "ToCountry": "US",
        "ToState": "",
        "ToZip": "",
    }


def _in_call(sid: str, caller: str, **fields: str) -> dict[str, str]:
    """Twilio's form for a webhook later in an answered call."""
    return {**twilio_form(sid, caller), "CallStatus": "in-progress", **fields}


def _gather(digits: str) -> dict[str, str]:
    """What Twilio adds to a <Gather> action (https://www.twilio.com/docs/voice/twiml/gather)."""
    return {"Digits": digits, "FinishedOnKey": "", "msg": "Gather End"}


def _status() -> dict[str, str]:
    """What Twilio adds to a status callback
    (https://www.twilio.com/docs/voice/api/call-resource#statuscallback)."""
    return {
        "CallStatus": "completed",
        "CallDuration": "42",
        "Duration": "1",
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "0",
        "Timestamp": "Fri, 04 Dec 2026 20:00:00 +0000",
    }


# Each webhook: its URL (as the IVR's own TwiML gives it to a caller of the global line) and
# Twilio's form for it, from a CallSid and a caller.
WEBHOOKS: dict[str, tuple[str, Callable[[str, str], dict[str, str]]]] = {
    "voice": ("/voice", twilio_form),
    "menu": ("/voice/menu/main?lang=en-US&n=1", lambda sid, caller: _in_call(sid, caller, **_gather("1"))),
    "lockdown": (
        "/voice/menu/lockdown?lang=en-US&n=2",
        lambda sid, caller: _in_call(sid, caller, **_gather("1")),
    ),
    "status": ("/voice/status", lambda sid, caller: {**twilio_form(sid, caller), **_status()}),
}


def load(base: str, seconds: float, clients: int, webhook: str = "voice") -> float:
    """Requests per second that `clients` keep-alive callers get from `webhook`: with wrk
    when it is installed (C, so the load generator takes little of the CPU it shares with the
    servers), else with Python threads."""
    if shutil.which("wrk"):
        return wrk(base, seconds, clients, webhook=webhook).rate
    return _load_python(base, seconds, clients, webhook)


_WRK_SCRIPT = """
-- Each wrk thread takes every `lanes`-th request, from its own `lane` (a global that setup
-- sets in the thread's own Lua state), so no two threads send the same call.
local requests, count, serial = {}, 0, 0
local path = os.getenv("IVR_BENCH_REQUESTS")
local lanes = tonumber(os.getenv("IVR_BENCH_LANES"))
local next_lane = 0
function setup(thread) thread:set("lane", next_lane); next_lane = next_lane + 1 end
function init(args)
  for line in io.lines(path) do
    local first = line:find("\t", 1, true)
    local second = line:find("\t", first + 1, true)
    count = count + 1
    requests[count] = wrk.format("POST", line:sub(1, first - 1), {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = line:sub(first + 1, second - 1)}, line:sub(second + 1))
  end
end
function request()
  serial = serial + 1
  return requests[((serial * lanes + lane) % count) + 1]
end
"""


@dataclass
class WrkRun:
    rate: float  # requests per second
    requests: int
    errors: int  # answers other than 2xx/3xx, and socket errors


def wrk(base: str, seconds: float, clients: int, threads: int = 2, webhook: str = "voice") -> WrkRun:
    """wrk with pre-signed forms: a new CallSid and a new caller on every request (enough
    for ~8,000 req/s over the run, so none comes twice)."""
    from bench.harness import PUBLIC, validator

    path, make_form = WEBHOOKS[webhook]
    folder = Path(tempfile.mkdtemp(prefix="ivr-wrk-"))
    try:
        lines = []
        for _ in range(max(20_000, int(8_000 * seconds))):
            sid = f"CA{next(_serial):012x}{time.time_ns() % 16**20:020x}"
            form = make_form(sid, next_caller())
            signature = validator.compute_signature(PUBLIC + path, form)
            lines.append(f"{path}\t{signature}\t{urlencode(form)}")
        (folder / "requests.txt").write_text("\n".join(lines) + "\n")
        (folder / "post.lua").write_text(_WRK_SCRIPT)
        env = {**os.environ, "IVR_BENCH_REQUESTS": str(folder / "requests.txt")}
        env["IVR_BENCH_LANES"] = str(threads)
        run = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{clients}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(folder / "post.lua"),
                base + path,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", run.stdout)
    broken = re.findall(r"(?:connect|read|write|timeout) (\d+)", run.stdout)
    found = re.search(r"Requests/sec:\s+([0-9.]+)", run.stdout)
    total = re.search(r"(\d+) requests in", run.stdout)
    if not found or not total:
        raise RuntimeError(f"wrk printed no rate: {run.stdout} {run.stderr}")
    result = WrkRun(float(found.group(1)), int(total.group(1)), int(bad.group(1)) if bad else 0)
    result.errors += sum(int(n) for n in broken)
    if result.errors:
        print(f"  {result.errors} errors from {base}", file=sys.stderr)
    return result


def _load_python(base: str, seconds: float, clients: int, webhook: str) -> float:
    path, make_form = WEBHOOKS[webhook]
    done = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def caller(index: int) -> None:
        client, n = Client(base), 0
        while time.monotonic() < stop:
            n += 1
            sid = f"CA{index:04x}{n:08x}{time.time_ns() % 16**20:020x}"
            status, _ = client.post(path, make_form(sid, next_caller()))
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
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, for every app")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker, for every app")
    parser.add_argument("--webhooks", default=",".join(WEBHOOKS), help="which webhooks, comma-separated")
    args = parser.parse_args()
    webhooks = [name for name in args.webhooks.split(",") if name]
    unknown = set(webhooks) - set(WEBHOOKS)
    if unknown:
        parser.error(f"unknown webhooks {sorted(unknown)}: choose from {', '.join(WEBHOOKS)}")
    folder = Path(tempfile.mkdtemp())
    url = database_url(folder)
    reset(url)
    apps = {
        "bare": "bench.bare_app:app",
        "floor": "bench.signed_app:app",
        "straight": "bench.straight_app:app",
    }
    # (app, webhook) -> the rate of each round; bare and straight answer /voice only
    runs = [("ivr", w) for w in webhooks] + [("floor", w) for w in webhooks]
    runs += [(name, "voice") for name in ("bare", "straight") if "voice" in webhooks]
    rates: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    shape = {"workers": args.workers, "threads": args.threads}
    with (
        ivr_servers(1, url, **shape) as (ivr,),
        ivr_servers(1, url, app=apps["bare"], **shape) as (bare,),
        ivr_servers(1, url, app=apps["floor"], **shape) as (floor,),
        ivr_servers(1, url, app=apps["straight"], **shape) as (straight,),
    ):
        bases = {"ivr": ivr, "bare": bare, "floor": floor, "straight": straight}
        for name, webhook in runs:  # warm them up
            load(bases[name], 1, 4, webhook)
        for _ in range(args.rounds):
            for webhook in webhooks:  # side by side: the IVR, then the floor, on each webhook
                for name, hook in runs:
                    if hook == webhook:
                        rates[(name, hook)].append(load(bases[name], args.seconds, args.clients, hook))
    median = {run: statistics.median(found) for run, found in rates.items()}
    ok = True
    store = "postgresql" if url.startswith("postgresql") else "sqlite"
    for webhook in webhooks:
        ivr_rates, floor_rates = rates[("ivr", webhook)], rates[("floor", webhook)]
        ratios = [mine / theirs for mine, theirs in zip(ivr_rates, floor_rates, strict=True)]
        to_floor = median[("ivr", webhook)] / median[("floor", webhook)]
        ok = ok and to_floor >= TARGET_FLOOR
        print(
            f"throughput {webhook} ({WEBHOOKS[webhook][0]}): {median[('ivr', webhook)]:.0f} req/s "
            f"(rounds {min(ivr_rates):.0f}-{max(ivr_rates):.0f}), floor {median[('floor', webhook)]:.0f}; "
            f"{to_floor:.2f}x floor (rounds {min(ratios):.2f}-{max(ratios):.2f}, target >= {TARGET_FLOOR})"
        )
    if "voice" in webhooks:
        voice, bare, straight = (median[(name, "voice")] for name in ("ivr", "bare", "straight"))
        ok = ok and voice / straight >= TARGET_STRAIGHT
        print(
            f"throughput /voice: bare {bare:.0f}, straight {straight:.0f}; {voice / bare:.2f}x bare, "
            f"{voice / straight:.2f}x straight (target >= {TARGET_STRAIGHT})"
        )
    print(
        f"throughput: Twilio's forms, callers from every country ({len(CALLERS)} numbers), "
        f"{args.clients} clients ({'wrk' if shutil.which('wrk') else 'Python threads'}), "
        f"{args.workers}x{args.threads} gthread, {store} {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
