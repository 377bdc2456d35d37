"""docs/extending.md, performed: each how-to done in a temporary copy of the repository, with
exactly the files the page names, then checked the way the page says (`ivr check`, a call)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Phone

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "extending.md"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def ivr(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`ivr ARGS` run from the copy (its own `ivr/` package and `config/`)."""
    env = {"IVR_CONFIG_DIR": str(copy / "config"), "DATABASE_URL": f"sqlite:///{copy / 'ivr.sqlite3'}"}
    return subprocess.run(
        [sys.executable, "-c", "from ivr.tools.cli import main; main()", *args],
        cwd=copy,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("IVR_")}, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- add an option -------------------------------------------------------------------------

OPTION_CODE = (
    '    options=(Option("1", "selfhelp.link", "opt_help_link"), Option("2", "contacts", "opt_other_ways")),',
    """    options=(
        Option("1", "selfhelp.link", "opt_help_link"),
        Option("2", "contacts", "opt_other_ways"),
        Option("3", "selfhelp.reinstall", "opt_reinstall"),
    ),""",
)
OPTION_STEP = """

def reinstall(call: Call) -> VoiceResponse:
    return anything_else(call, call.line("reinstall_steps"))
"""
OPTION_WORDS = {
    "en-US": (
        "If the app still won't open after an update, press {key} to hear how to reinstall it.",
        "Delete the OK Wallet app, then install it again from your app store and sign in with your "
        "username and password.",
        "[how to reinstall the app, reinstall, install it again, delete the app]",
    ),
    "en-GB": (
        "If the app still won't open after an update, press {key} to hear how to reinstall it.",
        "Delete the OK Wallet app, then install it again from your app store and sign in with your "
        "username and password.",
        "[how to reinstall the app, reinstall, install it again, delete the app]",
    ),
    "zh-CN": (
        "更新后还是打不开，想了解如何重新安装，请按{key}。",
        "请先删除OK钱包应用，再从应用商店重新安装，然后用用户名和密码登录。",
        "[重新安装应用, 重新安装, 重装, 删除应用]",
    ),
    "zh-HK": (
        "更新咗都仲開唔到，想知點樣重新安裝，請按{key}。",
        "請先刪除OK錢包應用程式，再喺應用程式商店重新安裝，然後用用戶名同密碼登入。",
        "[重新安裝應用程式, 重新安裝, 裝過, 刪除應用程式]",
    ),
}


def copy_repository(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    for folder in ("ivr", "config"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_add_an_option(tmp_path: Path) -> None:
    copy = copy_repository(tmp_path)
    flow = copy / "ivr" / "flows" / "selfhelp.py"
    edit(flow, *OPTION_CODE)
    edit(flow, "\n\nMENUS = (SELFHELP, CONTACTS)", OPTION_STEP + "\n\nMENUS = (SELFHELP, CONTACTS)")
    edit(
        flow,
        '    "selfhelp.link": text_help_link,\n',
        '    "selfhelp.link": text_help_link,\n    "selfhelp.reinstall": reinstall,\n',
    )

    # The code alone: `ivr check` names every line still missing, where it is missing.
    half = ivr(copy, "check")
    assert half.returncode == 1 and "Traceback" not in half.stderr
    said_at = next(
        n for n, line in enumerate(flow.read_text().splitlines(), 1) if '"reinstall_steps"' in line
    )
    assert f"{flow}:{said_at}: reinstall_steps: no language has this prompt (a typo?)" in half.stderr
    for language in OPTION_WORDS:
        catalogue = copy / "config" / "prompts" / f"{language}.yaml"
        assert f"{catalogue}:" in half.stderr and "opt_reinstall: missing" in half.stderr
        assert "selfhelp.reinstall: missing (what callers may say for it)" in half.stderr

    for language, (offer, steps, phrases) in OPTION_WORDS.items():
        catalogue = copy / "config" / "prompts" / f"{language}.yaml"
        edit(catalogue, "\nprompts:\n", f"\nprompts:\n  opt_reinstall: {offer}\n  reinstall_steps: {steps}\n")
        edit(catalogue, "\nphrases:\n", f"\nphrases:\n  selfhelp.reinstall: {phrases}\n")
    checked = ivr(copy, "check")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("OK\n")

    heard = ivr(copy, "call", "--from", "+4915112345678", "--keys", "4,3", "--json")
    assert heard.returncode == 0, heard.stderr
    said = " ".join(step.get("text", "") for step in json.loads(heard.stdout)["steps"])
    assert "press 3 to hear how to reinstall it" in said
    assert "Delete the OK Wallet app, then install it again" in said


# --- add a language ------------------------------------------------------------------------


def add_french(config: Path) -> Path:
    """French for the global line: its voice, the region's list, and its own catalogue (here
    the English one with a French locale: a real one is translated line by line)."""
    edit(
        config / "regions.yaml",
        "  en-GB: {say_language: en-GB, voice: Polly.Amy-Neural, speech_language: en-GB}\n",
        "  en-GB: {say_language: en-GB, voice: Polly.Amy-Neural, speech_language: en-GB}\n"
        "  fr-FR: {say_language: fr-FR, voice: Polly.Lea-Neural, speech_language: fr-FR}\n",
    )
    edit(
        config / "regions.yaml",
        "    languages: [en-US, zh-CN]\n    hours: always",
        "    languages: [en-US, zh-CN, fr-FR]\n    hours: always",
    )
    french = config / "prompts" / "fr-FR.yaml"
    shutil.copy(config / "prompts" / "en-US.yaml", french)
    edit(
        french,
        "  locale: en_US\n  date: EEEE, MMMM d\n  hour: h a\n  minute: h:mm a\n  morning_hour: h\n",
        "  locale: fr_FR\n  date: EEEE d MMMM\n  hour: H 'heures'\n  minute: H'h'mm\n"
        "  morning_hour: H 'heures'\n",
    )
    return french


def test_add_a_language(config_dir: Path, monkeypatch: pytest.MonkeyPatch, app_factory: object) -> None:
    from ivr.tools.cli import main as cli

    add_french(config_dir)
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    checked = CliRunner().invoke(cli, ["check"])
    assert checked.exit_code == 0, checked.output
    assert (
        "en-US/zh-CN/fr-FR" in checked.output
        and "prompts in en-GB, en-US, fr-FR, zh-CN, zh-HK" in checked.output
    )

    # No other catalogue names French: the agents' whisper says it in their language, by Babel.
    phone = Phone(app_factory().test_client(), caller="+4915112345678", dialed="+18885550100")  # type: ignore[operator]
    whisper = phone.twiml("/voice/step/whisper?lang=fr-FR&about=lockdown.12345678.1&n=3")
    assert "Speaks French." in whisper.text and whisper.languages == ["en-US"]
    assert "language_fr-FR" not in (config_dir / "prompts" / "en-US.yaml").read_text(encoding="utf-8")


# --- add a region --------------------------------------------------------------------------

JAPAN_REGION = """  jp:
    name: Japan
    countries: [JP]
    hotline: "+81312345678"
    numbers: ["+81345678901"]
    timezone: Asia/Tokyo
    languages: [en-US]
    hours: jp
"""
JAPAN_HOURS = """  jp:
    weekly:
      mon-fri: ["09:00-18:00"]
    holidays: {country: JP}
"""


def test_add_a_region(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.tools.cli import main as cli

    edit(config_dir / "regions.yaml", "\nregions:\n", "\nregions:\n" + JAPAN_REGION)
    edit(config_dir / "hours.yaml", "\nschedules:\n", "\nschedules:\n" + JAPAN_HOURS)
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{config_dir.parent / 'ivr.sqlite3'}")
    runner = CliRunner()
    checked = runner.invoke(cli, ["check"])
    assert checked.exit_code == 0, checked.output
    assert "7 regions" in checked.output and "jp      JP" in checked.output
    # 2026-01-12 is Coming of Age Day, a public holiday in Japan: closed, back on Tuesday at 9.
    routed = runner.invoke(cli, ["route", "+819012345678", "--at", "2026-01-12T10:00:00+09:00", "--json"])
    answer = json.loads(routed.output)
    assert (answer["region"], answer["matched_by"], answer["hotline"]) == ("jp", "caller", "+81312345678")
    assert answer["open"] is False and answer["next_open"] == "2026-01-13T09:00:00+09:00"


def test_the_page_names_the_files_each_how_to_touches() -> None:
    page = DOCS.read_text(encoding="utf-8")
    for how_to, files in {
        "## Add an option": ["ivr/flows/selfhelp.py", "config/prompts/<language>.yaml"],
        "## Add a language": ["config/regions.yaml", "fr-FR.yaml", "config/prompts/"],
        "## Add a region": ["config/regions.yaml", "config/hours.yaml"],
    }.items():
        section = page.split(how_to, 1)[1].split("\n## ", 1)[0]
        assert all(f"`{name}`" in section for name in files), how_to
    assert "tests/test_extending.py" in page
