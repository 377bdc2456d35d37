"""Transactions (`2`): a one-time code by text, then the latest transactions read out (a key
picks one) or a typed reference: status, cancel, dispute. Nothing is read before the code.

A reference on another account sounds exactly like one that does not exist. A locked
wallet's phone gets no code (it may be in a thief's hands): the lock has already held its
pending transfers, and every caller hears that `0` at the code reaches the 24/7 fraud desk.
"""

from __future__ import annotations

import logging

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows import prompts
from ivr.flows.agents import backend_down
from ivr.flows.call import Call
from ivr.flows.graph import Outcome, once
from ivr.flows.identify import number_entry
from ivr.flows.lockdown import FRAUD_DESK
from ivr.flows.main import anything_else
from ivr.flows.menu import Menu, Option, Step, present, retry
from ivr.keypad import digits_only
from ivr.services import CODE_LIFETIME
from ivr.wallet import CANCELLABLE, LATEST, NotCancellable, Transaction, WalletError

log = logging.getLogger("ivr.flows")

CODE = Menu(
    name="txn.code",
    intro=("enter_code",),
    retry_intro=("enter_code_again",),  # not "when it arrives": it has
    options=(Option("0", FRAUD_DESK, "code_locked"),),  # said to every caller, locked or not
    agent=False,  # `0` is the fraud desk here, day and night
    entry="txn.code-entered",
    on_misses="txn.code-again",
    silence_prompt="code_not_heard",
    speech=None,  # a one-time code is never said aloud
)
CODE_AGAIN = Menu(name="txn.code-again", options=(Option("1", "txn.send-code", "opt_new_code"),))
REFERENCE = Menu(
    name="txn.reference", intro=("enter_reference",), entry="txn.reference-entered", speech="digits"
)
ANOTHER = Option("3", "txn.ask-reference", "opt_another_transaction")
PICKS = tuple(str(n) for n in range(1, LATEST + 1))  # the keys that pick a transaction read out


def _latest_lines(call: Call) -> tuple[str, ...]:
    """The verified account's latest transactions, newest first, each with the key that picks it
    (the references are kept in the call's state for the pick)."""
    found = call.wallet.latest_transactions(call.state.get("txn_account", ""), LATEST)
    call.remember(txn_latest=[t.reference for t in found])
    lines = [call.line("txn_latest_intro")] if found else []
    for key, transaction in zip(PICKS, found, strict=False):
        values = {
            "n": key,
            "amount": prompts.amount(call.language, transaction.amount, transaction.currency),
            "status": call.line(f"status_{transaction.status}"),
        }
        if transaction.created_at is None:
            lines.append(call.line("txn_latest_item_undated", **values))
        else:
            lines.append(call.line("txn_latest_item", when=call.when(transaction.created_at), **values))
    return tuple(lines)


# One entry: a transaction's key read out, or any reference, then `#`.
LATEST_MENU = Menu(
    name="txn.latest",
    intro=("txn_latest_pick",),
    options=tuple(Option(key, f"txn.pick-{key}", None) for key in PICKS),
    entry="txn.reference-entered",
    recap=_latest_lines,
    speech="digits",
)


def _recap(call: Call) -> tuple[str, ...]:
    """On `*` after a result: the result again (status, amount), then its options."""
    try:
        transaction = _own_transaction(call, call.state.get("txn_reference", ""))
    except WalletError:
        return ()
    return (_describe(call, transaction),) if transaction else ()


PENDING = Menu(
    name="txn.pending",
    options=(
        Option("1", "txn.cancel", "opt_cancel", irreversible=True),
        Option("2", "txn.dispute", "opt_dispute", irreversible=True),
        ANOTHER,
    ),
    offer_main=True,
    recap=_recap,
)
SETTLED = Menu(
    name="txn.settled",
    options=(Option("2", "txn.dispute", "opt_dispute_settled", irreversible=True), ANOTHER),
    offer_main=True,
    recap=_recap,
)
NOT_FOUND = Menu(
    name="txn.not-found",
    options=(Option("1", "txn.ask-reference", "opt_another_reference"),),
    offer_main=True,
)


def _number_entered(call: Call, phone: str) -> VoiceResponse:
    call.remember(phone=phone)
    return send_code(call)


NUMBER = number_entry("txn.number", _number_entered)


def start(call: Call) -> VoiceResponse:
    if call.state.get("verified"):
        return latest(call)
    if call.account_phone is None:
        return NUMBER.ask(call, call.line("number_hidden"))
    return send_code(call)


@once("txn.send-code")
def send_code(call: Call) -> VoiceResponse:
    """Text a 6-digit code to the registered phone (at most 5 an hour); the words never vary."""
    phone = call.account_phone
    try:
        account = call.wallet.find_by_phone(phone) if phone else None
    except WalletError:
        return backend_down(call)
    call.remember(txn_account=account.account if account else None, verified=False, topic="transactions")
    if call.claim_text("code_sent", account, phone) and account is not None and not account.locked:
        code = call.services.codes.issue_code(account.account, call.sid, call.now)
        call.text_account(
            account, "sms_code", {"code": code}, secrets=(code,), lifetime=CODE_LIFETIME, opens_wallet=True
        )
    return present(call, CODE, lead=(call.line("code_intro"),))


@once("txn.code-entered")
def code_entered(call: Call) -> VoiceResponse:
    account = call.state.get("txn_account")
    if account and call.services.codes.check_code(account, call.sid, call.digits, call.now):
        call.remember(verified=True)
        return latest(call)
    return retry(call, CODE, "code_wrong")


def latest(call: Call) -> VoiceResponse:
    """After the code: the latest transactions to pick from, or (none yet) the reference prompt."""
    try:
        lines = _latest_lines(call)
    except WalletError:
        return backend_down(call)
    if not lines:
        return present(call, REFERENCE, lead=(call.line("txn_none_recent"),))
    return present(call, LATEST_MENU, lead=lines)


def _pick(key: str) -> Step:
    def pick(call: Call) -> VoiceResponse:
        """A transaction read out, picked by its key: as if its reference had been typed."""
        if not call.state.get("verified"):
            return start(call)
        references = call.state.get("txn_latest") or []
        if int(key) > len(references):
            return retry(call, LATEST_MENU, "invalid_key")
        return _show(call, str(references[int(key) - 1]))

    return pick


def code_again(call: Call) -> VoiceResponse:
    """Three misses at the code: a new code. Silence was no wrong code: say so kindly."""
    why = "code_not_received" if call.last_miss == "code_not_heard" else "code_wrong"
    return present(call, CODE_AGAIN, lead=(call.line(why),))


def ask_reference(call: Call) -> VoiceResponse:
    return present(call, REFERENCE) if call.state.get("verified") else start(call)


def _own_transaction(call: Call, reference: str) -> Transaction | None:
    """The transaction when it exists and belongs to the verified account; else None."""
    found = call.wallet.get_transaction(reference) if reference else None
    if found is None or found.account != call.state.get("txn_account"):
        return None
    return found


def _describe(call: Call, transaction: Transaction) -> str:
    return call.line(
        f"txn_{transaction.status}",
        reference=prompts.digits(call.language, transaction.reference),
        amount=prompts.amount(call.language, transaction.amount, transaction.currency),
    )


def reference_entered(call: Call) -> VoiceResponse:
    if not call.state.get("verified"):
        return start(call)
    return _show(call, digits_only(call.digits)[:20])


def _show(call: Call, reference: str) -> VoiceResponse:
    """The transaction's status and what can be done with it (a verified caller's own only)."""
    try:
        transaction = _own_transaction(call, reference)
    except WalletError:
        return backend_down(call)
    if transaction is None:
        return present(call, NOT_FOUND, lead=(call.line("txn_not_found"),))
    call.remember(txn_reference=reference)
    menu = PENDING if transaction.status in CANCELLABLE else SETTLED
    return present(call, menu, lead=(_describe(call, transaction),))


@once("txn.cancel")
def cancel(call: Call) -> VoiceResponse:
    """Cancel through the wallet, which re-checks that the transaction is still pending or held."""
    reference = call.state.get("txn_reference", "")
    try:
        transaction = _own_transaction(call, reference) if call.state.get("verified") else None
        if transaction is None:
            return start(call)
        call.wallet.cancel(reference)
    except NotCancellable:
        return present(call, SETTLED, lead=(call.line("cancel_too_late"),))
    except WalletError:
        return backend_down(call)
    call.outcome("transaction")
    return anything_else(call, call.line("cancel_done", reference=prompts.digits(call.language, reference)))


@once("txn.dispute")
def dispute(call: Call) -> VoiceResponse:
    """Open a dispute case (committed first), tell the wallet, text the case reference."""
    reference = call.state.get("txn_reference", "")
    try:
        transaction = _own_transaction(call, reference) if call.state.get("verified") else None
        if transaction is None:
            return start(call)
        account = call.wallet.get_account(transaction.account)
    except WalletError:
        return backend_down(call)
    case = call.open_case("dispute", account=transaction.account, transaction=transaction.reference)
    call.remember(reference=case)
    call.outcome("dispute")
    try:
        call.wallet.open_dispute(transaction.reference, case)
    except WalletError:  # the case is kept; agents pass it on to the wallet team
        log.warning("dispute %s stored but the wallet was not told", case)
    if call.claim_text("dispute_sms", account, None) and account is not None:
        call.text_account(account, "sms_dispute", {"reference": case, "transaction": reference})
    return anything_else(
        call,
        call.line("dispute_opened"),
        call.line("reference_is", digits=prompts.digits(call.language, case)),
    )


MENUS = (NUMBER.menu, CODE, CODE_AGAIN, LATEST_MENU, REFERENCE, PENDING, SETTLED, NOT_FOUND)
STEPS = {
    "transactions": start,
    "txn.send-code": send_code,
    "txn.code-entered": code_entered,
    "txn.code-again": code_again,
    "txn.ask-reference": ask_reference,
    "txn.reference-entered": reference_entered,
    **{f"txn.pick-{key}": _pick(key) for key in PICKS},
    "txn.cancel": cancel,
    "txn.dispute": dispute,
    **NUMBER.steps,
}
OUTCOMES = {
    "transaction": Outcome(rank=50, self_service=True),
    "dispute": Outcome(rank=60, self_service=True),
}
