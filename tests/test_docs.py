"""The documentation names only what exists, and its examples print what it says (issue 30).

Every page (README.md, CHANGES.md, every docs/*.md, including pages added later) is read for
the `ivr` commands and options, the `ivr.x.y` modules and functions, and the repository paths
it names; each one that does not exist is reported as `file:line: names ...`. The README's
`console` examples are run, in a copy of the tracked files, and must print what they show.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from ivr.tools.cli import main
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.M | re.S)
INLINE = re.compile(r"`([^`\n]+(?:\n[^`\n]+)?)`")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
MODULE = re.compile(r"^ivr(?:\.[A-Za-z_]\w*)+$")
# Tokens that are names, not paths: placeholders and elisions.
NOT_A_PATH = re.compile(r"[<>*{}…]|\.\.\.")


def pages() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CHANGES.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Named:
    """A piece of text the page shows as code: where it is, and whether it is a shell line."""

    line: int
    text: str
    shell: bool


def fenced(text: str) -> Iterator[tuple[str, int, str]]:
    """Each line of each fenced block: the block's language, the line's number, the line."""
    for block in FENCE.finditer(text):
        first = text.count("\n", 0, block.start(2)) + 1
        for offset, line in enumerate(block.group(2).splitlines()):
            yield block.group(1), first + offset, line


def code_in(text: str) -> Iterator[Named]:
    """Every inline code span and every command line of every fenced block, with its line."""
    for kind, number, line in fenced(text):
        if kind == "console" and line.startswith("$ "):
            yield Named(number, line[2:], shell=True)
        elif kind not in ("console", "yaml", "json"):  # console: the rest is what a command prints
            yield Named(number, line, shell=True)
    blanked = FENCE.sub(lambda block: "\n" * block.group(0).count("\n"), text)
    for span in INLINE.finditer(blanked):
        yield Named(blanked.count("\n", 0, span.start()) + 1, " ".join(span.group(1).split()), shell=False)


def tracked_roots() -> set[str]:
    """The repository's top-level names: a path the docs give is checked when it starts with one."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return {name.split("/")[0] for name in listed.stdout.split()}


def missing_command(words: list[str]) -> str | None:
    """What in `ivr WORDS...` names no command or option (None when all of it exists)."""
    command: click.Command = main
    spelled = ["ivr"]
    rest = iter(words)
    for word in rest:
        if word in ("|", "&&", ";", "#") or word.startswith(("$(", ">")):
            break
        bare = word.strip("[],")
        if bare.startswith("--"):
            flag = bare.split("=")[0]
            options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            if flag not in options | {"--help"}:
                return f"`{' '.join(spelled)} {flag}` (no such option)"
        elif isinstance(command, click.Group) and not bare.startswith("-") and not bare.isupper():
            sub = command.commands.get(bare)
            if sub is None:
                return f"`{' '.join([*spelled, bare])}` (no such command)"
            command = sub
            spelled.append(bare)
    return None


def problems_in(page: Path, roots: set[str]) -> list[str]:
    """`file:line: names X (why)` for each thing the page names that does not exist."""
    text = page.read_text()
    where = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page
    found: list[str] = []
    for named in code_in(text):
        words = named.text.split()
        for i, word in enumerate(words):
            if word == "ivr" or word.endswith("/bin/ivr"):
                if i + 1 < len(words) and (named.shell or i == 0 or word != "ivr"):
                    problem = missing_command(words[i + 1 :])
                    if problem:
                        found.append(f"{where}:{named.line}: names {problem}")
                if named.shell and word == "ivr":  # one way to run it, said once in the README
                    found.append(f"{where}:{named.line}: runs bare `ivr` (not on PATH: `.venv/bin/ivr`)")
                continue
            token = word.strip("[](),;:'\"")
            token = re.sub(r":[0-9]+$", "", token)  # a `file:line` names the file
            if "::" in token:  # a test by its pytest id: the file, and the test in it
                token, test = token.split("::", 1)
                source = ROOT / token
                if source.is_file() and f"def {test.split('[')[0]}(" not in source.read_text():
                    found.append(f"{where}:{named.line}: names `{token}::{test}` (no such test)")
            if MODULE.match(token):
                if not _importable(token):
                    found.append(f"{where}:{named.line}: names `{token}` (no such module or attribute)")
            elif (
                "/" in token
                and not NOT_A_PATH.search(token)
                and token.split("/")[0] in roots
                and not (ROOT / token).exists()
            ):
                found.append(f"{where}:{named.line}: names `{token}` (no such path)")
    for link in LINK.finditer(text):
        target = link.group(1)
        if "://" not in target and not (page.parent / target).exists():
            line = text.count("\n", 0, link.start()) + 1
            found.append(f"{where}:{line}: links to `{target}` (no such file)")
    return sorted(found, key=lambda problem: int(problem.split(":")[1]))


def _importable(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_module_and_path_a_page_names_exists(page: Path) -> None:
    problems = problems_in(page, tracked_roots())
    assert not problems, "\n".join(problems)


def test_the_check_names_the_file_the_line_and_what_is_missing(tmp_path: Path) -> None:
    page = tmp_path / "new.md"
    page.write_text(
        "# A page\n\nRun `ivr wallet show A-1001` and `ivr cases list --kind x`.\n\n"
        "```sh\n.venv/bin/ivr region shut gb\nscripts/serve --port 5001 && ivr check\n```\n\n"
        "Then `ivr report --since 2026-01-01` and `ivr.flows.recovery.redeem_reset_token`;\n"
        "see `bench/nothing.py` and [the flows](flows.md).\n"
    )
    assert problems_in(page, tracked_roots()) == [
        f"{page}:6: names `ivr region shut` (no such command)",
        f"{page}:7: runs bare `ivr` (not on PATH: `.venv/bin/ivr`)",
        f"{page}:10: names `ivr report --since` (no such option)",
        f"{page}:10: names `ivr.flows.recovery.redeem_reset_token` (no such module or attribute)",
        f"{page}:11: names `bench/nothing.py` (no such path)",
        f"{page}:11: links to `flows.md` (no such file)",
    ]


# The README's examples, run as a newcomer runs them: in a fresh copy, from its root.


@dataclass(frozen=True)
class Example:
    line: int
    command: str
    prints: str


def console_examples(page: Path) -> list[Example]:
    """Each `$ command` of the page's console blocks, with the lines it shows printed."""
    examples: list[Example] = []
    for kind, number, line in fenced(page.read_text()):
        if kind == "console" and line.startswith("$ "):
            examples.append(Example(number, line[2:], ""))
        elif kind == "console":
            last = examples[-1]
            examples[-1] = Example(last.line, last.command, last.prints + line + "\n")
    return examples


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's files (committed or about to be), no state: what `git clone` gives,
    with this tree's .venv linked in place of the one `scripts/setup` would build. `.ci/run`
    gives a real clone instead, set up by its own `scripts/setup` (IVR_TEST_FRESH_CLONE)."""
    given = os.environ.get("IVR_TEST_FRESH_CLONE")
    if given:
        return Path(given)
    clone = tmp_path_factory.mktemp("clone")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for name in listed.stdout.splitlines():
        source = ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    (clone / ".venv").symlink_to(ROOT / ".venv")
    return clone


def newcomer_env(home: Path) -> dict[str, str]:
    """A shell with none of the IVR's variables set: the embedded defaults."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}


def run_in(clone: Path, command: str) -> subprocess.CompletedProcess[str]:
    """`command` as a newcomer types it at the clone's root."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        env=newcomer_env(clone),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_readme_example_prints_what_the_readme_shows(fresh_clone: Path) -> None:
    examples = console_examples(ROOT / "README.md")
    assert len(examples) >= 6
    for example in examples:
        done = run_in(fresh_clone, example.command)
        assert (done.returncode, done.stdout) == (0, example.prints), (
            f"README.md:{example.line}: `{example.command}` printed\n{done.stdout}{done.stderr}"
        )


def test_the_quick_start_serves_and_the_url_example_calls_it(fresh_clone: Path) -> None:
    """`scripts/serve` (with --port, as the README says for a busy 5000), then the README's
    `ivr call --url` example against it."""
    port = free_port()
    process = subprocess.Popen(
        ["scripts/serve", "--port", str(port)],
        cwd=fresh_clone,
        env=newcomer_env(fresh_clone),
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stderr is not None
        banner = ""
        for line in process.stderr:
            if line.startswith("Serving the IVR"):
                banner = line.strip()
                break
        assert banner == f"Serving the IVR on http://127.0.0.1:{port}/voice"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
            assert answer.read() == b"ready\n"
        readme = (ROOT / "README.md").read_text()
        [example] = [
            line for line in readme.splitlines() if line.startswith(".venv/bin/ivr call") and "--url" in line
        ]
        assert "http://127.0.0.1:5000" in example
        done = run_in(fresh_clone, example.replace(":5000", f":{port}"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[-1] == "-- call ended: hangup; dialed: +442079460001"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        if process.stderr is not None:
            process.stderr.close()


def test_the_config_error_example_is_what_ivr_check_prints(fresh_clone: Path) -> None:
    """docs/configuration.md's example: gb's time zone misspelt, a second Saturday interval for hk."""
    [example] = console_examples(ROOT / "docs" / "configuration.md")
    config = fresh_clone / "config"
    regions = (config / "regions.yaml").read_text()
    hours = (config / "hours.yaml").read_text()
    try:
        (config / "regions.yaml").write_text(regions.replace("Europe/London", "Europe/Londn", 1))
        (config / "hours.yaml").write_text(
            hours.replace('sat: ["09:00-13:00"]', 'sat: ["09:00-13:00", "12:00-14:00"]', 1)
        )
        done = run_in(fresh_clone, example.command)
    finally:
        (config / "regions.yaml").write_text(regions)
        (config / "hours.yaml").write_text(hours)
    assert (done.returncode, done.stdout + done.stderr) == (1, example.prints)
