"""The flow graph as checked data: every menu, step and outcome the flows declare, and a check
that every option, `on_misses`, entry and agent target exists (run at start-up and by
`ivr check`), so a missing piece is a clear message before any caller meets it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows.call import Call
from ivr.flows.menu import Menu, Step, shared_keys


@dataclass(frozen=True)
class Outcome:
    """How a call may end, declared once by the flow that records it: a call keeps its
    strongest (highest `rank`: a lockdown followed by the fraud desk is a lockdown), and a
    `self_service` outcome counts as contained in `ivr report`."""

    rank: int
    self_service: bool = False


# Recorded by the status callback for a call that ended with no other outcome.
ABANDONED = "abandoned"
BUILT_IN_OUTCOMES = {ABANDONED: Outcome(rank=0)}


class StoredTwiml(VoiceResponse):  # type: ignore[misc]
    """A TwiML answer kept in the store, replayed for a webhook Twilio sent twice."""

    def __init__(self, xml: str) -> None:
        super().__init__()
        self._xml = xml

    def to_xml(self, xml_declaration: bool = True) -> str:
        return self._xml


def once(name: str) -> Callable[[Step], Step]:
    """A step with effects (a lock, a text, a case): a webhook Twilio sends twice replays the
    first answer instead of acting again. The keys pressed (a PIN, a code) are part of what
    makes a step the same step, but are kept only as a keyed hash."""

    def wrap(function: Step) -> Step:
        @functools.wraps(function)
        def idempotent(call: Call) -> VoiceResponse:
            if not call.sid:
                return function(call)
            typed = call.services.digest("step-keys", call.sid, call.digits)[:32]
            key = f"{name}|{call.params.get('_request', '')}|{typed}"
            return StoredTwiml(
                call.services.states.once(call.sid, key, call.now, lambda: str(function(call)))
            )

        return idempotent

    return wrap


class GraphError(Exception):
    """The flows reference something that does not exist; `errors` says what, one a line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Graph:
    """Every menu and step by name, and the outcomes the flows may record."""

    menus: Mapping[str, Menu]
    steps: Mapping[str, Step]
    outcomes: Mapping[str, Outcome]
    problems: tuple[str, ...]

    @classmethod
    def build(cls, flows: Iterable[ModuleType]) -> Graph:
        """From flow modules, each declaring MENUS, STEPS and OUTCOMES (registered here, by
        this explicit list, never by the side effect of an import)."""
        menus: dict[str, Menu] = {}
        steps: dict[str, Step] = {}
        outcomes: dict[str, Outcome] = dict(BUILT_IN_OUTCOMES)
        problems = []
        for module in flows:
            where = module.__name__
            for menu in getattr(module, "MENUS", ()):
                if menu.name in menus:
                    problems.append(f"{where}: menu {menu.name!r} is declared twice")
                menus[menu.name] = menu
            for name, function in getattr(module, "STEPS", {}).items():
                if name in steps:
                    problems.append(f"{where}: step {name!r} is declared twice")
                steps[name] = function
            declared = getattr(module, "OUTCOMES", {})
            for name in declared:
                outcome = declared[name] if isinstance(declared, Mapping) else None
                if not isinstance(outcome, Outcome):
                    problems.append(f"{where}: outcome {name!r} has no rank: declare it as Outcome(rank=...)")
                elif name in outcomes:
                    problems.append(f"{where}: outcome {name!r} is declared twice")
                else:
                    outcomes[name] = outcome
        graph = cls(menus, steps, outcomes, ())
        return cls(menus, steps, outcomes, tuple(problems + graph.check()))

    def check(self) -> list[str]:
        """What is missing: a step some menu leads to, an outcome the journal cannot rank."""
        errors = []
        for menu in self.menus.values():
            for via, target in menu.targets().items():
                if target not in self.steps:
                    errors.append(
                        f"menu {menu.name!r}: {via} leads to step {target!r}, which no flow declares"
                    )
            keys = [option.key for option in menu.options]
            for key in {k for k in keys if keys.count(k) > 1}:
                errors.append(f"menu {menu.name!r}: key {key!r} is given to two options")
            shared = shared_keys(menu)
            for option in menu.options:
                if option.key in shared and not option.overrides:
                    errors.append(
                        f"menu {menu.name!r}: key {option.key!r} is {shared[option.key]} in this menu, "
                        f"as in every menu: option {option.target!r} cannot take it"
                    )
        for name in ("main", "agent", "escalate"):
            if name not in self.steps:
                errors.append(f"step {name!r} is needed by every call and no flow declares it")
        ranks: dict[int, str] = {}
        for name, outcome in sorted(self.outcomes.items()):
            if ranks.setdefault(outcome.rank, name) != name:
                errors.append(f"outcomes {ranks[outcome.rank]!r} and {name!r} share rank {outcome.rank}")
        return errors

    def ranked_outcomes(self) -> tuple[str, ...]:
        """Every outcome, strongest first."""
        return tuple(sorted(self.outcomes, key=lambda name: -self.outcomes[name].rank))

    def outcome_ranks(self) -> dict[str, int]:
        return {name: outcome.rank for name, outcome in self.outcomes.items()}

    def prompt_keys(self) -> frozenset[str]:
        """Every prompt a menu says: each language's catalogue must have them all."""
        return frozenset(key for menu in self.menus.values() for key in menu.prompt_keys())

    def phrase_keys(self) -> frozenset[str]:
        """Every option a caller may say: each language lists phrases for them all."""
        return frozenset(
            option.target
            for menu in self.menus.values()
            if menu.speech == "options"
            for option in menu.options
            if option.prompt
        )

    def raise_for_problems(self) -> None:
        if self.problems:
            raise GraphError(list(self.problems))
