"""The main menu: the first thing every caller hears, and where finished tasks return."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows.call import Call
from ivr.flows.menu import Menu, Option, present

MAIN = Menu(
    name="main",
    options=(  # the theft lockdown first, so a victim can press it within seconds
        Option("3", "lockdown", "opt_lockdown"),
        Option("1", "recovery", "opt_recovery"),
        Option("2", "transactions", "opt_transactions"),
    ),
    language_switch=True,
)


def answer(call: Call) -> VoiceResponse:
    """The first words of every call: welcome, the theft option, whether agents are open, the rest."""
    return present(call, MAIN, lead=(call.line("welcome"),), notice=tuple(call.status_lines()))


def main_menu(call: Call) -> VoiceResponse:
    return present(call, MAIN)


def anything_else(call: Call, *lines: str) -> VoiceResponse:
    """After a finished task: what happened, then the main menu again."""
    return present(call, MAIN, lead=(*lines, call.line("anything_else")))


MENUS = (MAIN,)
STEPS = {"main": main_menu}
