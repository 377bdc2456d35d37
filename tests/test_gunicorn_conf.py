"""gunicorn.conf.py's worker hooks, run in-process on a real app."""

from __future__ import annotations

import gc
import runpy
import signal
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from ivr.store import wallet_accounts

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
        assert hotline._reload_requested is True
    finally:
        gc.unfreeze()
        signal.signal(signal.SIGHUP, previous)
        hotline.store.dispose()
