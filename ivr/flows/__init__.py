"""Call flows: what the caller hears next, given where the call is and what they pressed.

Each flow module declares its menus, steps and outcomes as data; `GRAPH` is built from the
explicit list below and checked, so a module left out is a clear start-up error.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows import agents, lockdown, main, recovery, selfhelp, transactions
from ivr.flows.call import Call
from ivr.flows.graph import Graph, GraphError
from ivr.flows.menu import Menu
from ivr.flows.menu import choose as choose
from ivr.flows.prompts import FIXED_PROMPTS

FLOWS = (main, lockdown, recovery, transactions, selfhelp, agents)
GRAPH = Graph.build(FLOWS)
# Every prompt name a catalogue must have: checked when the config is loaded.
PROMPT_KEYS = FIXED_PROMPTS | GRAPH.prompt_keys()


def answer(call: Call) -> VoiceResponse:
    """The first words of every call."""
    return main.answer(call)


__all__ = ["FLOWS", "GRAPH", "PROMPT_KEYS", "Graph", "GraphError", "Menu", "answer", "choose"]
