"""A newcomer's first hour: every command clear, every error one line (issue 16)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ivr.tools.cli import main
from tests.conftest import TOKEN
from tests.wallet_server import serving

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)


def invoke(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result


# 1. `ivr call --url` reports the request that failed, with a hint.


def test_call_url_with_a_wrong_token_names_voice_and_the_signature(
    app_factory: Any, monkeypatch: Any
) -> None:
    with serving(app_factory()) as url:
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-" + TOKEN)
        out = invoke("call", "--from", "+447400123456", "--url", url, "--keys", "3", code=1).output
    assert out.strip().splitlines()[-1] == (
        f"Error: simulation stopped: POST {url}/voice answered HTTP 403 (signature refused: check that "
        "TWILIO_AUTH_TOKEN is the server's token, and that IVR_PUBLIC_URL on the server matches the URL "
        "given here)"
    )


def test_call_url_ending_in_voice_is_taken_as_the_base(app_factory: Any, monkeypatch: Any) -> None:
    with serving(app_factory()) as url:
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
        out = invoke("call", "--from", "+447400123456", "--url", url + "/voice", "--keys", "3,1").output
    assert "-- call ended" in out and "+442079460001" in out


def test_call_url_with_the_server_down_says_so() -> None:
    out = invoke(
        "call", "--from", "+447400123456", "--url", "http://127.0.0.1:9", "--keys", "3", code=1
    ).output
    assert "POST http://127.0.0.1:9/voice: no server answers there (is `scripts/serve` running?)" in out


# 2. An unsupported or driverless DATABASE_URL is one line.


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://x@127.0.0.1/y", "Error: DATABASE_URL: mysql is not supported; the store runs on sqlite"),
        ("postgresql+asyncpg://x@h/y", "Error: DATABASE_URL: the driver 'asyncpg' is not installed"),
    ],
)
def test_an_unsupported_database_is_one_line(monkeypatch: Any, url: str, said: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    out = invoke("cases", "list", code=1).output
    assert len(out.strip().splitlines()) == 1 and out.startswith(said)


# 3. 4. 5. Emergency closures.


def test_route_during_a_closure_without_an_end_says_until_reopened() -> None:
    invoke("region", "close", "gb", "--reason", "Fire drill")
    out = invoke("route", "+447400123456").output
    assert "closed (emergency), next open when ops reopen it (ivr region reopen)" in out


def test_a_closure_that_ends_in_the_past_is_refused() -> None:
    out = invoke("region", "close", "gb", "--reason", "x", "--until", "2020-01-01T00:00:00Z", code=2).output
    assert "--until: '2020-01-01T00:00:00Z' has already passed" in out


def test_the_simulator_says_a_real_closure_does_not_apply_to_its_scratch_store() -> None:
    invoke("region", "close", "gb", "--reason", "Fire drill")
    result = invoke("call", "--from", "+447400123456", "--keys", "")
    assert "note: gb is closed by ops in the real store (Fire drill)" in result.stderr


# 7. Config errors in one pass, in our words.


def test_every_config_error_is_reported_in_one_run(config_dir: Path) -> None:
    regions = config_dir / "regions.yaml"
    text = regions.read_text()
    text = text.replace('fraud_desk: "+442079460001"', 'fraud_desk: "12345"').replace(
        "hours: sg\n", "hours: sgx\n"
    )
    regions.write_text(text)
    out = invoke("check", code=1).output
    assert "fraud_desk: '12345' is not a phone number in E.164 form: + then the country code" in out
    assert "regions.sg.hours: no schedule named 'sgx' in hours.yaml" in out
    assert "Missing or invalid default region" not in out


# 8. 9. Numbers and dates.


@pytest.mark.parametrize("number", ["+86abc", "12345", "garbage"])
def test_a_malformed_number_warns_and_routes_as_a_real_call_would(number: str) -> None:
    result = invoke("route", number)
    assert result.stderr.startswith(f"warning: {number!r} is not a valid phone number; routed by the ")
    assert result.stdout.startswith("global (by default)")


def test_date_options_name_themselves_and_ask_for_an_offset() -> None:
    out = invoke("report", "--from", "yesterday", code=2).output
    assert "--from: 'yesterday' is not an ISO-8601 date and time" in out
    assert "ISO-8601 instant with its UTC offset" in invoke("route", "--help").output


# 10. 11. Small things.


def test_the_readme_lists_the_demo_wallet_where_ivr_wallet_is_introduced() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("ivr wallet show") - 2000 : readme.index("ivr wallet show") + 2000]
    for account in ("A-1001", "li.hua", "+8613800138000", "2468", "70010002", "pending"):
        assert account in section, account


def test_wallet_show_says_yes_or_no() -> None:
    out = invoke("wallet", "show", "A-1001").output
    assert "locked    no" in out and "False" not in out


def test_report_header_has_no_microseconds() -> None:
    out = invoke(
        "report", "--from", "2026-11-01T00:00:00.123456+00:00", "--to", "2026-11-08T00:00:00+00:00"
    ).output
    assert out.splitlines()[0] == "Calls 2026-11-01T00:00:00+00:00 to 2026-11-08T00:00:00+00:00: 0"


def test_a_failed_scenario_names_its_file_once(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n")
    out = invoke("scenarios", "run", str(bad), code=1).output
    assert out.splitlines()[0] == "FAIL bad.yaml"


def test_keys_a_keypad_cannot_send_are_refused_and_leftovers_warned() -> None:
    out = invoke("call", "--from", "+447400123456", "--keys", "x", code=1).output
    assert "'x' is not something a keypad can send" in out
    # After 3,1 one key still counts while the lock is confirmed (2: another wallet); then the desk.
    result = invoke("call", "--from", "+447400123456", "--keys", "3,1,5,5,5")
    assert "warning: the call ended before these --keys were used: 5,5" in result.stderr


def test_every_json_option_says_what_it_does() -> None:
    for command in (["cases", "list"], ["sms", "list"], ["wallet", "show"], ["report"], ["route"], ["hours"]):
        help_text = " ".join(invoke(*command, "--help").output.split())
        assert "--json Print" in help_text, command


def test_region_close_usage_and_errors_say_region() -> None:
    assert "Usage: main region close [OPTIONS] REGION" in invoke("region", "close", "--help").output
    assert (
        "Invalid value for REGION: 'zz' is not one of"
        in invoke("region", "close", "zz", "--reason", "x", code=2).output
    )


def test_json_logs_carry_no_terminal_colour_codes() -> None:
    from ivr.web.logs import JsonFormatter

    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, "\x1b[31mGET /voice\x1b[0m 403", None, None)
    assert json.loads(JsonFormatter().format(record))["message"] == "GET /voice 403"


# 12. The scripts.


def test_the_test_script_says_why_tests_skip_and_setup_installs_only_on_change() -> None:
    assert "pytest -rs" in (ROOT / "scripts" / "test").read_text()
    setup = (ROOT / "scripts" / "setup").read_text()
    assert "cmp -s pyproject.toml" in setup


# 13. Routing the Crown dependencies and national UK numbers.


def test_a_guernsey_mobile_reaches_the_uk_line_in_british_english() -> None:
    data = json.loads(invoke("route", "+447911123456", "--json").output)
    assert (data["region"], data["language"]) == ("gb", "en-GB")


def test_a_national_uk_number_typed_in_a_uk_call_is_accepted(phone: Any) -> None:
    from ivr.routing.regions import typed_number

    assert typed_number("07400123456", ("GB", "IE", "GG", "JE", "IM")) == "+447400123456"
