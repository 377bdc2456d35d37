"""The prompt names the flows say, read from their own source, so no list is kept beside them.

A step says a prompt as `call.line("name", key=...)` (or `catalogue.text(...)`); a helper that
passes one of its parameters on (`retry(call, menu, "invalid_key")`) is followed, as are the
names a step picks from a table (`DIAL_OUTCOMES.get(status, "agents_failed")`) and families
built with an f-string (`f"emergency_{category}"`). `ivr check` then holds every catalogue to
what is said, where it is said: a typo in a step is `file:line: name: problem` before a call.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SAYS = frozenset({"line", "text"})  # Call.line(name, ...) and Catalogue.text(name, ...)


@dataclass(frozen=True)
class Said:
    """One place a prompt is said: `name` (or a family, `prefix*`), where, and the placeholder
    values it is given there (None: passed on as `**values`, so not known here)."""

    name: str
    path: Path
    line: int
    values: frozenset[str] | None
    family: bool = False

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def said_in(paths: Iterable[Path]) -> tuple[Said, ...]:
    """Every prompt name the modules at `paths` say."""
    sites = [site for path in sorted(paths) for site in _sites(path)]
    passers: dict[str, int] = {name: 0 for name in SAYS}  # callable -> the argument that names a prompt
    while True:  # a helper found passing a parameter on may itself be called by another helper
        found = [item for site in sites for item in _said(site, passers)]
        more = {name: index for item in found if isinstance(item, tuple) for name, index in [item]}
        if more.keys() <= passers.keys():
            return tuple(dict.fromkeys(item for item in found if isinstance(item, Said)))
        passers.update(more)


@dataclass(frozen=True)
class _Site:
    """One call inside a function, with what resolving its arguments needs."""

    path: Path
    call: ast.Call
    callee: str
    function: str
    params: tuple[str, ...]  # the function's own, `self` left out
    assigned: dict[str, list[ast.expr]]  # the function's names, then the module's


def _sites(path: Path) -> Iterator[_Site]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _assignments(tree.body)
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        params = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
        params = params[1:] if params[:1] == ["self"] else params
        nodes = list(ast.walk(function))
        assigned = {**module, **_assignments(nodes)}
        for call in (n for n in nodes if isinstance(n, ast.Call)):
            callee = _callee(call)
            if callee is not None:
                yield _Site(path, call, callee, function.name, tuple(params), assigned)


def _said(site: _Site, passers: dict[str, int]) -> Iterator[Said | tuple[str, int]]:
    if site.callee not in passers:
        return
    index = passers[site.callee]
    arg = site.call.args[index] if len(site.call.args) > index else None
    if arg is None or isinstance(arg, ast.Starred):
        return
    if isinstance(arg, ast.Name) and arg.id in site.params and arg.id not in site.assigned:
        yield (site.function, site.params.index(arg.id))
        return
    keywords = site.call.keywords
    values = None if any(k.arg is None for k in keywords) else frozenset(k.arg for k in keywords if k.arg)
    for name, family in _names(arg, site.assigned):
        yield Said(name, site.path, arg.lineno, values if site.callee in SAYS else None, family)


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _assignments(nodes: Iterable[ast.AST]) -> dict[str, list[ast.expr]]:
    found: dict[str, list[ast.expr]] = {}
    for node in nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            found.setdefault(node.target.id, []).append(node.value)
    return found


def _names(node: ast.expr, assigned: dict[str, list[ast.expr]], depth: int = 0) -> Iterator[tuple[str, bool]]:
    """The prompt names an expression may give: (name or family prefix, is a family)."""
    if depth > 4:
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value, False
    elif isinstance(node, ast.JoinedStr):
        first = node.values[0] if node.values else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value, True
    elif isinstance(node, ast.IfExp):
        yield from _names(node.body, assigned, depth + 1)
        yield from _names(node.orelse, assigned, depth + 1)
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from _names(value, assigned, depth + 1)
    elif isinstance(node, ast.Subscript):
        yield from _names(node.value, assigned, depth + 1)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        yield from _names(node.func.value, assigned, depth + 1)  # a table's values
        for default in node.args[1:]:
            yield from _names(default, assigned, depth + 1)
    elif isinstance(node, ast.Name):
        for value in assigned.get(node.id, []):
            yield from _names(value, assigned, depth + 1)
