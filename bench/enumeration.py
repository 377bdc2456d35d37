"""Account enumeration by timing: does a step take longer when the number is registered?

For each path that looks an account up by phone (the PIN step of 3,2; recovery 1,1; the
lockdown 3,1) it times the step for a registered and an unregistered number, alternating,
in-process on a fresh SQLite store with the demo wallet. Target: the median difference under
2 ms on every path. One line of output.

    python bench/enumeration.py [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

from ivr import create_app  # noqa: E402

TARGET_MS = 2.0
TOKEN = "bench-token"
BASE = "http://localhost"
# path: (registered, unregistered) callers, the keys before the timed step, the timed keys
PATHS: dict[str, tuple[tuple[str, str], list[str], str]] = {
    "pin": (("+8613800138000", "+8613900139000"), ["3", "2", "{number}"], "0000"),
    "recovery": (("+447400123456", "+447400999888"), ["1"], "1"),
    "lockdown": (("+14155550123", "+14155550199"), ["3"], "1"),
    "reset": (("+447400123456", "+447400999888"), ["1"], "2"),
    "code": (("+8613800138000", "+8613900139000"), [], "2"),
}


class Caller:
    """One signed call through the Flask test client, following the TwiML's Gather actions."""

    def __init__(self, client: Any, caller: str, dialed: str, sid: str) -> None:
        self.client, self.caller, self.dialed, self.sid = client, caller, dialed, sid
        self.validator = RequestValidator(TOKEN)
        self.action = "/voice"

    def post(self, digits: str | None = None) -> float:
        import re

        form = {"CallSid": self.sid, "From": self.caller, "To": self.dialed}
        if digits is not None:
            form["Digits"] = digits
        url = urljoin(BASE + "/", self.action.lstrip("/"))
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, form)}
        started = time.perf_counter()
        response = self.client.post(self.action, data=form, headers=headers, base_url=BASE)
        elapsed = time.perf_counter() - started
        found = re.search(r'<Gather[^>]*action="([^"]+)"', response.get_data(as_text=True))
        self.action = found.group(1).replace("&amp;", "&") if found else self.action
        return elapsed


def run(calls: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="ivr-enum-"))
    app = create_app(
        {
            "TWILIO_AUTH_TOKEN": TOKEN,
            "CONFIG_DIR": str(ROOT / "config"),
            "DATABASE_URL": f"sqlite:///{folder / 'enum.sqlite3'}",
            "INSTANCE_DIR": str(folder),
            "JOURNAL_BACKGROUND": False,
            "CLOCK": lambda: datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
        }
    )
    client = app.test_client()
    differences = {}
    serial = 0
    for path, ((registered, unregistered), before, timed) in PATHS.items():
        samples: dict[bool, list[float]] = {True: [], False: []}
        for n in range(calls * 2):
            known = n % 2 == 0
            number = registered if known else unregistered
            serial += 1
            # The PIN path types the number from another phone, so every call has its own caller.
            caller_id = "+12125550100" if path == "pin" else number
            caller = Caller(client, caller_id, "+18885550100", f"CA{serial:032x}")
            caller.post()
            for keys in before:
                caller.post(keys.format(number=number.lstrip("+")))
            samples[known].append(caller.post(timed))
        differences[path] = (statistics.median(samples[True]) - statistics.median(samples[False])) * 1000
    return differences


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per number and path")
    args = parser.parse_args()
    differences = run(args.calls)
    ok = all(abs(ms) < TARGET_MS for ms in differences.values())
    figures = ", ".join(f"{path} {ms:+.2f} ms" for path, ms in differences.items())
    print(
        f"enumeration: median registered-minus-unregistered over {args.calls} calls each: {figures} "
        f"(target |x| < {TARGET_MS:.0f} ms) {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
