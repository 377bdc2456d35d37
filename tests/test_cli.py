"""The `ivr` command, invoked as ops and developers do."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.tools.cli import main


@pytest.fixture(autouse=True)
def isolated(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_route_json_has_the_contract_fields() -> None:
    data = json.loads(run("route", "+8613800138000", "--at", "2026-02-17T12:00:00+08:00", "--json"))
    assert {
        k: data[k] for k in ("region", "matched_by", "open", "reason", "next_open", "hotline", "language")
    } == {
        "region": "cn",
        "matched_by": "caller",
        "open": False,
        "reason": "holiday",
        "next_open": "2026-02-24T09:00:00+08:00",  # the break's weekend is closed too
        "hotline": "+864008200000",
        "language": "zh-CN",
    }


def test_route_by_dialed_number_for_a_withheld_caller() -> None:
    data = json.loads(
        run("route", "anonymous", "--to", "+85230011234", "--at", "2026-11-23T10:00:00+08:00", "--json")
    )
    assert (data["region"], data["matched_by"], data["open"], data["next_open"]) == (
        "hk",
        "dialed",
        True,
        None,
    )
    assert (data["language"], data["queue"]) == ("zh-HK", "hk-support")


def test_route_text_output() -> None:
    out = run("route", "+447400123456", "--at", "2026-11-23T12:00:00+00:00")
    assert out.strip() == "gb (by caller): open; hotline +442079460000; language en-GB"


def test_route_rejects_a_bad_instant() -> None:
    result = CliRunner().invoke(main, ["route", "+447400123456", "--at", "noon"])
    assert result.exit_code == 2 and "'noon' is not an ISO-8601 date and time" in result.output


def test_serve_refuses_without_a_token_unless_dev_on_loopback() -> None:
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 1 and "TWILIO_AUTH_TOKEN is not set" in result.output
    exposed = CliRunner().invoke(main, ["serve", "--dev", "--host", "0.0.0.0"])
    assert exposed.exit_code == 1 and "binds 127.0.0.1 only" in exposed.output


def test_wallet_show_and_txn_json() -> None:
    assert json.loads(run("wallet", "show", "A-1001", "--json")) == {
        "account": "A-1001",
        "username": "li.hua",
        "phone": "+8613800138000",
        "locked": False,
    }
    txn = json.loads(run("wallet", "txn", "70010002", "--json"))
    made = datetime.fromisoformat(txn.pop("created_at"))
    assert made.utcoffset() is not None
    assert txn == {
        "reference": "70010002",
        "account": "A-1001",
        "status": "pending",
        "amount": "120.00",
        "currency": "USDT",
        "disputed": False,
    }
    missing = CliRunner().invoke(main, ["wallet", "show", "A-9999"])
    assert missing.exit_code == 1 and "no account A-9999" in missing.output


def test_cases_and_sms_after_a_lockdown(tmp_path: Path, config_dir: Path) -> None:
    from ivr import create_app
    from tests.conftest import Phone

    app = create_app(
        {
            "TWILIO_AUTH_TOKEN": "test-auth-token",
            "CONFIG_DIR": str(config_dir),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
            "INSTANCE_DIR": str(tmp_path),
            "JOURNAL_BACKGROUND": False,
        }
    )
    Phone(app.test_client()).keys("3", "1")
    [case] = json.loads(run("cases", "list", "--json"))
    assert {k: case[k] for k in ("kind", "account", "region", "status")} == {
        "kind": "lockdown",
        "account": "A-1001",
        "region": "cn",
        "status": "open",
    }
    assert case["outcome"] == "locked"
    assert len(case["reference"]) == 8 and case["created_at"].endswith("+00:00")
    [sms] = json.loads(run("sms", "list", "--json"))
    assert set(sms) == {"to", "body", "created_at", "status"}
    assert sms["to"] == "+8613800138000" and case["reference"] in sms["body"]
    text = run("sms", "list")
    assert "+86*******8000" in text and "+8613800138000" not in text
    assert case["reference"] in run("cases", "list")
    assert json.loads(run("wallet", "show", "A-1001", "--json"))["locked"] is True


def test_sms_retry_without_twilio_says_there_is_nothing_to_send() -> None:
    assert "TWILIO_ACCOUNT_SID unset" in run("sms", "retry")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "postgresql+psycopg://ivr:s3cret@127.0.0.1:1/ivr",
            "Error: the store at postgresql+psycopg://ivr:***@127.0.0.1:1/ivr is unavailable: ",
        ),
        ("ivr.sqlite3", "Error: DATABASE_URL is not a database URL"),
    ],
)
def test_a_store_that_is_down_or_misnamed_is_one_clear_line(
    url: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    for command in (["cases", "list"], ["sms", "list"], ["region", "close", "gb", "--reason", "x"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1
        assert result.output.startswith(said), result.output
        assert "Traceback" not in result.output and "s3cret" not in result.output
