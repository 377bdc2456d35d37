"""Theft lockdown (`3`): lock first, store the case, then say so, text it and reach the fraud desk.

Works 24 hours a day. Whether or not a wallet is found, the caller hears the same words and
gets a reference; the case records which.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows import prompts
from ivr.flows.agents import fraud_desk
from ivr.flows.call import Call
from ivr.flows.graph import Outcome, once
from ivr.flows.identify import number_entry
from ivr.flows.menu import Menu, Option, present, retry
from ivr.keypad import digits_only
from ivr.wallet import Account, WalletError

# Checked when no wallet is registered to the number, so both answers cost the same.
NO_ACCOUNT = "unregistered"
FRAUD_DESK = "lockdown.fraud-desk"

LOCKDOWN = Menu(
    name="lockdown",
    options=(
        Option("1", "lockdown.self", "opt_lock_self", irreversible=True),
        Option("2", "lockdown.other", "opt_lock_other"),
    ),
    on_misses=FRAUD_DESK,
    agent_step=FRAUD_DESK,
)
PIN = Menu(
    name="lockdown.pin",
    intro=("enter_pin",),
    entry="lockdown.pin-entered",
    on_misses="lockdown.unverified",
    agent_step=FRAUD_DESK,
    speech=None,  # a PIN is never said aloud
)


def _number_entered(call: Call, phone: str) -> VoiceResponse:
    call.remember(lock_phone=phone)
    return present(call, PIN)


NUMBER = number_entry("lockdown.number", _number_entered, on_misses=FRAUD_DESK, agent_step=FRAUD_DESK)


def start(call: Call) -> VoiceResponse:
    if call.route.caller is None:  # withheld: only the other-wallet path can find a wallet
        return NUMBER.ask(call, call.line("number_hidden"))
    return present(call, LOCKDOWN)


@once("lockdown.self")
def lock_own_wallet(call: Call) -> VoiceResponse:
    """Lock the wallet registered to the calling number."""
    phone = call.route.caller
    if phone is None:
        return start(call)
    try:
        account = call.wallet.find_by_phone(phone)
    except WalletError:
        return _record(call, None, "lock_failed")
    return _lock(call, account)


def other_wallet(call: Call) -> VoiceResponse:
    return NUMBER.ask(call)


@once("lockdown.pin-entered")
def pin_entered(call: Call) -> VoiceResponse:
    """Check the PIN within the attempt limit; a missing wallet sounds like a wrong PIN."""
    phone = call.state.get("lock_phone")
    if not phone:
        return NUMBER.ask(call)
    pin = call.digits
    try:
        account = call.wallet.find_by_phone(phone)
    except WalletError:
        return _record(call, None, "lock_failed")
    if not (len(pin) == 4 and digits_only(pin) == pin):
        return retry(call, PIN, "pin_mismatch")
    # The try is counted before the PIN is checked, so parallel calls share the limit. With no
    # wallet on the number the same work is done (a claim, a check against no account), so the
    # answer takes as long as a wrong PIN would, and sounds the same.
    attempt = call.services.limits.claim("wrong_pin", call.limit_subject(account, phone), call.now)
    if attempt is None:  # limit spent: only the fraud desk can help, and it sounds the same
        return retry(call, PIN, "pin_mismatch")
    try:
        right: bool | None = call.wallet.check_pin(account.account if account else NO_ACCOUNT, pin)
    except WalletError:
        right = None
    right = right if account is not None else False
    if right is not False:  # a right PIN, or none judged (the wallet was down), is no wrong PIN
        call.services.limits.release(attempt)
    if right is None:
        return _record(call, None, "lock_failed")
    return _lock(call, account) if right else retry(call, PIN, "pin_mismatch")


@once("lockdown.unverified")
def unverified(call: Call) -> VoiceResponse:
    """Three wrong tries on the PIN path: a case for the fraud desk, which can verify by voice."""
    account = None
    phone = call.state.get("lock_phone")
    if phone:
        try:
            account = call.wallet.find_by_phone(phone)
        except WalletError:
            account = None
    return _record(call, account, "not_verified")


def straight_to_fraud_desk(call: Call) -> VoiceResponse:
    return fraud_desk(call)


def _lock(call: Call, account: Account | None) -> VoiceResponse:
    if account is None:
        return _record(call, None, "no_wallet")
    try:
        call.wallet.lock(account.account, reason="theft reported by phone")
    except WalletError:
        return _record(call, account, "lock_failed")
    return _record(call, account, "locked")


SPOKEN_RESULT = {
    "locked": "lock_done",
    "no_wallet": "lock_done",
    "lock_failed": "lock_failed",
    "not_verified": "lock_not_verified",
}


def _record(call: Call, account: Account | None, status: str) -> VoiceResponse:
    """Store the case (committed), text its reference, and only then tell the caller."""
    reference = call.open_case(
        "lockdown", outcome=status, priority=True, account=account.account if account else None
    )
    call.remember(topic="lockdown", reference=reference)  # for the fraud desk's whisper
    call.outcome("lockdown")
    # The text says "locked": it goes only when that is true, within the hourly cap (a spoofed
    # caller ID must not turn the lockdown into an SMS bomb). The caller hears the same words.
    may_text = call.claim_text("lockdown_sms", account if status == "locked" else None, call.account_phone)
    if may_text and account is not None:
        call.text_account(account, "sms_lockdown", {"reference": reference})
    spoken = prompts.digits(call.language, reference)
    # "we've texted it, if a wallet is registered" is true, and the same, for locked and no wallet.
    texted = (call.line("reference_texted"),) if status in ("locked", "no_wallet") else ()
    return fraud_desk(
        call, call.line(SPOKEN_RESULT[status]), call.line("reference_is", digits=spoken), *texted
    )


MENUS = (LOCKDOWN, NUMBER.menu, PIN)
STEPS = {
    "lockdown": start,
    "lockdown.self": lock_own_wallet,
    "lockdown.other": other_wallet,
    "lockdown.pin-entered": pin_entered,
    "lockdown.unverified": unverified,
    FRAUD_DESK: straight_to_fraud_desk,
    **NUMBER.steps,
}
OUTCOMES = {"lockdown": Outcome(rank=70, self_service=True)}
