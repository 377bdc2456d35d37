"""Shared by the benchmarks: real gunicorn servers, signed requests, percentiles."""

from __future__ import annotations

import http.client
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import gunicorn  # noqa: E402

TOKEN = "bench-token"
PUBLIC = "https://ivr.example.com"
validator = RequestValidator(TOKEN)


def database_url(folder: Path) -> str:
    """PostgreSQL when IVR_TEST_POSTGRES_URL (or DATABASE_URL) is set, else SQLite in `folder`."""
    return (
        os.environ.get("IVR_TEST_POSTGRES_URL")
        or os.environ.get("DATABASE_URL")
        or f"sqlite:///{folder / 'bench.sqlite3'}"
    )


def reset(url: str) -> None:
    if url.startswith("postgresql"):
        from tests.test_store import reset_postgres

        reset_postgres(url)


@contextmanager
def ivr_servers(
    count: int,
    url: str,
    workers: int = 2,
    threads: int = 4,
    app: str = "wsgi:app",
    started: list[Any] | None = None,
) -> Iterator[list[str]]:
    """`count` gunicorn servers of the IVR sharing the store at `url` (or of a yardstick `app`
    from bench/, under the same server settings without the IVR's hooks); each master process
    is appended to `started` (to read its CPU time)."""
    folder = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    env = {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "IVR_PUBLIC_URL": PUBLIC,
        "DATABASE_URL": url,
        "IVR_CONFIG_DIR": str(ROOT / "config"),
        "IVR_INSTANCE_DIR": str(folder),
    }
    try:
        with _many(count, env, workers, threads, app, started) as urls:
            yield urls
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _config(app: str) -> str:
    return "bench/gunicorn_plain.py" if app.startswith("bench.") else "gunicorn.conf.py"


@contextmanager
def _many(
    count: int, env: dict[str, str], workers: int, threads: int, app: str, started: list[Any] | None
) -> Iterator[list[str]]:
    if count == 0:
        yield []
        return
    with (
        gunicorn(
            env, workers=workers, threads=threads, app=app, config=_config(app), started=started
        ) as first,
        _many(count - 1, env, workers, threads, app, started) as rest,
    ):
        yield [first, *rest]


class Client:
    """One keep-alive connection posting signed webhooks, as Twilio does."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=15)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        body = urlencode(form)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(PUBLIC + path, form),
        }
        for attempt in (1, 2):
            try:
                self.connection.request("POST", path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read().decode()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed a keep-alive connection that sat idle past its keepalive
                # (5 s) before reading this request: reconnect and send it again, as HTTP
                # clients (Twilio's too) do. Our webhooks replay a repeat in any case.
                self.connection.close()
                if attempt == 2:
                    return 599, ""
            except (OSError, http.client.HTTPException):
                self.connection.close()
                return 599, ""
        return 599, ""

    def close(self) -> None:
        self.connection.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def webhook_buckets(servers: list[str]) -> dict[float, float]:
    """Cumulative ivr_webhook_seconds buckets, summed over every server, worker and endpoint."""
    import re
    import urllib.request

    buckets: dict[float, float] = {}
    for server in servers:
        with urllib.request.urlopen(server + "/metrics", timeout=5) as response:
            text = response.read().decode()
        for match in re.finditer(
            r'^ivr_webhook_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} ([0-9.e+]+)$', text, re.M
        ):
            bound = float("inf") if match.group(1) == "+Inf" else float(match.group(1))
            buckets[bound] = buckets.get(bound, 0) + float(match.group(2))
    return buckets


def server_p99_ms(servers: list[str], since: dict[float, float] | None = None) -> tuple[float, int]:
    """p99 of ivr_webhook_seconds (the upper bound of its bucket), counting only what came after
    the `since` snapshot (so warm-up requests are left out)."""
    since = since or {}
    buckets = {bound: count - since.get(bound, 0) for bound, count in webhook_buckets(servers).items()}
    total = buckets.get(float("inf"), 0)
    for bound in sorted(buckets):
        if buckets[bound] >= 0.99 * total:
            return bound * 1000, int(total)
    return float("nan"), int(total)
