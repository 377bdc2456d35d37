"""Account security (`5`): what the support articles teach, said in one go, with `1` to lock.

OK Wallet never asks for a password or a code; after details were typed into a fake site,
lock the wallet now and change the password once back in; when a code does not arrive, what
to check (and that a locked wallet's phone gets no codes). One key or one utterance from the
main menu reaches all three.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows.call import Call
from ivr.flows.menu import Menu, Option, present

SECURITY = Menu(
    name="security",
    intro=("security_never_ask", "security_fake_site", "security_no_code"),
    options=(Option("1", "lockdown", "opt_security_lock"),),
    offer_main=True,
)


def start(call: Call) -> VoiceResponse:
    return present(call, SECURITY)


MENUS = (SECURITY,)
STEPS = {"security": start}
