"""Slow clients: 16 connections each sending a webhook body one byte a second, while a caller's
`/voice` is timed. Straight to gunicorn (each slow body holds one of its threads) and through
the production set-up, nginx in front (deploy/nginx.conf, docs/hardening.md). On 127.0.0.1.

    python bench/slow_clients.py [--clients 16] [--calls 5]

Target: through nginx, every caller's /voice answered within 1 s while the slow bodies drip.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, gunicorn  # noqa: E402

TOKEN = "bench-token"
PUBLIC_URL = "https://ivr.example.com"
TARGET_SECONDS = 1.0
CALL_TIMEOUT_S = 15.0  # Twilio gives up on a webhook after 15 s: so does the caller here
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def ivr_env(folder: Path) -> dict[str, str]:
    return {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "IVR_PUBLIC_URL": PUBLIC_URL,
        "DATABASE_URL": f"sqlite:///{folder / 'ivr.sqlite3'}",
        "IVR_CONFIG_DIR": str(ROOT / "config"),
        "IVR_INSTANCE_DIR": str(folder / "instance"),
    }


@contextmanager
def nginx(upstream: str) -> Iterator[str]:
    """deploy/nginx.conf as shipped, its two ports moved to free ones; yields its base URL."""
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    port, upstream_port = free_port(), urllib.parse.urlsplit(upstream).port
    with tempfile.TemporaryDirectory(prefix="ivr-nginx-") as prefix, tempfile.TemporaryFile("w+") as log:
        conf = NGINX_CONF.read_text()
        for shipped, ours in (
            ("127.0.0.1:8080", f"127.0.0.1:{port}"),
            ("127.0.0.1:8000", f"127.0.0.1:{upstream_port}"),
        ):
            assert shipped in conf, f"deploy/nginx.conf no longer has {shipped}"
            conf = conf.replace(shipped, ours)
        Path(prefix, "nginx.conf").write_text(conf)
        process = subprocess.Popen(
            [nginx_bin, "-p", prefix, "-c", "nginx.conf", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"nginx did not start: {process.stderr.read()[-2000:]!r}"
                        ) from None  # type: ignore[union-attr]
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def drip(base: str, stop: threading.Event) -> None:
    """A client that sends a webhook's headers, then its body one byte a second."""
    address = urllib.parse.urlsplit(base)
    body = b"CallSid=" + b"A" * 1000
    try:
        with socket.create_connection((address.hostname, address.port), timeout=5) as conn:
            conn.sendall(
                b"POST /voice HTTP/1.1\r\nHost: ivr.example.com\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            for byte in body:
                conn.sendall(bytes([byte]))
                if stop.wait(1.0):
                    return
    except OSError:
        return  # the server cut the slow client off: what it should do


def caller_seconds(base: str, n: int) -> float:
    """A caller's signed /voice, timed to its whole answer (CALL_TIMEOUT_S when none came)."""
    form = {
        "CallSid": f"CA{n:032x}",
        "From": "+447400123456",
        "To": "+442038089999",
        "AccountSid": "AC" + "0" * 32,
    }
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC_URL}/voice", form)
    request = urllib.request.Request(
        f"{base}/voice", data=urllib.parse.urlencode(form).encode(), headers={"X-Twilio-Signature": signature}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_S) as response:
            body = response.read()
            assert response.status == 200 and b"<Gather" in body, body[:200]
    except (TimeoutError, urllib.error.URLError):
        return CALL_TIMEOUT_S
    return time.perf_counter() - started


def under_slow_clients(base: str, clients: int, calls: int) -> tuple[list[float], int]:
    """Seconds for each of `calls` callers while `clients` slow bodies drip into `base`, and
    how many slow clients were still sending when the last caller was answered."""
    stop = threading.Event()
    drippers = [threading.Thread(target=drip, args=(base, stop), daemon=True) for _ in range(clients)]
    for thread in drippers:
        thread.start()
    time.sleep(1.5)  # every slow client has connected and is sending
    try:
        seconds = [caller_seconds(base, n) for n in range(calls)]
        return seconds, sum(thread.is_alive() for thread in drippers)
    finally:
        stop.set()
        for thread in drippers:
            thread.join(timeout=2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--direct-calls", type=int, default=2, help="callers timed straight to gunicorn")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ivr-slow-"))
    os.environ.setdefault("IVR_WORKERS", "1")
    with gunicorn(ivr_env(folder), workers=1, threads=4) as server:
        caller_seconds(server, 999)  # warm
        direct, _ = under_slow_clients(server, args.clients, args.direct_calls)
        with nginx(server) as proxied:
            caller_seconds(proxied, 998)
            fronted, sending = under_slow_clients(proxied, args.clients, args.calls)
    shutil.rmtree(folder, ignore_errors=True)

    def figures(values: list[float]) -> str:
        each = ", ".join(f"{v:.2f}" for v in values)
        return f"median {statistics.median(values):.3f} s, slowest {max(values):.3f} s ({each})"

    print(f"{args.clients} slow clients, 1 gunicorn worker x 4 threads")
    print(
        f"  straight to gunicorn: {figures(direct)}"
        + (" (no answer: Twilio would have given up)" if max(direct) >= CALL_TIMEOUT_S else "")
    )
    print(f"  through nginx:        {figures(fronted)}; {sending} slow clients still sending")
    ok = max(fronted) < TARGET_SECONDS
    print("ok" if ok else f"missed: a caller waited over {TARGET_SECONDS} s through nginx")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
