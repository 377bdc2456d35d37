"""Call flows: what the caller hears next, given where the call is and what they pressed.

Each flow module declares its menus, steps and outcomes as data; `GRAPH` is built from the
explicit list below and checked, so a module left out is a clear start-up error.
"""

from __future__ import annotations

from pathlib import Path

from twilio.twiml.voice_response import VoiceResponse

from ivr.config import Config, PromptRules
from ivr.flows import agents, callbacks, lockdown, main, recovery, security, selfhelp, transactions
from ivr.flows.call import LANGUAGE_NAME, Call
from ivr.flows.graph import Graph, GraphError
from ivr.flows.menu import Menu
from ivr.flows.menu import choose as choose
from ivr.flows.speech import DIGIT_WORDS, SHARED, normalise
from ivr.flows.wording import said_in

FLOWS = (main, lockdown, recovery, transactions, selfhelp, security, agents, callbacks)
GRAPH = Graph.build(FLOWS)
# The code that says prompts: the flows, and the web layer's apology.
SPEAKERS = (*Path(__file__).parent.glob("*.py"), *(Path(__file__).parent.parent / "web").glob("*.py"))


def prompt_rules(graph: Graph, speakers: tuple[Path, ...] = SPEAKERS) -> PromptRules:
    """What the flows say, from their source and the graph's menus (never a list kept by hand)."""
    said = said_in(speakers)
    values: dict[str, frozenset[str]] = {}
    for item in said:
        if not item.family and item.values is not None:
            values[item.name] = values[item.name] & item.values if item.name in values else item.values
    options = {option.prompt for menu in graph.menus.values() for option in menu.options if option.prompt}
    return PromptRules(
        names=frozenset(item.name for item in said if not item.family) | graph.prompt_keys(),
        families=frozenset(item.name for item in said if item.family) - {LANGUAGE_NAME},
        optional=frozenset({LANGUAGE_NAME}),
        values={**values, **{name: frozenset({"key"}) for name in options}},
        needs={name: frozenset({"key"}) for name in options},
        where={item.name: item.where for item in reversed(said) if not item.family},
    )


# What every catalogue is held to, when the config is loaded.
PROMPT_KEYS = prompt_rules(GRAPH)
# Every phrase list a catalogue must have: each option a caller may say, and the shared words.
PHRASE_KEYS = frozenset(SHARED) | frozenset(DIGIT_WORDS) | GRAPH.phrase_keys()


def check_phrases(config: Config) -> list[str]:
    """A phrase two options of one menu share, in any language (speech could not tell them
    apart): `file: phrases: 'x' ...`, one a line."""
    problems = []
    for menu in GRAPH.menus.values():
        if menu.speech != "options":
            continue
        for language, catalogue in sorted(config.prompts.items()):
            said: dict[str, str] = {}
            for option in menu.options:
                for phrase in catalogue.phrases.get(option.target, ()):
                    normal = normalise(phrase)
                    other = said.setdefault(normal, option.target)
                    if other != option.target:
                        problems.append(
                            f"{config.source / 'prompts' / (language + '.yaml')}: phrases: {phrase!r} "
                            f"is said for both {other} and {option.target} in menu {menu.name!r}"
                        )
    return problems


def answer(call: Call) -> VoiceResponse:
    """The first words of every call."""
    return main.answer(call)


__all__ = [
    "FLOWS",
    "GRAPH",
    "PHRASE_KEYS",
    "PROMPT_KEYS",
    "Graph",
    "GraphError",
    "Menu",
    "answer",
    "check_phrases",
    "choose",
]
