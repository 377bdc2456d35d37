"""The throughput bench compares like with like: its floor app really checks signatures, and
every simulated call comes from a new, valid number."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import phonenumbers
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from twilio.request_validator import RequestValidator

from tests.conftest import POSTGRES_SKIP

PUBLIC = "https://ivr.example.com"
ROOT = Path(__file__).resolve().parent.parent


def test_the_signature_floor_app_checks_what_the_ivr_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "floor-token")
    monkeypatch.setenv("IVR_PUBLIC_URL", PUBLIC + "/")
    monkeypatch.delitem(sys.modules, "bench.signed_app", raising=False)
    signed_app = importlib.import_module("bench.signed_app")
    client = signed_app.app.test_client()
    form = {"CallSid": "CA00000000000000000000000000000001", "From": "+8613800138000", "To": "+18885550100"}
    good = RequestValidator("floor-token").compute_signature(PUBLIC + "/voice", form)
    forged = RequestValidator("other-token").compute_signature(PUBLIC + "/voice", form)

    answered = client.post("/voice", data=form, headers={"X-Twilio-Signature": good})
    assert answered.status_code == 200 and answered.mimetype == "text/xml"
    assert b"<Gather" in answered.data
    assert client.post("/voice", data=form, headers={"X-Twilio-Signature": forged}).status_code == 403
    assert client.post("/voice", data=form).status_code == 403
    tampered = {**form, "From": "+8613900139000"}
    assert client.post("/voice", data=tampered, headers={"X-Twilio-Signature": good}).status_code == 403


def test_every_bench_call_comes_from_a_new_valid_number() -> None:
    from bench.throughput import next_caller

    numbers = [next_caller() for _ in range(600)]
    assert len(set(numbers)) == 600
    regions = set()
    for raw in numbers:
        parsed = phonenumbers.parse(raw, None)
        assert phonenumbers.is_valid_number(parsed), raw
        regions.add(phonenumbers.region_code_for_number(parsed))
    assert len(regions) > 200  # callers from (nearly) every country phonenumbers supports


def test_the_yardstick_apps_get_the_ivr_server_settings_without_its_speed_ups() -> None:
    """bench/gunicorn_plain.py: the same worker settings as gunicorn.conf.py, and nothing of the
    IVR imported (its preflight would turn on phonenumbers' pattern cache for every worker)."""
    probe = (
        "import runpy, sys; plain = runpy.run_path('bench/gunicorn_plain.py');"
        "ivr = runpy.run_path('gunicorn.conf.py');"
        "loaded = [m for m in sys.modules if m.startswith(('ivr.', 'phonenumbers'))];"
        "print(sorted(set(loaded) - {'ivr.settings'}));"
        "print(all(plain[k] == ivr[k] for k in plain['SETTINGS']))"
    )
    found = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split("\n")[:2] == ["[]", "True"]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (.ci/run installs Debian's wrk)")
def test_wrk_sends_every_call_once_and_signed(tmp_path: Path) -> None:
    """Every request wrk sends is a new call the IVR accepts: as many stored calls as requests."""
    from bench.harness import ivr_servers
    from bench.throughput import wrk

    url = f"sqlite:///{tmp_path / 'wrk.sqlite3'}"
    with ivr_servers(1, url, workers=1, threads=2) as (base,):
        run = wrk(base, 1, 4)
    assert run.errors == 0 and run.requests > 100
    with create_engine(url).connect() as connection:
        stored = connection.execute(text("SELECT count(*), count(DISTINCT sid) FROM calls")).one()
    calls, distinct = stored
    assert calls == distinct  # no call sent twice
    assert run.requests <= calls <= run.requests + 4  # wrk counts only answers: 4 may be in flight at its end


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("IVR_TEST_POSTGRES_URL"), reason=POSTGRES_SKIP)
def test_the_journeys_bench_sees_a_deadlock() -> None:
    """bench/journeys.py's deadlock count reads PostgreSQL's own counter: two transactions that
    take two rows in opposite orders move it."""
    import threading

    from bench.journeys import deadlocks

    url = os.environ["IVR_TEST_POSTGRES_URL"]
    engine = create_engine(url, poolclass=NullPool)  # every connection closed when released
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_deadlock"))
        connection.execute(text("CREATE TABLE bench_deadlock (id int PRIMARY KEY, n int)"))
        connection.execute(text("INSERT INTO bench_deadlock VALUES (1, 0), (2, 0)"))
    before = deadlocks(url)
    both = threading.Barrier(2)
    failures: list[str] = []

    def update(first: int, second: int) -> None:
        try:
            with engine.begin() as connection:
                connection.execute(text(f"UPDATE bench_deadlock SET n = n + 1 WHERE id = {first}"))
                both.wait()
                connection.execute(text(f"UPDATE bench_deadlock SET n = n + 1 WHERE id = {second}"))
        except Exception as exc:
            failures.append(type(exc).__name__)

    try:
        threads = [threading.Thread(target=update, args=order) for order in ((1, 2), (2, 1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        with engine.begin() as connection:  # the store's own schema tests see only its tables
            connection.execute(text("DROP TABLE IF EXISTS bench_deadlock"))
        engine.dispose()
    assert failures == ["OperationalError"]  # PostgreSQL broke the cycle by failing one
    for _ in range(30):  # its statistics are published within a second or so
        if deadlocks(url) > before:
            break
        time.sleep(0.1)
    assert deadlocks(url) == before + 1


def test_the_startup_bench_starts_200_real_regions(tmp_path: Path) -> None:
    """Its generated config passes `ivr check`'s loader: 200 regions, each with its own country
    (routed to it), time zone and hours, and public holidays wherever `holidays` has them."""
    from bench.startup import many_regions
    from ivr.config import load_config
    from ivr.flows import PHRASE_KEYS, PROMPT_KEYS
    from ivr.routing.regions import route_call

    config = load_config(many_regions(tmp_path / "config", 200), PROMPT_KEYS, PHRASE_KEYS)
    assert len(config.regions) == 200
    assert len({region.timezone for region in config.regions.values()}) > 100
    france = route_call(config, "+33612345678", None)
    assert (france.region.code, france.matched_by) == ("frx", "caller")
    assert config.schedule_for(france.region).holidays is not None


@pytest.mark.parametrize("webhook", ["voice", "menu", "lockdown", "status"])
def test_every_benched_webhook_is_answered_by_the_ivr_and_by_the_floor(
    client: object, monkeypatch: pytest.MonkeyPatch, webhook: str
) -> None:
    """The bench's forms and URLs are ones the IVR answers with its real TwiML (the lockdown
    locks, the status callback ends a call) and the floor app answers too."""
    from bench.throughput import WEBHOOKS, next_caller
    from tests.conftest import BASE, TOKEN, internal_errors, twilio_sid

    path, make_form = WEBHOOKS[webhook]
    form = make_form(twilio_sid(f"bench-{webhook}"), next_caller())
    signed = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(BASE + path, form)}
    answer = client.post(path, data=form, headers=signed, base_url=BASE)  # type: ignore[attr-defined]
    assert answer.status_code == 200 and answer.mimetype == "text/xml"
    expected = {
        "voice": "<Gather",
        "menu": "/voice/menu/recovery",
        "lockdown": "<Dial",
        "status": "<Response",
    }
    assert expected[webhook] in answer.get_data(as_text=True)
    assert internal_errors(client.application) == 0  # type: ignore[attr-defined]

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "floor-token")
    monkeypatch.setenv("IVR_PUBLIC_URL", PUBLIC)
    monkeypatch.delitem(sys.modules, "bench.signed_app", raising=False)
    floor = importlib.import_module("bench.signed_app").app.test_client()
    good = RequestValidator("floor-token").compute_signature(PUBLIC + path, form)
    assert floor.post(path, data=form, headers={"X-Twilio-Signature": good}).status_code == 200
    assert floor.post(path.split("?")[0], data=form, headers={"X-Twilio-Signature": good}).status_code == (
        200 if "?" not in path else 403
    )
