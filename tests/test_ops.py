"""Ops visibility: metrics, emergency closures, the status page (in a real browser), reports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask import Flask

from ivr.tools.cli import main
from tests.conftest import Clock, Phone, twilio_sid
from tests.servers import gunicorn
from tests.wallet_server import serving

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = ("+8613800138000", "+447400123456", "+85291234567", "+14155550123")


def some_calls(client: Any) -> None:
    Phone(client, sid="CA1").keys("3", "1")  # cn lockdown
    Phone(client, caller="+447400123456", dialed="+442038089999", sid="CA2").keys("1", "2")  # gb recovery
    Phone(client, caller="+85291234567", dialed="+85230011234", sid="CA3").keys("0")  # hk agent (queue)
    hk_busy = Phone(client, caller="+447400123456", dialed="+442038089999", sid="CA4")
    hk_busy.keys("0")
    hk_busy.follow(DialCallStatus="busy")
    hk_busy.press("1")  # gb callback
    Phone(client, caller="+14155550123", dialed="+18005550100", sid="CA5").call()  # us, hangs up
    for n in range(1, 6):
        Phone(client, sid=f"CA{n}").twiml("/voice/status", CallStatus="completed", CallDuration="30")


def test_metrics_count_calls_choices_and_outcomes_without_numbers(app: Flask, clock: Clock) -> None:
    clock.set("2026-11-23T09:00:00+00:00")  # gb, hk and cn open
    some_calls(app.test_client())
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'ivr_calls_total{matched_by="caller",region="cn"} 1.0' in text
    assert 'ivr_calls_total{matched_by="caller",region="gb"} 2.0' in text
    assert 'ivr_menu_choices_total{choice="lockdown",menu="main"} 1.0' in text
    assert 'ivr_menu_choices_total{choice="lockdown.self",menu="lockdown"} 1.0' in text
    for region, outcome in (
        ("cn", "lockdown"),
        ("gb", "recovery"),
        ("hk", "agent"),
        ("gb", "callback"),
        ("us", "abandoned"),
    ):
        assert f'ivr_outcomes_total{{outcome="{outcome}",region="{region}"}} 1.0' in text, outcome
    assert 'ivr_wallet_seconds_count{ok="true",operation="find_by_phone"}' in text
    assert 'ivr_store_seconds_count{what="transaction"}' in text
    assert "ivr_webhook_seconds_bucket" in text
    for number in NUMBERS:
        assert number not in text and number[1:] not in text


def test_journeys_keep_the_path_and_the_strongest_outcome(app: Flask, hotline: Any, clock: Clock) -> None:
    clock.set("2026-11-23T09:00:00+00:00")
    some_calls(app.test_client())
    lockdown = hotline.call_record(twilio_sid("CA1"))
    assert lockdown["journey"].startswith("main:lockdown;lockdown:lockdown.self;outcome:lockdown;")
    assert lockdown["outcome"] == "lockdown"  # the fraud desk dial after it does not replace it
    assert (lockdown["status"], lockdown["duration"]) == ("completed", 30)
    assert hotline.call_record(twilio_sid("CA5"))["outcome"] == "abandoned"
    assert "8613800138000" not in json.dumps(
        [dict(hotline.call_record(twilio_sid(f"CA{n}"))) for n in range(1, 6)], default=str
    )


def test_metrics_add_up_over_gunicorn_workers(tmp_path: Path, config_dir: Path) -> None:
    from twilio.request_validator import RequestValidator

    env = {
        "TWILIO_AUTH_TOKEN": "t",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}",
        "IVR_CONFIG_DIR": str(config_dir),
        "IVR_INSTANCE_DIR": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    with gunicorn(env, workers=2, threads=2) as server:
        for n in range(20):
            form = {"CallSid": f"CA{n:032x}", "From": "+8613800138000", "To": "+864001234567"}
            signature = RequestValidator("t").compute_signature(server + "/voice", form)
            assert (
                requests.post(
                    server + "/voice", data=form, headers={"X-Twilio-Signature": signature}, timeout=10
                ).status_code
                == 200
            )
        text = requests.get(server + "/metrics", timeout=10).text
    assert 'ivr_calls_total{matched_by="caller",region="cn"} 20.0' in text


def cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_emergency_closure_reaches_a_running_server_and_reopen_restores(
    tmp_path: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    env = {
        "TWILIO_AUTH_TOKEN": "t",
        "DATABASE_URL": database,
        "IVR_CONFIG_DIR": str(config_dir),
        "IVR_INSTANCE_DIR": str(tmp_path),
        "IVR_CLOCK": "2026-11-23T12:00:00+00:00",  # a Monday noon, whatever day CI runs
    }
    from ivr.tools.simulator import Simulator, keys_from_list, signed_transport

    def call(server: str, keys: list[str]) -> Any:
        def send(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
            response = requests.post(url, data=form, headers=headers, timeout=10)
            return response.status_code, response.text

        return Simulator(
            signed_transport(server, "t", send), "+447400123456", "+442038089999", keys_from_list(keys)
        ).run()

    with gunicorn(env) as server:
        first = call(server, ["0"])
        assert first.dialed == ["+442079460000"], first.heard()
        assert "gb closed (weather: Storm Ciaran: office shut)" in cli(
            "region", "close", "gb", "--reason", "Storm Ciaran: office shut", "--category", "weather"
        )
        time.sleep(1.1)  # every server re-reads closures at most once a second
        closed = call(server, ["0", "*"])
        assert closed.dialed == []
        assert "can't take calls right now because of severe weather" in closed.heard()
        assert "Storm" not in closed.heard()  # the caller hears the category, not the ops note
        locked = call(server, ["3", "1"])
        assert locked.dialed == ["+442079460001"]  # self-service and lockdown still work
        assert cli("region", "reopen", "gb").strip() == "gb reopened"
        time.sleep(1.1)
        first = call(server, ["0"])
        assert first.dialed == ["+442079460000"], first.heard()
    assert cli("region", "reopen", "gb").strip() == "gb had no emergency closure"
    assert "'mars' is not one of" in cli("region", "close", "mars", "--reason", "x", code=2)


def test_emergency_closure_until_a_time(app: Flask, hotline: Any, clock: Clock) -> None:
    from datetime import datetime

    clock.set("2026-11-23T12:00:00+08:00")
    hotline.close_region("cn", "Power cut", "outage", datetime.fromisoformat("2026-11-23T15:30:00+08:00"))
    answer = Phone(app.test_client()).call()
    assert "由于技术故障，人工客服暂时无法接听，将于今天下午3点30分恢复" in answer.text
    clock.set("2026-11-23T15:31:00+08:00")
    hotline.closures.expire()
    assert "人工客服现在可以为您服务" in Phone(app.test_client(), sid="CA2").call().text


@pytest.fixture
def ops_app(app_factory: Any) -> Flask:
    return app_factory(OPS_USER="ops", OPS_PASSWORD="s3cret-pw")  # type: ignore[no-any-return]


def test_ops_page_is_off_without_a_password(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVR_OPS_USER", raising=False)
    monkeypatch.delenv("IVR_OPS_PASSWORD", raising=False)
    assert app.test_client().get("/ops").status_code == 404


def test_ops_page_refuses_without_the_right_password(ops_app: Flask) -> None:
    client = ops_app.test_client()
    refused = client.get("/ops")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/ops", auth=("ops", "wrong")).status_code == 401
    assert client.get("/ops", auth=("ops", "s3cret-pw")).status_code == 200


def test_ops_page_content(ops_app: Flask, clock: Clock) -> None:
    clock.set("2026-02-17T04:00:00+00:00")  # Spring Festival in China, a Tuesday
    client = ops_app.test_client()
    theft = Phone(client, sid="CA-T")
    theft.keys("3", "1")
    theft.follow(DialCallStatus="no-answer")
    theft.press("1")  # a theft callback
    ops_app.extensions["ivr"].close_region("sg", "Flooded office", "weather", None)
    ops_app.extensions["ivr"].closures.expire()
    html = client.get("/ops", auth=("ops", "s3cret-pw")).get_data(as_text=True)
    for code in ("cn", "hk", "sg", "gb", "us", "global"):
        assert f'<th scope="row">{code} ' in html
    assert "Chinese New Year (Spring Festival)" in html and "Closed" in html
    assert "weather: Flooded office" in html
    assert '<tr class="theft">' in html and "+86*******8000" in html
    assert "8613800138000" not in html.replace("+86*******8000", "")
    assert html.count("<svg") == 6 and 'http-equiv="refresh"' in html
    assert "Tue 17 Feb ★" in html  # the chart marks the holiday on its own day


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_ops_page_in_headless_chromium(ops_app: Flask, tmp_path: Path, clock: Clock) -> None:
    clock.set("2026-11-23T04:00:00+00:00")
    Phone(ops_app.test_client()).keys("3", "1")
    shots = ROOT / "build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with serving(ops_app) as url:
        page = url.replace("http://", "http://ops:s3cret-pw@") + "/ops"
        base = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
        dom = subprocess.run([*base, "--dump-dom", page], capture_output=True, text=True, timeout=60).stdout
        shot = shots / "ops.png"
        subprocess.run(
            [*base, "--window-size=1280,2200", f"--screenshot={shot}", page],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        phone_shot = shots / "ops-phone.png"
        subprocess.run(
            [*base, "--window-size=390,2400", f"--screenshot={phone_shot}", page],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert "<h1>OK Wallet hotline</h1>" in dom
    assert len(re.findall(r'<th scope="row">(cn|hk|sg|gb|us|global) ', dom)) == 6
    assert dom.count("<svg") == 6 and "lockdown" in dom
    assert shot.exists() and shot.stat().st_size > 10_000 and phone_shot.exists()


def test_report_counts_calls_by_region_and_outcome(
    app: Flask, clock: Clock, config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set("2026-11-23T09:00:00+00:00")
    some_calls(app.test_client())
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    data = json.loads(
        cli("report", "--from", "2026-11-23T00:00:00+00:00", "--to", "2026-11-24T00:00:00+00:00", "--json")
    )
    assert data["calls"] == 5
    assert data["by_region"]["gb"]["calls"] == 2
    assert (data["by_region"]["gb"]["recovery"], data["by_region"]["gb"]["callback"]) == (1, 1)
    assert (data["by_region"]["cn"]["lockdown"], data["by_region"]["us"]["abandoned"]) == (1, 1)
    assert data["containment_rate"] == pytest.approx(2 / 5)
    assert data["median_seconds_to_lockdown"] == 0
    assert data["callbacks_waiting"]["count"] == 1
    text = cli("report", "--from", "2026-11-23T00:00:00+00:00", "--to", "2026-11-24T00:00:00+00:00")
    assert "Calls 2026-11-23T00:00:00+00:00 to 2026-11-24T00:00:00+00:00: 5" in text
    assert "Self-service containment: 40%" in text
