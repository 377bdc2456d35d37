"""Call flows: what the caller hears next, given where the call is and what they pressed.

Each flow module declares its menus, steps and outcomes as data; `GRAPH` is built from the
explicit list below and checked, so a module left out is a clear start-up error.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.config import Config
from ivr.flows import agents, lockdown, main, recovery, security, selfhelp, transactions
from ivr.flows.call import Call
from ivr.flows.graph import Graph, GraphError
from ivr.flows.menu import Menu
from ivr.flows.menu import choose as choose
from ivr.flows.prompts import FIXED_PROMPTS
from ivr.flows.speech import DIGIT_WORDS, SHARED, normalise

FLOWS = (main, lockdown, recovery, transactions, selfhelp, security, agents)
GRAPH = Graph.build(FLOWS)
# Every prompt name a catalogue must have: checked when the config is loaded.
PROMPT_KEYS = FIXED_PROMPTS | GRAPH.prompt_keys()
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
