"""Cases have a life, through the CLI: list by status, show with attempts, close with a note;
`ivr callbacks run --once` against a fake Calls API, and `--at` rehearsals that change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from ivr.tools.cli import main
from tests.conftest import Clock, Phone
from tests.fake_twilio import ACCOUNT, AUTH_TOKEN, FakeTwilio, fake_twilio

PUBLIC = "https://ivr.example.com"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        yield fake


@pytest.fixture(autouse=True)
def same_store(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI on the app fixture's store and config."""
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    monkeypatch.setenv("IVR_INSTANCE_DIR", str(tmp_path / "cli-instance"))
    monkeypatch.setenv("USER", "ops.amelia")


def ivr(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def book_night_callback(client: object, clock: Clock) -> str:
    clock.set("2026-11-22T23:10:00+00:00")  # Sunday night in London
    phone = Phone(client, caller="+447400123456", dialed="+442038089999", sid="night")  # type: ignore[arg-type]
    phone.keys("0", "1")
    (case,) = json.loads(ivr("cases", "list", "--kind", "callback", "--status", "open", "--json"))
    return str(case["reference"])


def test_a_callback_is_listed_shown_dialed_by_the_worker_and_its_attempts_shown(
    app: Flask, clock: Clock, twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = book_night_callback(app.test_client(), clock)
    shown = json.loads(ivr("cases", "show", reference, "--json"))
    assert shown["status"] == "open" and shown["callback_number"] == "+447400123456"
    assert shown["attempts"] == [] and shown["closed_at"] is None and shown["note"] == ""

    for name, value in {
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_API_URL": twilio.url,
        "IVR_PUBLIC_URL": PUBLIC,
        "IVR_CLOCK": "2026-11-23T08:05:00+00:00",
    }.items():
        monkeypatch.setenv(name, value)
    out = ivr("callbacks", "run", "--once")
    (line, total) = out.strip().splitlines()[-2:]
    assert line.startswith(f"callback {reference} (gb, +44******3456): attempt 1, agent-first, placed CA")
    assert total == "1 attempt(s)"
    (placed,) = twilio.calls()
    assert placed["To"] == "+442079460000" and placed["From"] == "+442038089999"
    assert twilio.requests[0]["user"] == ACCOUNT  # the account's own credentials
    shown = json.loads(ivr("cases", "show", reference, "--json"))
    assert shown["status"] == "calling"
    assert [(a["result"], a["call_sids"]) for a in shown["attempts"]] == [
        ("dialing", [line.rsplit(" ", 1)[1]])
    ]
    assert json.loads(ivr("cases", "list", "--status", "open", "--json")) == []
    assert "3456" in ivr("cases", "show", reference) and "447400123456" not in ivr("cases", "show", reference)


def test_the_worker_says_in_one_line_what_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    out = ivr("callbacks", "run", "--once", code=1)
    assert out.strip() == "Error: IVR_PUBLIC_URL is not set: Twilio must reach the callback legs' webhooks"
    monkeypatch.setenv("IVR_PUBLIC_URL", PUBLIC)
    out = ivr("callbacks", "run", "--once", code=1)
    assert (
        out.strip()
        == "Error: TWILIO_ACCOUNT_SID is not set: the dialer places calls through Twilio's Calls API"
    )


def test_a_case_is_closed_with_who_when_and_a_note_once(app: Flask, clock: Clock) -> None:
    clock.set("2026-11-23T04:00:00+00:00")
    Phone(app.test_client(), sid="lock").keys("3", "1")  # a lockdown case
    (case,) = json.loads(ivr("cases", "list", "--kind", "lockdown", "--json"))
    reference = case["reference"]
    assert (
        ivr("cases", "close", reference, "--note", "Wallet unlocked after ID check")
        == f"case {reference} closed\n"
    )
    shown = json.loads(ivr("cases", "show", reference, "--json"))
    assert (shown["status"], shown["closed_by"], shown["note"]) == (
        "closed",
        "ops.amelia",
        "Wallet unlocked after ID check",
    )
    assert shown["closed_at"] is not None
    again = ivr("cases", "close", reference, "--note", "again", code=1)
    assert again == f"Error: case {reference} is closed, not open\n"
    assert ivr("cases", "close", "99999999", "--note", "x", code=1) == "Error: no case 99999999\n"
    assert ivr("cases", "show", "99999999", code=1) == "Error: no case 99999999\n"
    assert [c["reference"] for c in json.loads(ivr("cases", "list", "--status", "closed", "--json"))] == [
        reference
    ]


def test_a_rehearsal_dials_a_scratch_copy_in_process_and_changes_nothing(app: Flask, clock: Clock) -> None:
    reference = book_night_callback(app.test_client(), clock)
    early = ivr("callbacks", "run", "--once", "--at", "2026-11-23T07:30:00+00:00")
    assert "1 callback(s) waiting" in early and "0 attempt(s)" in early  # closed until 8
    out = ivr("callbacks", "run", "--once", "--at", "2026-11-23T08:00:00+00:00")
    assert f"callback {reference} (gb, +44******3456): attempt 1, agent-first, placed CA" in out
    assert "agent hears: OK Wallet call-back. No self-service used. Case reference" in out
    assert "agent presses 1" in out and "agent dials the caller, caller ID +442038089999" in out
    assert "caller hears: Hello, this is OK Wallet calling you back, as you asked." in out
    assert "447400123456" not in out
    assert out.strip().endswith("1 attempt(s); nothing was dialed for real")
    shown = json.loads(ivr("cases", "show", reference, "--json"))
    assert shown["status"] == "open" and shown["attempts"] == []  # the real store is untouched
