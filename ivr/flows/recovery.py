"""Account recovery (`1`): a username reminder or a reset link, by text to the registered phone.

The caller hears "if that number is registered and its wallet isn't locked" every time, whether
or not it is, and whether or not the per-account cap let a text go. A locked wallet's phone
gets nothing that opens it (it may be in a thief's hands): every caller hears that the fraud
desk, 24/7, recovers a locked wallet, and one key reaches it.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows.agents import backend_down
from ivr.flows.call import Call
from ivr.flows.graph import Outcome, once
from ivr.flows.identify import number_entry
from ivr.flows.lockdown import FRAUD_DESK
from ivr.flows.main import anything_else
from ivr.flows.menu import Menu, Option, present
from ivr.services import RESET_LINK_LIFETIME
from ivr.wallet import WalletError

LOCKED_KEY = "4"  # a locked wallet is recovered by the fraud desk

RECOVERY = Menu(
    name="recovery",
    options=(
        Option("1", "recovery.username", "opt_username"),
        Option("2", "recovery.reset", "opt_reset"),
        Option("3", "recovery.other", "opt_other_number"),
        Option(LOCKED_KEY, FRAUD_DESK, "opt_locked_recovery"),
    ),
)


def _number_entered(call: Call, phone: str) -> VoiceResponse:
    call.remember(phone=phone)
    return present(call, RECOVERY)


NUMBER = number_entry("recovery.number", _number_entered)


def start(call: Call) -> VoiceResponse:
    if call.account_phone is None:
        return NUMBER.ask(call, call.line("number_hidden"))
    return present(call, RECOVERY)


def other_number(call: Call) -> VoiceResponse:
    return NUMBER.ask(call)


@once("recovery.username")
def username(call: Call) -> VoiceResponse:
    return _send(call, "username")


@once("recovery.reset")
def reset(call: Call) -> VoiceResponse:
    return _send(call, "reset")


def _send(call: Call, kind: str) -> VoiceResponse:
    phone = call.account_phone
    if phone is None:
        return start(call)
    try:
        account = call.wallet.find_by_phone(phone)
    except WalletError:
        return backend_down(call)
    # A locked wallet: nothing is made or sent (no link exists to leak); the words are the same.
    if call.claim_text("recovery_sms", account, phone) and account is not None and not account.locked:
        if kind == "username":
            call.text_account(account, "sms_username", {"username": account.username}, opens_wallet=True)
        else:
            link = call.services.codes.issue_reset_link(account.account, call.now)
            call.text_account(
                account,
                "sms_reset",
                {"link": link},
                secrets=(link,),
                lifetime=RESET_LINK_LIFETIME,
                opens_wallet=True,
            )
    call.remember(topic="recovery")
    call.outcome("recovery")
    return anything_else(call, call.line("recovery_texted"))


MENUS = (RECOVERY, NUMBER.menu)
STEPS = {
    "recovery": start,
    "recovery.other": other_number,
    "recovery.username": username,
    "recovery.reset": reset,
    **NUMBER.steps,
}
OUTCOMES = {"recovery": Outcome(rank=20, self_service=True)}
