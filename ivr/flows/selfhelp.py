"""The app won't open (`4`), and the other ways to reach us.

The checks come in the order the help article gives them (update, network, another device,
a security lock). Texts go only to the calling number, only when an account is registered
to it, within an hourly cap; the caller hears the same words either way.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows.call import Call
from ivr.flows.graph import once
from ivr.flows.main import anything_else
from ivr.flows.menu import Menu, Option, present

SELFHELP = Menu(
    name="selfhelp",
    intro=("selfhelp_checks",),
    options=(Option("1", "selfhelp.link", "opt_help_link"), Option("2", "contacts", "opt_other_ways")),
    offer_main=True,
)
# E-mail and in-app chat: offered by voice, texted rather than spelled letter by letter.
CONTACTS = Menu(
    name="contacts",
    intro=("other_ways",),
    options=(Option("1", "contacts.text", "opt_text_contacts"),),
    offer_main=True,
)


def start(call: Call) -> VoiceResponse:
    call.remember(topic="selfhelp")
    return present(call, SELFHELP)


def contacts(call: Call) -> VoiceResponse:
    return present(call, CONTACTS)


@once("selfhelp.link")
def text_help_link(call: Call) -> VoiceResponse:
    call.text_caller("help_sms", "sms_help", link=call.region.help_url)
    return anything_else(call, call.line("recovery_sent"))


@once("contacts.text")
def text_contacts(call: Call) -> VoiceResponse:
    call.text_caller("help_sms", "sms_contacts", email=call.region.support_email)
    return anything_else(call, call.line("recovery_sent"))


MENUS = (SELFHELP, CONTACTS)
STEPS = {
    "selfhelp": start,
    "selfhelp.link": text_help_link,
    "contacts": contacts,
    "contacts.text": text_contacts,
}
