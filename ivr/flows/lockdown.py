"""Theft lockdown (`3`): lock first, store the case, then say so, text it and reach the fraud desk.

Works 24 hours a day. Whether or not a wallet is found, the caller hears the same words and
gets a reference; the case records which.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr import limits
from ivr.flows import prompts
from ivr.flows.agents import fraud_desk
from ivr.flows.call import Call
from ivr.flows.menu import Menu, present, retry, step, take_number
from ivr.keypad import digits_only
from ivr.wallet import Account, WalletError

# Checked when no wallet is registered to the number, so both answers cost the same.
NO_ACCOUNT = "unregistered"

LOCKDOWN = Menu(
    name="lockdown",
    prompts=("lockdown_menu",),
    options={"1": "lockdown.self", "2": "lockdown.other"},
    on_misses="lockdown.fraud-desk",
    agent_step="lockdown.fraud-desk",
).register()
NUMBER = Menu(
    name="lockdown.number",
    prompts=("enter_phone",),
    entry="lockdown.number-entered",
    on_misses="lockdown.fraud-desk",
    agent_step="lockdown.fraud-desk",
).register()
PIN = Menu(
    name="lockdown.pin",
    prompts=("enter_pin",),
    entry="lockdown.pin-entered",
    on_misses="lockdown.unverified",
    agent_step="lockdown.fraud-desk",
).register()


@step("lockdown")
def start(call: Call) -> VoiceResponse:
    if call.route.caller is None:  # withheld: only the other-wallet path can find a wallet
        return present(call, NUMBER, lead=(call.line("number_hidden"),))
    return present(call, LOCKDOWN)


@step("lockdown.self", once=True)
def lock_own_wallet(call: Call) -> VoiceResponse:
    """Lock the wallet registered to the calling number."""
    phone = call.route.caller
    if phone is None:
        return start(call)
    try:
        account = call.hotline.wallet.find_by_phone(phone)
    except WalletError:
        return _record(call, None, "lock_failed")
    return _lock(call, account)


@step("lockdown.other")
def other_wallet(call: Call) -> VoiceResponse:
    return present(call, NUMBER)


@step("lockdown.number-entered")
def number_entered(call: Call) -> VoiceResponse:
    return take_number(call, NUMBER, "lock_phone", lambda c: present(c, PIN))


@step("lockdown.pin-entered", once=True)
def pin_entered(call: Call) -> VoiceResponse:
    """Check the PIN within the attempt limit; a missing wallet sounds like a wrong PIN."""
    phone = call.state.get("lock_phone")
    if not phone:
        return present(call, NUMBER)
    hotline, pin = call.hotline, call.digits
    try:
        account = hotline.wallet.find_by_phone(phone)
    except WalletError:
        return _record(call, None, "lock_failed")
    if not (len(pin) == 4 and digits_only(pin) == pin):
        return retry(call, PIN, "pin_mismatch")
    # The try is counted before the PIN is checked, so parallel calls share the limit. With no
    # wallet on the number the same work is done (a claim, a check against no account), so the
    # answer takes as long as a wrong PIN would, and sounds the same.
    with hotline.store.begin() as connection:
        attempt = limits.claim(connection, "wrong_pin", call.limit_subject(account, phone), call.now)
    if attempt is None:  # limit spent: only the fraud desk can help, and it sounds the same
        return retry(call, PIN, "pin_mismatch")
    try:
        right: bool | None = hotline.wallet.check_pin(account.account if account else NO_ACCOUNT, pin)
    except WalletError:
        right = None
    right = right if account is not None else False
    if right is not False:  # a right PIN, or none judged (the wallet was down), is no wrong PIN
        with hotline.store.begin() as connection:
            limits.release(connection, attempt)
    if right is None:
        return _record(call, None, "lock_failed")
    return _lock(call, account) if right else retry(call, PIN, "pin_mismatch")


@step("lockdown.unverified", once=True)
def unverified(call: Call) -> VoiceResponse:
    """Three wrong tries on the PIN path: a case for the fraud desk, which can verify by voice."""
    account = None
    phone = call.state.get("lock_phone")
    if phone:
        try:
            account = call.hotline.wallet.find_by_phone(phone)
        except WalletError:
            account = None
    return _record(call, account, "not_verified")


@step("lockdown.fraud-desk")
def straight_to_fraud_desk(call: Call) -> VoiceResponse:
    return fraud_desk(call)


def _lock(call: Call, account: Account | None) -> VoiceResponse:
    if account is None:
        return _record(call, None, "no_wallet")
    try:
        call.hotline.wallet.lock(account.account, reason="theft reported by phone")
    except WalletError:
        return _record(call, account, "lock_failed")
    return _record(call, account, "locked")


def _record(call: Call, account: Account | None, status: str) -> VoiceResponse:
    """Store the case (committed), text its reference, and only then tell the caller."""
    hotline = call.hotline
    with hotline.store.begin() as connection:
        reference = call.open_case(
            connection, "lockdown", status=status, priority=True, account=account.account if account else None
        )
    hotline.outcome(call, "lockdown")
    # The text says "locked": it goes only when that is true, within the hourly cap (a spoofed
    # caller ID must not turn the lockdown into an SMS bomb). The caller hears the same words.
    may_text = call.claim_text("lockdown_sms", account if status == "locked" else None, call.account_phone)
    if may_text and account is not None:
        call.text_account(account, call.line("sms_lockdown", reference=reference))
    outcome = {
        "locked": "lock_done",
        "no_wallet": "lock_done",
        "lock_failed": "lock_failed",
        "not_verified": "lock_not_verified",
    }[status]
    spoken = prompts.digits(call.language, reference)
    # "we've texted it, if a wallet is registered" is true, and the same, for locked and no wallet.
    texted = (call.line("reference_texted"),) if status in ("locked", "no_wallet") else ()
    return fraud_desk(call, call.line(outcome), call.line("reference_is", digits=spoken), *texted)
