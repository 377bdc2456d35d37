"""Nothing that passes `ivr check` fails at call time (issue 27): each edit here once passed
the check, or gave a traceback, and failed only when a caller met it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def check(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[str]]:
    """`ivr check` on `config_dir`: its exit code and the lines it printed."""
    from ivr.tools.cli import main as cli

    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output.splitlines()


def reported(lines: list[str], path: Path, key: str, problem: str) -> bool:
    """One line `path:line: key: problem...`."""
    return any(
        line.startswith(f"{path}:") and line.split(":", 2)[2].startswith(f" {key}: ") and problem in line
        for line in lines
    )


# (file, old text, new text, key reported, words of the problem)
CONFIG_TYPOS = [
    ("regions.yaml", "default_region:", "default_regoin:", "default_regoin", "Extra inputs"),
    ("regions.yaml", "default_region:", "default_regoin:", "default_region", "Field required"),
    ("regions.yaml", "    hours: cn\n", "", "regions.cn.hours", "Field required"),
    ("hours.yaml", "schedules:", "schedule:", "schedules", "Field required"),
    ("prompts/en-US.yaml", "locale: en_US", "locale: en_XX", "speaking.locale", "not a locale Babel knows"),
    ("prompts/en-US.yaml", "date: EEEE, MMMM d", "date: '12'", "speaking.date", "says no date"),
    ("prompts/zh-CN.yaml", "hour: ah'点'", "hour: a'点'", "speaking.hour", "says no hour"),
    ("prompts/en-GB.yaml", "minute: h:mm a", "minute: h a", "speaking.minute", "needs the fields"),
    # a placeholder no step fills (a KeyError on the call), an option prompt with its key written in
    (
        "prompts/en-GB.yaml",
        "goodbye: Thank you",
        "goodbye: Thank you {name}",
        "prompts.goodbye",
        "{name} are never given",
    ),
    (
        "prompts/zh-CN.yaml",
        "opt_lockdown: 手机丢了或被盗，请按{key}。",
        "opt_lockdown: 手机丢了或被盗，请按3。",
        "prompts.opt_lockdown",
        "must say {key}",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "key", "problem"), CONFIG_TYPOS)
def test_a_config_typo_is_one_line_with_file_line_and_key(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, name: str, old: str, new: str, key: str, problem: str
) -> None:
    edit(config_dir / name, old, new)
    code, lines = check(config_dir, monkeypatch)
    assert code == 1
    assert reported(lines, config_dir / name, key, problem), lines


def test_a_prompt_file_that_is_not_utf8_names_its_line(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_dir / "prompts" / "en-GB.yaml"
    path.write_bytes(path.read_bytes() + "# caf\u00e9\n".encode("latin-1"))
    lines_in_file = path.read_bytes().count(b"\n")
    code, lines = check(config_dir, monkeypatch)
    assert code == 1
    assert f"{path}:{lines_in_file}: (encoding): byte 0xe9 is not UTF-8 (save the file as UTF-8)" in lines


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("regions.yaml", "default_region:", "default_regoin:"),
        ("prompts/en-US.yaml", "locale: en_US", "locale: en_XX"),
        ("hours.yaml", "schedules:", "schedule:"),
    ],
)
def test_a_broken_live_edit_keeps_the_last_good_config(
    app: object, config_dir: Path, caplog: pytest.LogCaptureFixture, name: str, old: str, new: str
) -> None:
    from tests.conftest import Phone

    runtime = app.extensions["ivr"]  # type: ignore[attr-defined]
    good = runtime.source.config
    edit(config_dir / name, old, new)
    runtime.source.request_reload()
    reload = runtime.refresh_soon()
    assert reload is not None
    reload.join(5)
    assert not reload.is_alive()
    assert runtime.source.config is good
    refused = [r.getMessage() for r in caplog.records if "config edit refused" in r.getMessage()]
    assert refused and new.split(":")[0] in refused[0]
    assert "OK钱包" in Phone(app.test_client()).call().text  # type: ignore[attr-defined]
    edit(config_dir / name, new, old)  # fixed: the next reload takes it
    runtime.source.request_reload()
    assert runtime.source.refresh(every=0) is True


def test_a_server_does_not_start_on_an_unknown_locale(app_factory: object, config_dir: Path) -> None:
    from ivr import StartupError

    edit(config_dir / "prompts" / "en-US.yaml", "locale: en_US", "locale: en_XX")
    with pytest.raises(StartupError, match=r"speaking\.locale: 'en_XX' is not a locale Babel knows"):
        app_factory()  # type: ignore[operator]


def test_a_typo_in_a_prompt_a_step_says_is_reported_where_it_is_said(
    tmp_path: Path, config_dir: Path
) -> None:
    from ivr.config import ConfigError, load_config
    from ivr.flows import GRAPH, PHRASE_KEYS, SPEAKERS, prompt_rules

    step = tmp_path / "cards.py"
    step.write_text('def card_info(call):\n    return call.line("card_inf")\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config_dir, prompt_rules(GRAPH, (*SPEAKERS, step)), PHRASE_KEYS)
    assert raised.value.errors == [f"{step}:2: card_inf: no language has this prompt (a typo?)"]


@pytest.mark.parametrize(("key", "what"), [("9", "the language switch"), ("0", "an agent"), ("*", "repeat")])
def test_an_option_on_a_key_every_menu_shares_is_a_graph_error(key: str, what: str) -> None:
    import types

    from ivr.flows import FLOWS, Graph
    from ivr.flows.menu import Menu, Option

    extra = types.ModuleType("extra")
    extra.MENUS = (Menu("extra", options=(Option(key, "main", "opt_recovery"),), language_switch=True),)  # type: ignore[attr-defined]
    problems = Graph.build([*FLOWS, extra]).problems
    assert (
        f"menu 'extra': key {key!r} is {what} in this menu, as in every menu: option 'main' cannot take it"
        in problems
    )


def test_a_new_outcome_is_declared_once_and_reported(app: object) -> None:
    import types

    from ivr.flows import FLOWS, Graph
    from ivr.flows.graph import Outcome
    from ivr.reports import build_report
    from tests.conftest import Phone

    runtime = app.extensions["ivr"]  # type: ignore[attr-defined]
    extra = types.ModuleType("extra")
    extra.OUTCOMES = {"card_frozen": Outcome(rank=65, self_service=True)}  # type: ignore[attr-defined]
    runtime.graph = Graph.build([*FLOWS, extra])
    runtime.journal.ranks = runtime.graph.outcome_ranks()
    phone = Phone(app.test_client())  # type: ignore[attr-defined]
    phone.call()
    sid = phone.sid
    runtime.events.outcome(sid, "global", "agent")
    runtime.events.outcome(sid, "global", "card_frozen")
    runtime.events.outcome(sid, "global", "recovery")  # weaker: the call keeps card_frozen
    report = build_report(runtime, None, runtime.now() + timedelta(minutes=1))
    assert report["outcomes"][:3] == ["lockdown", "card_frozen", "dispute"]
    (counts,) = report["by_region"].values()
    assert counts["card_frozen"] == 1 and counts["recovery"] == 0
    assert report["containment_rate"] == 1.0


def test_outcomes_sharing_a_rank_are_a_graph_error() -> None:
    import types

    from ivr.flows import FLOWS, Graph
    from ivr.flows.graph import Outcome

    extra = types.ModuleType("extra")
    extra.OUTCOMES = {"card_frozen": Outcome(rank=70)}  # type: ignore[attr-defined]
    assert "outcomes 'card_frozen' and 'lockdown' share rank 70" in Graph.build([*FLOWS, extra]).problems
