"""Theft lockdown (`3`): lock first, store the case, then say so, text it and reach the fraud desk.

Works 24 hours a day. Whether or not a wallet is found, the caller hears the same words and
gets a reference; the case records which. The lock holds the wallet's pending transfers in the
same wallet operation. While the words play, `2` locks a wallet registered to another number;
when the fraud desk does not answer, the caller hears that the lock stays and is offered a
callback stored with theft priority.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows import prompts
from ivr.flows.agents import FRAUD_DESK_RESULT, callback, fraud_desk, goodbye
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
    silence_prompt="pin_not_heard",  # not "I didn't catch a choice": nothing was offered
    speech=None,  # a PIN is never said aloud
)


def _number_entered(call: Call, phone: str) -> VoiceResponse:
    call.remember(lock_phone=phone)
    return present(call, PIN)


NUMBER = number_entry("lockdown.number", _number_entered, on_misses=FRAUD_DESK, agent_step=FRAUD_DESK)
OTHER_KEY = "2"  # after the words of 3,1: lock a wallet registered to another number (the 3,2 path)
AFTER_LOCK = "lockdown.after-key"
# The fraud desk was busy, failed or did not answer: a waiting menu (`3` still locks).
DESK_MISSED = Menu(
    name="lockdown.desk-missed",
    options=(
        Option("1", "lockdown.callback", "opt_priority_callback"),
        Option("3", "lockdown", None),
    ),
    agent_step=FRAUD_DESK,  # `0`: ring the fraud desk again
    on_misses="goodbye",
)
STILL_LOCKED = ("locked", "no_wallet")  # outcomes after which "it stays locked" is as true as "locked"


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
    return _lock(call, account, own=True)


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
    if attempt is None:  # limit spent: only the fraud desk can help (the same words either way)
        return _record(call, account, "not_verified")
    try:
        right: bool | None = call.wallet.check_pin(account.account if account else NO_ACCOUNT, pin)
    except WalletError:
        right = None
    right = right if account is not None else False
    if right is not False:  # a right PIN, or none judged (the wallet was down), is no wrong PIN
        call.services.limits.release(attempt)
    if right is None:
        return _record(call, None, "lock_failed")
    return _lock(call, account, own=False) if right else retry(call, PIN, "pin_mismatch")


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


def _lock(call: Call, account: Account | None, own: bool) -> VoiceResponse:
    """Lock (which holds the pending transfers too); `own`: the wallet of the calling number."""
    if account is None:
        return _record(call, None, "no_wallet", own)
    try:
        call.wallet.lock(account.account, reason="theft reported by phone")
    except WalletError:
        return _record(call, account, "lock_failed", own, pin_right=not own)
    return _record(call, account, "locked", own, pin_right=not own)


SPOKEN_RESULT = {  # (status, the calling number's own wallet?) -> what the caller hears first
    ("locked", True): "lock_done",
    ("no_wallet", True): "lock_done",  # the same words: they are true for both
    ("locked", False): "lock_done_other",
    ("lock_failed", True): "lock_failed",
    ("lock_failed", False): "lock_failed",
    ("not_verified", False): "lock_not_verified",
}


def _record(
    call: Call, account: Account | None, status: str, own: bool = False, pin_right: bool = False
) -> VoiceResponse:
    """Store the case (committed), text its reference, and only then tell the caller."""
    reference = call.open_case(
        "lockdown", outcome=status, priority=True, account=account.account if account else None
    )
    # For the fraud desk's whisper, and for what is true to say if the desk does not answer.
    call.remember(topic="lockdown", reference=reference, lock_status=status, pin_verified=pin_right)
    call.outcome("lockdown")
    # The text says "locked": it goes only when that is true, within the hourly cap (a spoofed
    # caller ID must not turn the lockdown into an SMS bomb). The caller hears the same words.
    may_text = call.claim_text("lockdown_sms", account if status == "locked" else None, call.account_phone)
    if may_text and account is not None:
        call.text_account(account, "sms_lockdown", {"reference": reference})
    spoken = prompts.digits(call.language, reference)
    lines = [call.line(SPOKEN_RESULT[status, own])]
    if status in STILL_LOCKED:
        lines.append(call.line("lock_next_steps"))
    lines.append(call.line("reference_is", digits=spoken))
    if status in STILL_LOCKED:  # "texted, if a wallet is registered": true, and the same, for both
        lines.append(call.line("reference_texted"))
    if not own or status not in STILL_LOCKED:
        return fraud_desk(call, *lines)
    lines.append(call.line("lock_other_offer", key=OTHER_KEY))
    return fraud_desk(call, *lines, keys_to=call.url(f"/voice/step/{AFTER_LOCK}"))


def after_lock_key(call: Call) -> VoiceResponse:
    """A key pressed while the words after 3,1 played: `2` locks another wallet; any other key
    goes on to the fraud desk, where silence leads too."""
    if call.digits == OTHER_KEY:
        call.choice("lockdown.after", "lockdown.other")
        return NUMBER.ask(call)
    return fraud_desk(call)


def desk_result(call: Call) -> VoiceResponse:
    """Where the fraud desk's <Dial> ends: a finished call says goodbye; busy, failed or no
    answer hears that the lock stays (when it is true) and is offered a priority callback."""
    if call.params.get("DialCallStatus") == "completed":
        return goodbye(call)
    lead = [call.line("desk_missed")]
    if call.state.get("lock_status") in STILL_LOCKED:
        lead.append(call.line("desk_lock_stays"))
    return present(call, DESK_MISSED, lead=tuple(lead))


def priority_callback(call: Call) -> VoiceResponse:
    """`1` after a missed fraud desk: a callback stored with theft priority (the call carries
    the theft mark), told when to expect it."""
    call.carried["theft"] = "1"
    return callback(call)


MENUS = (LOCKDOWN, NUMBER.menu, PIN, DESK_MISSED)
STEPS = {
    "lockdown": start,
    "lockdown.self": lock_own_wallet,
    "lockdown.other": other_wallet,
    "lockdown.pin-entered": pin_entered,
    "lockdown.unverified": unverified,
    FRAUD_DESK: straight_to_fraud_desk,
    AFTER_LOCK: after_lock_key,
    FRAUD_DESK_RESULT: desk_result,
    "lockdown.callback": priority_callback,
    **NUMBER.steps,
}
OUTCOMES = {"lockdown": Outcome(rank=70, self_service=True)}
