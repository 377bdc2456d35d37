"""Logs never hold a full phone number, a PIN, a code or the digits a caller typed."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest

from tests.conftest import Phone, twilio_sid


def type_a_pin_and_a_code(phone: Phone, hotline: Any, friend_sid: str) -> str:
    """A friend's call types a number and the PIN 1357 to lock another wallet; `phone` then
    types the one-time code it was texted for transactions. The code typed."""
    friend = Phone(phone.client, caller="+8613900139000", sid=friend_sid)
    friend.keys("3", "2", "447400123456")
    friend.press("1357")
    phone.keys("2")
    code = re.search(r"验证码是(\d{6})", hotline.sms.outbox()[-1]["body"]).group(1)  # type: ignore[union-attr]
    phone.press(code)
    return code


@pytest.mark.faults
def test_journeys_leave_no_secrets_in_the_logs(
    phone: Phone, hotline: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    # Lockdown of another wallet (typed number and PIN), then transactions: a code and a reference.
    code = type_a_pin_and_a_code(phone, hotline, "CA1")
    phone.press("70010002")
    phone.press("1")
    # Recovery by typed number from a withheld caller, and an unexpected failure.
    hidden = Phone(phone.client, caller="anonymous", sid="CA3")
    hidden.keys("1")
    hidden.press("8613800138000")
    from ivr.flows import GRAPH

    def broken(call: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(
        GRAPH.steps,  # type: ignore[arg-type]
        "recovery.reset",
        broken,
    )
    hidden.press("2")
    # Everything a log line carries: the JSON line exactly as it is written, extras and
    # tracebacks included (not the record's own timestamps and thread ids, which are
    # random digits that may contain a PIN by chance and never reach the log).
    from ivr.web.logs import JsonFormatter

    formatter = JsonFormatter()
    logged = caplog.text + "\n".join(formatter.format(record) for record in caplog.records)
    assert f"sid={twilio_sid('CA3')}" in logged and "withheld" in logged  # the logs do say something useful
    callers = {getattr(record, "caller", None) for record in caplog.records}
    assert {"+86*******8000", "+86*******9000", "withheld"} <= callers
    for secret in ("8613800138000", "13800138000", "8613900139000", "447400123456", "1357", code, "70010002"):
        assert secret not in logged, secret


def test_log_lines_are_json_with_call_fields() -> None:
    import json

    from ivr.web.logs import JsonFormatter

    record = logging.LogRecord("ivr.web", logging.INFO, __file__, 1, "webhook", None, None)
    record.call_sid, record.region, record.step, record.latency_ms = "CA1", "cn", "/voice", 3.2
    record.outcome = "lockdown"
    data = json.loads(JsonFormatter().format(record))
    assert {
        k: data[k]
        for k in ("level", "logger", "message", "call_sid", "region", "step", "latency_ms", "outcome")
    } == {
        "level": "info",
        "logger": "ivr.web",
        "message": "webhook",
        "call_sid": "CA1",
        "region": "cn",
        "step": "/voice",
        "latency_ms": 3.2,
        "outcome": "lockdown",
    }


def test_webhooks_log_one_line_each_with_region_and_latency(
    phone: Phone, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr")
    phone.keys("3", "1")
    webhooks = [r for r in caplog.records if r.getMessage() == "webhook"]
    assert [r.step for r in webhooks] == ["/voice", "/voice/menu/main", "/voice/menu/lockdown"]  # type: ignore[attr-defined]
    assert all(r.region == "cn" and 0 < r.latency_ms < 5000 for r in webhooks)  # type: ignore[attr-defined]
    outcomes = [r for r in caplog.records if r.getMessage() == "outcome"]
    assert [r.outcome for r in outcomes] == ["lockdown"]  # type: ignore[attr-defined]


def batching_logger(name: str, stream: Any) -> tuple[logging.Logger, Any]:
    """A private logger whose only handler is a BatchingHandler writing JSON to `stream`."""
    from ivr.web.logs import BatchingHandler, JsonFormatter

    writer = logging.StreamHandler(stream)
    writer.setFormatter(JsonFormatter())
    handler = BatchingHandler(writer)
    logger = logging.getLogger(name)
    logger.propagate, logger.handlers = False, [handler]
    logger.setLevel(logging.INFO)
    return logger, handler


def test_log_lines_are_batched_off_the_request_thread_and_errors_written_at_once() -> None:
    import io
    import json

    stream = io.StringIO()
    logger, handler = batching_logger("ivr.test-batching", stream)
    try:
        logger.info("webhook", extra={"call_sid": "CA1", "latency_ms": 1.5})
        assert stream.getvalue() == ""  # the request thread neither formats nor writes
        handler.start(0.05)  # the writer thread picks it up within a tick
        deadline = time.monotonic() + 5
        while not stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        first = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [(r["message"], r["call_sid"], r["latency_ms"]) for r in first] == [("webhook", "CA1", 1.5)]
        handler.buffer.clear()
        logger.error("webhook failed", extra={"call_sid": "CA2"})
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [(r["level"], r["call_sid"]) for r in lines[1:]] == [("error", "CA2")]  # at once
    finally:
        logger.handlers = []


def test_configure_sends_every_logger_to_stderr_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import json
    import sys

    from ivr.web.logs import configure

    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_srcfile = logging._srcfile  # type: ignore[attr-defined]
    alembic = logging.getLogger("alembic")
    saved_alembic_level = alembic.level
    try:
        configure(interval=0.02)
        logging.getLogger("ivr.web").info("webhook", extra={"region": "cn", "caller": "+86*******8000"})
        deadline = time.monotonic() + 5
        while not stderr.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        (line,) = [json.loads(text) for text in stderr.getvalue().splitlines()]
        assert (line["logger"], line["message"], line["region"], line["caller"]) == (
            "ivr.web",
            "webhook",
            "cn",
            "+86*******8000",
        )
        # Other handlers in the process (gunicorn's error log prints the pid) still get
        # every field they format.
        record = logging.getLogger("gunicorn.error").makeRecord(
            "gunicorn.error", logging.INFO, "-", 0, "Worker exiting (pid: %s)", (42,), None
        )
        gunicorn_line = logging.Formatter("[%(process)d] [%(thread)d] %(message)s").format(record)
        assert gunicorn_line.endswith("] Worker exiting (pid: 42)")
        assert not logging.getLogger("alembic").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        logging._srcfile = saved_srcfile  # type: ignore[attr-defined]
        alembic.setLevel(saved_alembic_level)


def test_the_replay_table_keeps_no_pin_or_code(phone: Phone, hotline: Any) -> None:
    """call_steps remembers which keys a step answered, to replay a retried webhook, but
    never the keys themselves."""
    from sqlalchemy import select

    from ivr.store.tables import call_steps

    code = type_a_pin_and_a_code(phone, hotline, twilio_sid("CA-STEPS"))
    rows = hotline.store.all(select(call_steps.c.step, call_steps.c.response))
    steps = [row["step"].split("|") for row in rows]
    assert {"lockdown.pin-entered", "txn.code-entered"} <= {name for name, _, _ in steps}
    assert all(re.fullmatch(r"[0-9a-f]{32}", typed) for _, _, typed in steps)  # keys: a hash only
    readable = " ".join(f"{name} {path}" for name, path, _ in steps) + " ".join(r["response"] for r in rows)
    assert "1357" not in readable and code not in readable


def test_what_a_call_typed_is_forgotten_when_it_ends(phone: Phone, hotline: Any) -> None:
    friend = Phone(phone.client, caller="+8613900139000", sid=twilio_sid("CA-FORGET"))
    friend.keys("3", "2", "447400123456")
    assert hotline.load_state(twilio_sid("CA-FORGET"))["lock_phone"] == "+447400123456"  # needed mid-call
    friend.post("/voice/status", CallStatus="completed", CallDuration="40")
    assert hotline.load_state(twilio_sid("CA-FORGET")) == {}
    assert hotline.call_record(twilio_sid("CA-FORGET"))["status"] == "completed"  # the call's record stays


def test_a_forked_worker_writes_its_own_log_lines(tmp_path: Any) -> None:
    """gunicorn --preload forks workers after logging is set up: the child needs a writer."""
    import json
    import os
    import warnings

    path = tmp_path / "worker.log"
    with open(path, "w", encoding="utf-8") as stream:
        logger, handler = batching_logger("ivr.test-fork", stream)
        handler.start(0.02)
        with warnings.catch_warnings():  # 3.12+ warns about forking a threaded process
            warnings.simplefilter("ignore", DeprecationWarning)
            child = os.fork()
        if child == 0:  # the worker: log, give the writer a moment, leave without cleanup
            try:
                logger.info("webhook", extra={"call_sid": "CA-CHILD"})
                time.sleep(0.5)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        logger.handlers = []
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["call_sid"] for line in lines] == ["CA-CHILD"]
