"""Real servers in separate processes: `gunicorn wsgi:app` as production runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def served_env(folder: Path, token: str, config: Path) -> dict[str, str]:
    """The environment of a server on the config `config`, with its store in `folder`, behind
    the public URL https://ivr.example.com."""
    return {
        "TWILIO_AUTH_TOKEN": token,
        "IVR_PUBLIC_URL": "https://ivr.example.com",
        "DATABASE_URL": f"sqlite:///{folder / 'ivr.sqlite3'}",
        "IVR_CONFIG_DIR": str(config),
        "IVR_INSTANCE_DIR": str(folder / "instance"),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(
    env: dict[str, str],
    workers: int = 1,
    threads: int = 4,
    app: str = "wsgi:app",
    started: list[subprocess.Popen[bytes]] | None = None,
    config: str = "gunicorn.conf.py",
    logs: list[str] | None = None,
) -> Iterator[str]:
    """Serve the IVR with gunicorn.conf.py (or another `config`) on a free port; yields its
    base URL (and appends the master process to `started`, for tests that signal it, and the
    server's log lines to `logs` once it has stopped)."""
    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (a pipe would fill up and stall the server)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "-c",
            config,
            "-b",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    if started is not None:
        started.append(process)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"gunicorn did not start: {log.read()[-2000:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if logs is not None:
            log.seek(0)
            logs.extend(log.read().splitlines())
        log.close()
