"""`ivr call`, `ivr scenarios`, `ivr hours` and `ivr twilio-setup`, run as ops and developers do."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from ivr import create_app
from ivr.tools.cli import main
from ivr.tools.simulator import SimulationError, Simulator, keys_from_list
from tests.conftest import stored_cases
from tests.wallet_server import serving

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    real_store = tmp_path / "real.sqlite3"
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{real_store}")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    return real_store


def run(*args: str, input: str | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exit_code == code, result.output
    return result.output


def test_holiday_call_hears_the_holiday_and_dials_nobody() -> None:
    data = json.loads(
        run("call", "--from", "+8613800138000", "--at", "2026-02-17T12:00:00+08:00", "--keys", "0", "--json")
    )
    assert data["dialed"] == [] and data["region"] == "cn"
    said = " ".join(s["text"] for s in data["steps"] if s["verb"] == "Say")
    assert "今天是法定节假日" in said and "2月24日星期二上午9点" in said
    assert data["steps"][0]["language"] == "cmn-CN"
    assert {"verb": "Gather", "keys": "0", "text": "pressed 0"} in data["steps"]


def test_weekday_noon_call_dials_the_china_hotline() -> None:
    data = json.loads(
        run("call", "--from", "+8613800138000", "--at", "2026-11-23T12:00:00+08:00", "--keys", "0", "--json")
    )
    assert data["dialed"] == ["+864008200000"] and data["ended"] == "hangup"
    [dial] = [s for s in data["steps"] if s["verb"] == "Dial"]
    assert (dial["status"], dial["caller_id"], dial["timeout"]) == ("completed", "+8613800138000", "25")


def test_keys_from_stdin_lock_a_wallet_in_a_scratch_store(isolated: Path) -> None:
    out = run("call", "--from", "+447400123456", input="3\n1\n")
    done = (
        "[en-GB] Any wallet on this number is locked now: "
        "no money can leave it, and any pending transfer is on hold."
    )
    assert done in out
    assert "  > dial +442079460001: completed" in out
    assert not isolated.exists()  # the real store was never touched
    assert json.loads(run("wallet", "show", "A-1002", "--json"))["locked"] is False


def test_dial_status_choice_leads_to_the_offer() -> None:
    data = json.loads(
        run(
            "call",
            "--from",
            "+447400123456",
            "--at",
            "2026-11-23T12:00:00+00:00",
            "--keys",
            "0,1",
            "--dial-status",
            "busy",
            "--json",
        )
    )
    assert data["cases"] == {"callback": 1} and data["dialed"] == ["+442079460000"]


def test_empty_key_is_silence_and_end_of_keys_hangs_up() -> None:
    data = json.loads(
        run("call", "--from", "+8613800138000", "--at", "2026-11-23T12:00:00+08:00", "--keys", "", "--json")
    )
    assert data["steps"][3] == {"verb": "Gather", "keys": "", "text": "(silence)"}
    assert data["ended"] == "caller-hangup"


def test_against_a_running_server(tmp_path: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(
        {
            "TWILIO_AUTH_TOKEN": "server-token",
            "CONFIG_DIR": str(config_dir),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'server.sqlite3'}",
            "INSTANCE_DIR": str(tmp_path),
            "JOURNAL_BACKGROUND": False,
        }
    )
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "server-token")
    with serving(app) as url:
        data = json.loads(run("call", "--from", "+8613800138000", "--keys", "3,1", "--url", url, "--json"))
        assert data["dialed"] == ["+442079460001"]
        # The same keys again are a new call (a new CallSid), not a replay of the first one.
        again = json.loads(run("call", "--from", "+8613800138000", "--keys", "3,1", "--url", url, "--json"))
        assert again["dialed"] == ["+442079460001"]
        references = [c["reference"] for c in stored_cases(app.extensions["ivr"], "lockdown")]
        assert len(references) == 2 and references[0] != references[1]
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", "wrong-token")
        refused = run("call", "--from", "+8613800138000", "--keys", "3", "--url", url, code=1)
        assert "answered HTTP 403" in refused
    assert app.extensions["ivr"].wallet.get_account("A-1001").locked is True
    app.extensions["ivr"].store.dispose()


def fake(documents: dict[str, str]) -> Any:
    def transport(url: str, form: dict[str, str]) -> tuple[int, str]:
        return 200, documents.get(urlsplit(url).path, documents["*"])

    return transport


@pytest.mark.parametrize(
    ("documents", "error"),
    [
        ({"*": "<Response><Redirect>/voice</Redirect></Response>"}, "redirects without a key press"),
        (
            {"*": "<Response><Sing>la</Sing></Response>"},
            "verb.unknown: Response/Sing[1]: <Sing> is not a TwiML verb",
        ),
        ({"*": "<Response><Say>unclosed</Response>"}, "invalid TwiML"),
        (
            {"*": "<Response><Leave/></Response>"},
            "leave.in_queue: Response/Leave[1]: <Leave> outside a queue",
        ),
        (
            {"*": "<Response><Gather action='/x'><Dial>1</Dial></Gather></Response>"},
            "verb.nesting: Response/Gather[1]/Dial[1]: <Dial> may not be nested in <Gather>",
        ),
    ],
)
def test_the_simulator_stops_with_a_clear_message(documents: dict[str, str], error: str) -> None:
    simulator = Simulator(fake({**documents, "/voice/status": "<Response/>"}), "+1", "+2", keys_from_list([]))
    with pytest.raises(SimulationError, match=re.escape(error)):
        simulator.run()


def test_the_simulator_follows_gather_attributes() -> None:
    documents = {
        "/voice": "<Response><Gather action='/pin' finishOnKey='#'><Say>PIN?</Say></Gather></Response>",
        "/pin": "<Response><Gather action='/one' numDigits='1'><Say>One key</Say></Gather></Response>",
        "/one": "<Response><Pause length='2'/><Reject/></Response>",
        "*": "<Response/>",
    }
    sent: list[dict[str, str]] = []

    def transport(url: str, form: dict[str, str]) -> tuple[int, str]:
        path = urlsplit(url).path
        sent.append({"url": path, "digits": form.get("Digits", "")})
        return 200, documents.get(path, documents["*"])

    transcript = Simulator(transport, "+1", "+2", keys_from_list(["1234#", "98"])).run()
    assert [s for s in sent if s["digits"]] == [
        {"url": "/pin", "digits": "1234"},
        {"url": "/one", "digits": "9"},
    ]
    assert (
        transcript.ended == "reject"
        and {"verb": "Pause", "length": 2, "text": "pause 2 s"} in transcript.steps
    )


def test_every_shipped_scenario_passes() -> None:
    out = run("scenarios", "run", str(ROOT / "tests" / "scenarios"))
    assert out.strip().endswith(" passed, 0 failed")
    assert int(out.strip().splitlines()[-1].split()[0]) >= 20


def test_a_failing_scenario_exits_1_and_says_why(tmp_path: Path) -> None:
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(
        'name: wrong hotline\nfrom: "+8613800138000"\nat: 2026-11-23T12:00:00+08:00\n'
        'keys: ["0"]\nexpect:\n  dialed: ["+85228000000"]\n'
    )
    out = run("scenarios", "run", str(scenario), code=1)
    assert "FAIL wrong.yaml: wrong hotline" in out
    assert "dialed: expected ['+85228000000'], got ['+864008200000']" in out


def test_a_malformed_scenario_names_its_line(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(
        'name: bad\nfrom: "+8613800138000"\nat: 2026-11-23T12:00:00\ndial_status: rang\nexpect: {}\n'
    )
    out = run("scenarios", "run", str(scenario), code=1)
    assert (
        f"{scenario}:3: at: Value error, give the instant with its UTC offset" in out
        or f"{scenario}:3: at: give the instant with its UTC offset" in out
    )
    assert f"{scenario}:4: dial_status: 'rang' is not one of completed" in out


def test_hours_table_marks_holidays_and_make_up_days() -> None:
    out = run("hours", "cn", "--from", "2026-02-13", "--days", "5")
    lines = out.splitlines()
    assert lines[0] == "cn (China mainland), local time Asia/Shanghai"
    assert lines[2].startswith("2026-02-14 Sat  09:00-21:00") and "make-up working day" in lines[2]
    assert "closed" in lines[4] and "Chinese New Year's Eve" in lines[4]
    data = json.loads(run("hours", "us", "--from", "2026-11-25", "--days", "2", "--json"))
    assert data["days"] == [
        {"date": "2026-11-25", "weekday": "Wed", "open": ["07:00-01:00"], "kind": "regular", "note": ""},
        {"date": "2026-11-26", "weekday": "Thu", "open": [], "kind": "holiday", "note": "Thanksgiving Day"},
    ]
    assert "24 hours" in run("hours", "global", "--days", "1")
    assert "'mars' is not one of" in run("hours", "mars", code=2)


def setup_commands() -> list[str]:
    out = run("twilio-setup", "--public-url", "https://ivr.example.com/")
    return [line for line in out.splitlines() if line and not line.startswith("#")]


def test_twilio_setup_covers_every_dialed_number() -> None:
    commands = setup_commands()
    assert len(commands) == 12  # two per dialed number
    assert commands[0] == (
        "twilio phone-numbers:update +864001234567 --voice-url https://ivr.example.com/voice "
        "--voice-method POST --voice-fallback-url https://ivr.example.com/voice/fallback "
        "--voice-fallback-method POST"
    )
    assert "--status-callback https://ivr.example.com/voice/status" in commands[1]
    for number in ("+85230011234", "+6531251234", "+442038089999", "+18005550100", "+18885550100"):
        assert any(number in c for c in commands)
    assert "public https:// URL" in run("twilio-setup", "--public-url", "http://localhost:5000", code=2)


TWILIO_CLI = os.environ.get("IVR_TWILIO_CLI")


@pytest.mark.skipif(
    not TWILIO_CLI, reason="IVR_TWILIO_CLI (the npm twilio-cli, installed by .ci/run) not set"
)
def test_the_real_twilio_cli_accepts_every_printed_command(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "dummy-token",
        "HOME": str(tmp_path),
    }
    pieces = []
    for command in setup_commands():
        for part in command.split(" && "):
            part = part.removeprefix("sid=$(").removesuffix(")").replace('"$sid"', "PN" + "0" * 32)
            pieces.append(shlex.split(part))
    assert len(pieces) == 18
    for argv in pieces:
        assert argv[0] == "twilio"
        result = subprocess.run(
            [str(TWILIO_CLI), *argv[1:], "-l", "debug"], env=env, capture_output=True, text=True, timeout=60
        )
        output = result.stdout + result.stderr
        assert "Unexpected argument" not in output and "Nonexistent flag" not in output, output
        assert "Expected --" not in output and "Missing required flag" not in output, output
        assert "validation errors" not in output and "Cannot execute command" not in output, output
        assert "api.twilio.com" in output, output  # it got as far as the network
