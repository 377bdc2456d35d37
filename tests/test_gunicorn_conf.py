"""gunicorn.conf.py's worker hooks, run in-process on a real app."""

from __future__ import annotations

import gc
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from sqlalchemy import select

from ivr.store.tables import wallet_accounts

ROOT = Path(__file__).resolve().parent.parent


def test_a_new_worker_freezes_the_loaded_app_warms_the_store_and_rereads_config_on_hup(
    app_factory: Any,
) -> None:
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    app = app_factory()
    hotline = app.extensions["ivr"]
    previous = signal.getsignal(signal.SIGHUP)
    try:
        settings["post_worker_init"](SimpleNamespace(wsgi=app))
        # The app's long-lived objects are out of the collector's full passes.
        assert gc.get_freeze_count() > 50_000
        deadline = time.monotonic() + 10
        seeded: list[Any] = []
        while not seeded and time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                seeded = hotline.store.all(select(wallet_accounts.c.account))
            except Exception:
                seeded = []  # the warm-up thread is creating the tables right now
        assert sorted(row["account"] for row in seeded) == ["A-1001", "A-1002", "A-1003", "A-1004"]
        signal.raise_signal(signal.SIGHUP)
        assert hotline.source._reload_requested is True
    finally:
        gc.unfreeze()
        signal.signal(signal.SIGHUP, previous)
        hotline.store.dispose()


def serve_env(tmp_path: Path, config_dir: Path) -> dict[str, str]:
    return {
        "TWILIO_AUTH_TOKEN": "gunicorn-test-token",
        "IVR_PUBLIC_URL": "https://ivr.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ivr.sqlite3'}",
        "IVR_CONFIG_DIR": str(config_dir),
        "IVR_INSTANCE_DIR": str(tmp_path / "instance"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }


LONDON_LINE = next(
    n
    for n, line in enumerate((ROOT / "config" / "regions.yaml").read_text().splitlines(), 1)
    if "Europe/London" in line
)


@pytest.mark.parametrize(
    ("breaks", "said"),
    [
        (
            "config",
            f"regions.yaml:{LONDON_LINE}: regions.gb.timezone: 'Europe/Londn' is not a known time zone",
        ),
        ("secret", "TWILIO_AUTH_TOKEN is not set: refusing to serve unsigned webhooks"),
    ],
)
def test_gunicorn_refuses_to_start_and_says_why(
    tmp_path: Path, config_dir: Path, breaks: str, said: str
) -> None:
    env = {**os.environ, **serve_env(tmp_path, config_dir)}
    if breaks == "config":
        regions = config_dir / "regions.yaml"
        regions.write_text(regions.read_text().replace("Europe/London", "Europe/Londn"))
    else:
        del env["TWILIO_AUTH_TOKEN"]
    finished = subprocess.run(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py", "-b", "127.0.0.1:0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode != 0
    assert said in finished.stderr
    assert "Booting worker" not in finished.stderr  # refused before any worker was forked


def test_a_worker_restarted_after_a_bad_edit_serves_the_last_good_config(
    tmp_path: Path, config_dir: Path
) -> None:
    from ivr.tools.simulator import signed_transport
    from tests.servers import gunicorn

    started: list[Any] = []
    with gunicorn(serve_env(tmp_path, config_dir), started=started) as server:
        regions = config_dir / "regions.yaml"
        regions.write_text(regions.read_text().replace("Europe/London", "Europe/Londn"))
        (worker,) = subprocess.run(
            ["pgrep", "-P", str(started[0].pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        os.kill(int(worker), signal.SIGKILL)  # a crash (or a recycle): the master forks a new one

        def send(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
            response = requests.post(server + "/voice", data=form, headers=headers, timeout=5)
            return response.status_code, response.text

        deadline, answer = time.monotonic() + 20, (0, "")
        while time.monotonic() < deadline:
            try:
                answer = signed_transport("https://ivr.example.com", "gunicorn-test-token", send)(
                    "/voice", {"CallSid": "CAafafafafafafafafafafafafafafafaf", "From": "+447400123456"}
                )
                if answer[0] == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        assert answer[0] == 200 and "Thank you for calling OK Wallet" in answer[1]
        assert started[0].poll() is None  # the server is still up
        new_worker = subprocess.run(
            ["pgrep", "-P", str(started[0].pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert new_worker != [worker]
