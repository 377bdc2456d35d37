"""The tree shows the layers, and the flow graph is checked data (issue 13)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.flows import FLOWS, GRAPH, PROMPT_KEYS, Graph, lockdown, main
from ivr.flows.menu import Menu, Option

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ivr"
SQL_NAMES = {"select", "insert", "update", "delete", "text", "func", "and_", "or_"}


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def imports(tree: ast.Module, top_level_only: bool) -> set[str]:
    """Modules imported (`from a.b import c` gives a.b and a.b.c)."""
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_importing_routing_or_flows_does_not_load_flask() -> None:
    code = "import sys, ivr.routing.regions, ivr.routing.hours, ivr.flows; print('flask' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "False"


def test_sql_is_written_only_in_the_store_layer() -> None:
    for name, tree in modules().items():
        if name.startswith("ivr.store"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "sqlalchemy":
                used = {alias.name for alias in node.names} & SQL_NAMES
                assert not used, f"{name} builds SQL ({', '.join(sorted(used))}): move it to ivr/store/"


def test_flask_is_imported_only_by_the_web_layer() -> None:
    for name, tree in modules().items():
        if name.startswith("ivr.web"):
            continue
        flask = {m for m in imports(tree, top_level_only=True) if m.split(".")[0] in ("flask", "werkzeug")}
        assert not flask, f"{name} imports {flask} at the top: only ivr/web/ may"


def test_no_import_cycle_in_the_package() -> None:
    """Counting every import: inside functions and under TYPE_CHECKING too (a cycle put off
    until a function runs is still a cycle)."""
    found = modules()
    graph = {
        name: {m for m in imports(tree, top_level_only=False) if m in found and m != name}
        for name, tree in found.items()
    }
    # a package's own __init__ importing its submodules is how packages work: not a cycle
    for name in graph:
        graph[name] = {m for m in graph[name] if not (m.startswith(name + ".") and name in found)}
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, name, target]))
            if target not in state:
                visit(target, [*path, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


@pytest.mark.parametrize(
    ("layer", "forbidden", "why"),
    [
        ("ivr.flows", "sqlalchemy", "flows raise and catch domain errors (ivr.services), not the store's"),
        ("ivr.web", "ivr.tools", "the web layer serves; tools are for the command line"),
        ("ivr.routing", "ivr.store", "routing is pure: it decides from the config and the instant"),
    ],
)
def test_a_layer_never_imports_what_is_not_its_own(layer: str, forbidden: str, why: str) -> None:
    for name, tree in modules().items():
        if name == layer or name.startswith(layer + "."):
            wrong = {
                m
                for m in imports(tree, top_level_only=False)
                if m.split(".")[: len(forbidden.split("."))] == forbidden.split(".")
            }
            assert not wrong, f"{name} imports {sorted(wrong)}: {why}"


def test_no_hook_is_patched_onto_a_built_object() -> None:
    """The root hands observers in (`build_runtime(observer=...)`): nothing sets `a.b.on_x`
    or `a.events.metrics` on objects something else built."""
    for name, tree in modules().items():
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute):
                    hook = target.attr.startswith("on_") or target.attr == "metrics"
                    assert not hook, f"{name}:{node.lineno} patches {target.attr} onto a built object"


def test_the_shipped_graph_is_complete() -> None:
    assert GRAPH.problems == ()
    assert {"main", "lockdown", "recovery", "transactions", "agent"} <= set(GRAPH.steps)
    assert "opt_lockdown" in PROMPT_KEYS and "welcome" in PROMPT_KEYS


def test_a_flow_module_left_out_of_the_list_is_a_clear_error() -> None:
    without_lockdown = Graph.build([module for module in FLOWS if module is not lockdown])
    assert any(
        "menu 'main': option 3 leads to step 'lockdown', which no flow declares" in problem
        for problem in without_lockdown.problems
    )


def test_an_unranked_outcome_and_a_missing_target_are_errors() -> None:
    import types

    broken = types.ModuleType("broken")
    broken.MENUS = (Menu("broken", options=(Option("1", "nowhere", "opt_recovery"),)),)  # type: ignore[attr-defined]
    broken.STEPS = {"broken": main.main_menu}  # type: ignore[attr-defined]
    broken.OUTCOMES = ("teleported",)  # type: ignore[attr-defined]
    graph = Graph.build([*FLOWS, broken])
    assert "menu 'broken': option 1 leads to step 'nowhere', which no flow declares" in graph.problems
    assert "broken: outcome 'teleported' has no rank: declare it as Outcome(rank=...)" in graph.problems


def test_option_prompts_take_their_key_from_the_menu(phone: object) -> None:
    from tests.conftest import Phone

    assert isinstance(phone, Phone)
    text = phone.call().text
    assert "手机丢了或被盗，请按3。" in text and "忘记用户名或密码，请按1。" in text


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (("  welcome: ", "  welcom: "), "prompts.welcom: not a prompt the IVR uses"),
        (("  welcome: ", "  welcom: "), "prompts: welcome: missing"),
        (("{reference}", "{ref}"), "placeholders {number, ref} differ from en-US's {number, reference}"),
    ],
)
def test_ivr_check_reports_prompt_problems_with_file_and_line(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, edit: tuple[str, str], problem: str
) -> None:
    from ivr.tools.cli import main as cli

    path = config_dir / "prompts" / "zh-CN.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(*edit, 1), encoding="utf-8")
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert any(line.startswith(f"{path}:") and problem in line for line in result.output.splitlines()), (
        result.output
    )


def test_a_prompt_file_for_a_language_no_region_speaks_is_refused(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivr.tools.cli import main as cli

    (config_dir / "prompts" / "fr-FR.yaml").write_text(
        (config_dir / "prompts" / "en-US.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    result = CliRunner().invoke(cli, ["check"])
    assert (
        result.exit_code == 1
        and "fr-FR.yaml:" in result.output
        and "no region speaks 'fr-FR'" in result.output
    )


def test_a_server_refuses_to_start_on_a_missing_prompt(app_factory: object, config_dir: Path) -> None:
    from ivr import StartupError

    path = config_dir / "prompts" / "zh-HK.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("  goodbye: ", "  goodby: ", 1), encoding="utf-8"
    )
    with pytest.raises(StartupError, match="goodbye: missing"):
        app_factory()  # type: ignore[operator]


def test_ops_can_fix_a_wording_without_a_deploy(app: object, config_dir: Path) -> None:
    import os
    import time

    from tests.conftest import Phone

    path = config_dir / "prompts" / "zh-CN.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("您好，这里是OK钱包。", "您好，欢迎致电OK钱包。"),
        encoding="utf-8",
    )
    os.utime(path, (time.time() + 5, time.time() + 5))
    runtime = app.extensions["ivr"]  # type: ignore[attr-defined]
    runtime.source._checked_at = 0.0
    reload = runtime.refresh_soon()  # what the next webhook does: notice, parse off its path
    assert reload is not None
    reload.join(5)
    assert "您好，欢迎致电OK钱包。" in Phone(app.test_client()).call().text  # type: ignore[attr-defined]


def test_a_region_can_word_a_prompt_its_own_way(phone: object) -> None:
    from tests.conftest import Phone

    assert isinstance(phone, Phone)
    singapore = Phone(phone.client, caller="+6591234567", dialed="+6531251234")
    assert "华语服务，请按9。" in singapore.call().text  # Singapore's word for Chinese service
    assert "普通话服务" not in singapore.last.text  # type: ignore[union-attr]


def test_a_regional_wording_with_other_placeholders_is_refused(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivr.tools.cli import main as cli

    regions = config_dir / "regions.yaml"
    regions.write_text(
        regions.read_text(encoding="utf-8").replace("请按{key}。", "请按{button}。"), encoding="utf-8"
    )
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "regions.sg.prompts.zh-CN.switch_language: placeholders differ from zh-CN's {key}" in result.output


def test_every_folder_is_a_package_that_says_what_it_owns() -> None:
    """A plain `pip install .` finds only folders with an __init__ (the CLI lives in tools/)."""
    for folder in {path.parent for path in PACKAGE.rglob("*.py")}:
        if "migrations" in folder.parts:
            continue
        init = folder / "__init__.py"
        assert init.exists(), f"{folder} has no __init__.py"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} says nothing"
