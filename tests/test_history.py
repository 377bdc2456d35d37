"""Nothing grows with history (issue 17): purge, bounded lists, counts in SQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from ivr.store.tables import attempts, call_state, call_steps, one_time_codes, sms_outbox
from ivr.tools.cli import main
from tests.conftest import Clock, Phone


def count(hotline: Any, table: Any) -> int:
    return int(hotline.store.one(select(func.count().label("n")).select_from(table))["n"])


def test_purge_forgets_what_is_past_keeping_and_keeps_the_rest(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    clock.set("2026-11-01T12:00:00+00:00")
    old = Phone(phone.client, sid="old-call")
    old.keys("2")  # a code, its attempt, a text, a step answer, call state
    clock.set("2026-12-15T12:00:00+00:00")  # six weeks later
    new = Phone(phone.client, sid="new-call")
    new.keys("2")
    before = {
        t.name: count(hotline, t) for t in (attempts, call_steps, call_state, one_time_codes, sms_outbox)
    }
    removed = hotline.purge()
    for table in (attempts, call_steps, call_state, one_time_codes, sms_outbox):
        assert removed[table.name] >= 1, table.name
        assert count(hotline, table) == before[table.name] - removed[table.name] >= 1, (
            table.name
        )  # the new stay
    assert hotline.call_record(old.sid) is not None  # calls are the record: never purged


def test_ivr_db_purge_says_what_it_removed(app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("DATABASE_URL", app.extensions["ivr"].store.url)
    result = CliRunner().invoke(main, ["db", "purge"])
    assert result.exit_code == 0 and "attempts" in result.output and "kept: 1 day" in result.output


def test_lists_page_newest_first_and_say_when_they_are_cut(
    hotline: Any, monkeypatch: pytest.MonkeyPatch, config_dir: Any
) -> None:
    now = hotline.now()
    with hotline.store.begin() as connection:
        connection.execute(
            insert(sms_outbox),
            [
                {
                    "to_number": "+447400123456",
                    "body": f"text {n}",
                    "status": "outbox",
                    "attempts": 0,
                    "created_at": now - timedelta(minutes=10 - n),
                }
                for n in range(10)
            ],
        )
    monkeypatch.setenv("DATABASE_URL", hotline.store.url)
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    result = CliRunner().invoke(main, ["sms", "list", "--limit", "3", "--json"])
    assert result.exit_code == 0, result.output
    import json

    bodies = [t["body"] for t in json.loads(result.stdout)]
    assert bodies == ["text 7", "text 8", "text 9"]  # the newest three, oldest first
    assert "note: the newest 3 shown" in result.stderr
    since = (now - timedelta(minutes=2, seconds=30)).isoformat()
    recent = CliRunner().invoke(main, ["sms", "list", "--since", since, "--json"])
    assert [t["body"] for t in json.loads(recent.stdout)] == ["text 8", "text 9"]


def test_the_report_counts_in_the_database(phone: Phone, hotline: Any) -> None:
    from ivr.reports import build_report

    for n in range(3):
        Phone(phone.client, sid=f"rep-{n}").keys("3", "1")
    Phone(phone.client, sid="rep-x").call()
    Phone(phone.client, sid="rep-x").post("/voice/status", CallStatus="completed", CallDuration="3")
    data = build_report(hotline, None, hotline.now() + timedelta(seconds=1))
    assert data["calls"] == 4
    assert data["by_region"]["cn"]["lockdown"] == 3 and data["by_region"]["cn"]["abandoned"] == 1


def test_a_config_reload_is_parsed_off_the_request_path(app: Any, config_dir: Any, monkeypatch: Any) -> None:
    """A webhook that notices an edit answers at once with the config it has; the new one is
    parsed on another thread and swapped in whole."""
    import os
    import threading
    import time

    runtime = app.extensions["ivr"]
    started, release = threading.Event(), threading.Event()
    from ivr import runtime as runtime_module

    real_load = runtime_module.load_config

    def slow_load(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(5)  # a large hours file
        return real_load(*args, **kwargs)

    monkeypatch.setattr(runtime_module, "load_config", slow_load)
    hours = config_dir / "hours.yaml"
    hours.write_text(
        hours.read_text().replace("closures: {}", "closures:\n  cn:\n    2026-11-23: Office move")
    )
    os.utime(hours, (time.time() + 5, time.time() + 5))
    runtime.source._checked_at = 0.0
    began = time.monotonic()
    answer = Phone(app.test_client()).call()
    assert time.monotonic() - began < 1.0 and started.wait(2)  # answered while the parse waits
    assert "今天暂停服务" not in answer.text  # the old config, whole
    release.set()
    deadline = time.monotonic() + 5
    while runtime.source._lock.locked() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "今天暂停服务" in Phone(app.test_client(), sid="after").call().text  # the new one, whole


def test_dead_workers_metric_files_fold_into_one_archive(tmp_path: Any) -> None:
    """1,000 recycled workers leave one archive file, and /metrics adds up the same totals."""
    import json

    from prometheus_client import CollectorRegistry
    from prometheus_client.mmap_dict import MmapedDict
    from prometheus_client.multiprocess import MultiProcessCollector

    from ivr.web.metrics import archive_dead_worker

    key = json.dumps(["ivr_calls", "ivr_calls_total", {"region": "cn", "matched_by": "caller"}, "Calls."])
    for pid in range(1000, 1100):
        worker = MmapedDict(str(tmp_path / f"counter_{pid}.db"))
        worker.write_value(key, 2.0, 0.0)
        worker.close()
    for pid in range(1000, 1100):
        assert archive_dead_worker(str(tmp_path), pid) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_archive.db"]
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))  # type: ignore[no-untyped-call]
    assert registry.get_sample_value("ivr_calls_total", {"region": "cn", "matched_by": "caller"}) == 200.0
