"""A newcomer's first hour, round two: commands that say what they did (issue 30, items 5-9)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ivr.tools.cli import main
from tests.conftest import Phone


@pytest.fixture(autouse=True)
def isolated(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("IVR_WALLET_URL", raising=False)


def invoke(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result


# 9. `ivr wallet reset`: the demo wallet as seeded again, after a rehearsal lock.


def test_wallet_reset_unlocks_and_restores_the_seeded_transfers(tmp_path: Path, app_factory: Any) -> None:
    from ivr.wallet.demo import DemoWallet

    # A rehearsal lockdown on a server sharing the CLI's store.
    Phone(app_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}").test_client()).keys("3", "1")
    invoke("wallet", "txn", "70010002")  # the store is seeded before the cancel below
    assert json.loads(invoke("wallet", "show", "A-1001", "--json").output)["locked"] is True
    out = invoke("wallet", "reset").output
    accounts, transactions = DemoWallet.seed_rows(datetime.now(UTC))
    assert (
        out == f"demo wallet reset: {len(accounts)} accounts, {len(transactions)} transactions, as seeded\n"
    )
    assert json.loads(invoke("wallet", "show", "A-1001", "--json").output)["locked"] is False
    for seeded in transactions:
        txn = json.loads(invoke("wallet", "txn", seeded["reference"], "--json").output)
        assert (txn["status"], txn["disputed"]) == (seeded["status"], False)


def test_wallet_reset_is_refused_with_a_real_back_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_WALLET_URL", "http://127.0.0.1:9")
    out = invoke("wallet", "reset", code=1).output
    assert out == "Error: IVR_WALLET_URL is set: only the demo wallet can be reset\n"


# 5. `ivr serve` (and so `scripts/serve`) on a busy port: one line of ours, no banner first.

IVR = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "ivr")


def serve_env(config_dir: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    import os

    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "IVR_CONFIG_DIR": str(config_dir),
        "IVR_INSTANCE_DIR": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        **extra,
    }


def test_serve_on_a_busy_port_says_so_in_one_line_and_names_port(config_dir: Path, tmp_path: Path) -> None:
    import socket
    import subprocess

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [IVR, "serve", "--dev", "--port", str(port)],
            env=serve_env(config_dir, tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "Serving the IVR" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"Error: port {port} on 127.0.0.1 is already in use (another server?); stop it, or serve on "
        f"another port: scripts/serve --port {port + 1}"
    )


# 9. `ivr serve` with a store that does not answer says so, then serves.


def test_serve_with_the_store_down_warns_then_serves(config_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import urllib.request

    from tests.servers import free_port

    port, dead = free_port(), free_port()
    process = subprocess.Popen(
        [IVR, "serve", "--dev", "--port", str(port)],
        env=serve_env(
            config_dir, tmp_path, DATABASE_URL=f"postgresql+psycopg://ivr:secret@127.0.0.1:{dead}/ivr"
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        said = []
        for line in process.stderr:
            said.append(line.rstrip("\n"))
            if line.startswith("Serving the IVR"):
                break
        assert said[-2:] == [
            f"warning: the store at postgresql+psycopg://ivr:***@127.0.0.1:{dead}/ivr does not answer: "
            "calls are answered, but steps that need it apologise and dial the hotline until it does "
            "(/readyz says 503)",
            f"Serving the IVR on http://127.0.0.1:{port}/voice",
        ]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            assert answer.status == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stderr is not None:
            process.stderr.close()


# 6. One rule for times: an instant without its offset is refused, as scenarios and IVR_CLOCK do.


@pytest.mark.parametrize(
    "args",
    [
        ("route", "+447400123456", "--at"),
        ("call", "--from", "+447400123456", "--keys", "", "--at"),
        ("cases", "list", "--since"),
        ("sms", "list", "--since"),
        ("report", "--to"),
        ("region", "close", "gb", "--reason", "drill", "--until"),
    ],
)
def test_an_instant_without_an_offset_is_refused_by_every_option(args: tuple[str, ...]) -> None:
    out = invoke(*args, "2026-03-02T08:30:00", code=2).output
    option = args[-1]
    assert out.splitlines()[-1] == (
        f"Error: {option}: '2026-03-02T08:30:00' has no UTC offset; add one, e.g. "
        "2026-03-02T08:30:00+08:00 or 2026-03-02T08:30:00Z"
    )


def test_scenarios_and_the_cli_refuse_the_same_string(tmp_path: Path) -> None:
    scenario = tmp_path / "naive.yaml"
    scenario.write_text('name: naive\nfrom: "+447400123456"\nat: 2026-03-02T08:30:00\nexpect: {}\n')
    out = invoke("scenarios", "run", str(scenario), code=1).output
    assert "give the instant with its UTC offset" in out


# 9. Small things, each a line.


def test_a_list_that_fits_its_limit_is_not_said_to_be_cut(tmp_path: Path, app_factory: Any) -> None:
    server = app_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}").test_client()
    Phone(server, sid="first").keys("3", "1")
    fits = invoke("cases", "list", "--limit", "1")
    assert "note:" not in fits.stderr and len(fits.stdout.splitlines()) == 2
    Phone(server, sid="second").keys("3", "1")
    cut = invoke("cases", "list", "--limit", "1", "--json")
    assert cut.stderr == "note: the newest 1 shown; use --limit or --since for others\n"
    [newest] = json.loads(cut.stdout)
    assert newest["reference"] == json.loads(invoke("cases", "list", "--json").stdout)[-1]["reference"]
    texts = invoke("sms", "list", "--limit", "2")
    assert "note:" not in texts.stderr and len(texts.stdout.splitlines()) == 3


def test_a_second_closure_says_it_replaced_the_first() -> None:
    first = invoke("region", "close", "gb", "--reason", "Fire drill").output
    assert first == "gb closed (other: Fire drill) until reopened\n"
    second = invoke("region", "close", "gb", "--reason", "Storm", "--category", "weather").output
    assert second == (
        "gb was already closed (other: Fire drill): replaced\ngb closed (weather: Storm) until reopened\n"
    )


def test_report_from_after_to_is_refused() -> None:
    out = invoke(
        "report", "--from", "2026-11-08T00:00:00+00:00", "--to", "2026-11-01T00:00:00+00:00", code=2
    ).output
    assert out.splitlines()[-1] == (
        "Error: --from: '2026-11-08T00:00:00+00:00' is not before --to '2026-11-01T00:00:00+00:00'"
    )


def test_db_purge_says_how_long_each_table_keeps_in_words() -> None:
    out = invoke("db", "purge").output.splitlines()
    assert out == [
        "attempts              0 removed (kept: 1 day)",
        "call_steps            0 removed (kept: 1 day)",
        "call_state            0 removed (kept: 1 day)",
        "one_time_codes        0 removed (kept: 1 hour)",
        "reset_tokens          0 removed (kept: 1 day)",
        "sms_outbox            0 removed (kept: 30 days)",
    ]


def test_the_check_table_lines_up_on_every_row() -> None:
    rows = invoke("check").output.splitlines()[2:8]
    assert [row.index("hotline") for row in rows] == [rows[0].index("hotline")] * 6
    zones = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Europe/London", "America/New_York", "UTC")
    assert [row.index(zone) for row, zone in zip(rows, zones, strict=True)] == [rows[0].index(zones[0])] * 6


def test_run_from_another_folder_hints_at_ivr_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.delenv("IVR_CONFIG_DIR")
    monkeypatch.chdir(elsewhere)
    out = invoke("route", "+447400123456", code=1).output
    assert out.splitlines()[-1] == (
        f"hint: no config at config/ under {elsewhere}: run ivr from the repository root, or set "
        "IVR_CONFIG_DIR to the folder holding regions.yaml"
    )


# 8. The zh-CN number prompt promises a Mainland mobile may be typed as its 11 digits: kept in
# every region that speaks zh-CN, not only in cn.


@pytest.mark.parametrize(
    ("caller", "dialed", "presses"),
    [
        ("+6598765432", "+6531251234", ("9", "3", "2")),  # sg: English first, 9 for 华语
        ("+33612345678", "+18885550100", ("9", "3", "2")),  # global: English first, 9 for 中文
        ("+8613900139000", "+864001234567", ("3", "2")),  # cn, as before
    ],
)
def test_a_mainland_mobile_typed_as_11_digits_locks_it_wherever_zh_cn_promises_it(
    client: Any, hotline: Any, caller: str, dialed: str, presses: tuple[str, ...]
) -> None:
    phone = Phone(client, caller=caller, dialed=dialed)
    asked = phone.keys(*presses)
    assert "中国大陆手机号可直接输入11位" in asked.text and asked.languages[0] == "cmn-CN"
    assert "4位PIN码" in phone.press("13800138000").text
    locked = phone.press("2468")
    assert locked.dialed == ["+442079460001"]
    assert hotline.wallet.get_account("A-1001").locked is True


def test_a_mainland_mobile_that_is_also_a_us_number_is_read_as_promised(client: Any, hotline: Any) -> None:
    """13012345678 is a Mainland mobile and, read with + first, +1 301 234 5678 in Maryland: the
    prompt said Mainland mobiles need no country code, so the Mainland one is looked up."""
    from ivr.routing.regions import typed_number

    assert typed_number("13012345678", ("CN",)) == "+13012345678"  # English: "country code first"
    assert typed_number("13012345678", ("CN",), national_mobiles=("CN",)) == "+8613012345678"
    assert typed_number("447400123456", ("SG",), national_mobiles=("CN",)) == "+447400123456"
    assert typed_number("6598765432", ("SG",), national_mobiles=("CN",)) == "+6598765432"


def test_a_national_mobiles_country_phonenumbers_does_not_know_is_a_config_error(config_dir: Path) -> None:
    catalogue = config_dir / "prompts" / "zh-CN.yaml"
    catalogue.write_text(catalogue.read_text().replace("national_mobiles: [CN]", "national_mobiles: [XX]"))
    out = invoke("check", code=1).output
    assert (
        f"{catalogue}:13: speaking.national_mobiles: XX: not a country code phonenumbers knows (e.g. CN)"
        in out
    )


# 7. `ivr call --json` and `--url`.


def test_speech_awaiting_confirmation_matched_nothing_yet_and_names_the_key() -> None:
    out = invoke(
        "call", "--from", "+447400123456", "--at", "2026-03-04T12:00:00Z",
        "--keys", "1,say@0.3:username,say:yes", "--json",
    ).stdout  # fmt: skip
    spoken = [step for step in json.loads(out)["steps"] if "said" in step]
    assert [(s["said"], s.get("confirm"), s["matched"]) for s in spoken] == [
        ("username", "1", None),  # "Did you want a username reminder?": nothing chosen yet
        ("yes", None, "recovery:recovery.username"),
    ]


def test_call_url_without_a_scheme_is_refused_before_any_request() -> None:
    out = invoke("call", "--from", "+447400123456", "--url", "127.0.0.1:26001", "--keys", "3", code=2).output
    assert out.splitlines()[-1] == (
        "Error: --url: '127.0.0.1:26001' is not an http:// or https:// URL (e.g. http://127.0.0.1:5000)"
    )


def test_call_url_with_code_is_refused_before_any_request() -> None:
    out = invoke(
        "call", "--from", "+8613800138000", "--url", "http://127.0.0.1:9", "--keys", "2,@code", code=2
    )
    assert out.output.splitlines()[-1] == (
        "Error: @code needs the in-process simulator: with --url the texts are in the server's store"
    )


def test_call_https_against_a_plain_http_server_says_so(app_factory: Any, monkeypatch: Any) -> None:
    from tests.conftest import TOKEN
    from tests.wallet_server import serving

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    with serving(app_factory()) as url:
        secure = url.replace("http://", "https://")
        out = invoke("call", "--from", "+447400123456", "--url", secure, "--keys", "3", code=1).output
    assert out.splitlines()[-1] == (
        f"Error: simulation stopped: POST {secure}/voice: no TLS there (scripts/serve speaks plain http: "
        f"try {url})"
    )


# Found by an outside-in trial: one line, and advice that works.


def test_a_date_without_an_offset_is_told_a_form_that_parses() -> None:
    out = invoke("report", "--from", "2026-12-01", code=2).output
    assert out.endswith(
        "Error: --from: '2026-12-01' has no UTC offset; add one, "
        "e.g. 2026-12-01T00:00:00+08:00 or 2026-12-01T00:00:00Z\n"
    )
    assert invoke("report", "--from", "2026-12-01T00:00:00Z", "--json").exit_code == 0  # the advice works


@pytest.mark.parametrize("command", [("wallet", "show", "A-1001"), ("wallet", "txn", "70010001")])
def test_a_wallet_back_end_that_does_not_answer_is_one_line(
    monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("IVR_WALLET_URL", "http://127.0.0.1:9")
    out = invoke(*command, code=1).output
    assert out.startswith("Error: the wallet back end did not answer (") and out.count("\n") == 1
    assert "Traceback" not in out
