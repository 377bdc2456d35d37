"""The main menu: the first thing every caller hears, and where finished tasks return."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows import prompts
from ivr.flows.call import Call
from ivr.flows.graph import once
from ivr.flows.menu import Menu, Option, present, retry
from ivr.routing.regions import e164

HINT_KEY = "7"  # after the roaming hint: text the caller their own region's number

MAIN = Menu(
    name="main",
    options=(  # the theft lockdown first, so a victim can press it within seconds
        Option("3", "lockdown", "opt_lockdown"),
        Option("1", "recovery", "opt_recovery"),
        Option("2", "transactions", "opt_transactions"),
        Option("4", "selfhelp", "opt_selfhelp"),
        Option("5", "security", "opt_security"),  # codes, 2-step verification, fake sites
        Option(HINT_KEY, "hint.text", None),  # offered by the roaming hint only
    ),
    language_switch=True,
    status_notice=True,  # whether agents are open, said again in the new language on `9`
)


def answer(call: Call) -> VoiceResponse:
    """The first words of every call: welcome, the theft option, whether agents are open, the
    rest, and (once) a caller's own region's number when they dialed another region's."""
    hint = local_number(call)
    spoken = prompts.phone_number(call.language, hint) if hint else ""
    closing = (call.line("roaming_hint", number=spoken, key=HINT_KEY),) if hint else ()
    return present(call, MAIN, lead=(call.line("welcome"),), tail=closing)


def local_number(call: Call) -> str | None:
    """The caller's own region's number, when routing by their number chose a region whose
    dialed numbers do not include the one they called (a Mainland mobile dialing the UK line)."""
    region, dialed = call.region, e164(call.params.get("To"))
    if call.route.matched_by != "caller" or not region.numbers or dialed is None or dialed in region.numbers:
        return None
    return region.numbers[0]


@once("hint.text")
def text_local_number(call: Call) -> VoiceResponse:
    """`7` after the hint: text the local number to the calling phone, when it is registered."""
    if local_number(call) is None:  # no hint was offered: 7 is just a wrong key
        return retry(call, MAIN, "invalid_key")
    call.text_caller("help_sms", "sms_hotline")
    return anything_else(call, call.line("recovery_sent"))


def main_menu(call: Call) -> VoiceResponse:
    return present(call, MAIN)


def anything_else(call: Call, *lines: str) -> VoiceResponse:
    """After a finished task: what happened, then the main menu again."""
    return present(call, MAIN, lead=(*lines, call.line("anything_else")))


MENUS = (MAIN,)
STEPS = {"main": main_menu, "hint.text": text_local_number}
