"""Transactions (`2`): a one-time code by text, then a reference: status, cancel, dispute.

A reference on another account sounds exactly like one that does not exist. A locked
wallet still gets this menu: cancelling a thief's pending transfer is the point.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta

from sqlalchemy import insert, select, update
from twilio.twiml.voice_response import VoiceResponse

from ivr.flows import prompts
from ivr.flows.agents import backend_down
from ivr.flows.call import Call
from ivr.flows.main import anything_else
from ivr.flows.menu import Menu, present, retry, step, take_number
from ivr.keypad import digits_only
from ivr.store import one_time_codes
from ivr.wallet import NotCancellable, Transaction, WalletError

log = logging.getLogger("ivr.flows")

CODE_LIFETIME = timedelta(minutes=5)
TRIES_PER_CODE = 3

NUMBER = Menu(name="txn.number", prompts=("enter_phone",), entry="txn.number-entered").register()
CODE = Menu(
    name="txn.code", prompts=("enter_code",), entry="txn.code-entered", on_misses="txn.code-again"
).register()
CODE_AGAIN = Menu(name="txn.code-again", prompts=("code_menu",), options={"1": "txn.send-code"}).register()
REFERENCE = Menu(name="txn.reference", prompts=("enter_reference",), entry="txn.reference-entered").register()
PENDING = Menu(
    name="txn.pending", prompts=("txn_pending_menu",), options={"1": "txn.cancel", "2": "txn.dispute"}
).register()
SETTLED = Menu(name="txn.settled", prompts=("txn_dispute_menu",), options={"2": "txn.dispute"}).register()
NOT_FOUND = Menu(
    name="txn.not-found", prompts=("txn_retry_menu",), options={"1": "txn.ask-reference"}
).register()


@step("transactions")
def start(call: Call) -> VoiceResponse:
    if call.state.get("verified"):
        return present(call, REFERENCE)
    if call.account_phone is None:
        return present(call, NUMBER, lead=(call.line("number_hidden"),))
    return send_code(call)


@step("txn.number-entered")
def number_entered(call: Call) -> VoiceResponse:
    return take_number(call, NUMBER, "phone", send_code)


@step("txn.send-code", once=True)
def send_code(call: Call) -> VoiceResponse:
    """Text a 6-digit code to the registered phone (at most 5 an hour); the words never vary."""
    hotline, phone = call.hotline, call.account_phone
    try:
        account = hotline.wallet.find_by_phone(phone) if phone else None
    except WalletError:
        return backend_down(call)
    call.remember(txn_account=account.account if account else None, verified=False)
    if call.claim_text("code_sent", account, phone) and account is not None:
        code = f"{secrets.randbelow(1_000_000):06d}"
        with hotline.store.begin() as connection:
            connection.execute(
                insert(one_time_codes).values(
                    account=account.account,
                    call_sid=call.sid,
                    code_hash=hotline.digest("code", account.account, code),
                    created_at=call.now,
                    expires_at=call.now + CODE_LIFETIME,
                    tries=0,
                    used=False,
                )
            )
        call.text_account(account, call.line("sms_code", code=code), secrets=(code,), lifetime=CODE_LIFETIME)
    return present(call, CODE, lead=(call.line("code_intro"),))


@step("txn.code-entered", once=True)
def code_entered(call: Call) -> VoiceResponse:
    account = call.state.get("txn_account")
    if account and _check_code(call, account, call.digits):
        call.remember(verified=True)
        return present(call, REFERENCE)
    return retry(call, CODE, "code_wrong")


def _check_code(call: Call, account: str, typed: str) -> bool:
    """The latest code sent in this call: unexpired, unused, fewer than 3 tries."""
    hotline = call.hotline
    with hotline.store.begin() as connection:
        row = (
            connection.execute(
                select(one_time_codes)
                .where(one_time_codes.c.account == account, one_time_codes.c.call_sid == call.sid)
                .order_by(one_time_codes.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        if row is None or row["used"] or row["tries"] >= TRIES_PER_CODE:
            return False
        if row["expires_at"] <= call.now:
            return False
        good = hmac.compare_digest(row["code_hash"], hotline.digest("code", account, typed))
        # Only if no other try got in between (a duplicate webhook): each try counts once.
        counted = connection.execute(
            update(one_time_codes)
            .where(
                one_time_codes.c.id == row["id"],
                one_time_codes.c.tries == row["tries"],
                one_time_codes.c.used.is_(False),
            )
            .values(tries=row["tries"] + 1, used=good)
        ).rowcount
        return good and counted == 1


@step("txn.code-again")
def code_again(call: Call) -> VoiceResponse:
    return present(call, CODE_AGAIN, lead=(call.line("code_wrong"),))


@step("txn.ask-reference")
def ask_reference(call: Call) -> VoiceResponse:
    return present(call, REFERENCE) if call.state.get("verified") else start(call)


def _own_transaction(call: Call, reference: str) -> Transaction | None:
    """The transaction when it exists and belongs to the verified account; else None."""
    found = call.hotline.wallet.get_transaction(reference) if reference else None
    if found is None or found.account != call.state.get("txn_account"):
        return None
    return found


def _describe(call: Call, transaction: Transaction) -> str:
    return call.line(
        f"txn_{transaction.status}",
        reference=prompts.digits(call.language, transaction.reference),
        amount=prompts.amount(call.language, transaction.amount, transaction.currency),
    )


@step("txn.reference-entered")
def reference_entered(call: Call) -> VoiceResponse:
    if not call.state.get("verified"):
        return start(call)
    reference = digits_only(call.digits)[:20]
    try:
        transaction = _own_transaction(call, reference)
    except WalletError:
        return backend_down(call)
    if transaction is None:
        return present(call, NOT_FOUND, lead=(call.line("txn_not_found"),))
    call.remember(txn_reference=reference)
    menu = PENDING if transaction.status == "pending" else SETTLED
    return present(call, menu, lead=(_describe(call, transaction),))


@step("txn.cancel", once=True)
def cancel(call: Call) -> VoiceResponse:
    """Cancel through the wallet, which re-checks that the transaction is still pending."""
    reference = call.state.get("txn_reference", "")
    try:
        transaction = _own_transaction(call, reference) if call.state.get("verified") else None
        if transaction is None:
            return start(call)
        call.hotline.wallet.cancel(reference)
    except NotCancellable:
        return present(call, SETTLED, lead=(call.line("cancel_too_late"),))
    except WalletError:
        return backend_down(call)
    call.hotline.outcome(call, "transaction")
    return anything_else(call, call.line("cancel_done", reference=prompts.digits(call.language, reference)))


@step("txn.dispute", once=True)
def dispute(call: Call) -> VoiceResponse:
    """Open a dispute case (committed first), tell the wallet, text the case reference."""
    hotline, reference = call.hotline, call.state.get("txn_reference", "")
    try:
        transaction = _own_transaction(call, reference) if call.state.get("verified") else None
        if transaction is None:
            return start(call)
        account = hotline.wallet.get_account(transaction.account)
    except WalletError:
        return backend_down(call)
    with hotline.store.begin() as connection:
        case = call.open_case(
            connection, "dispute", account=transaction.account, transaction=transaction.reference
        )
    hotline.outcome(call, "dispute")
    try:
        hotline.wallet.open_dispute(transaction.reference, case)
    except WalletError:  # the case is kept; agents pass it on to the wallet team
        log.warning("dispute %s stored but the wallet was not told", case)
    if call.claim_text("dispute_sms", account, None) and account is not None:
        call.text_account(account, call.line("sms_dispute", reference=case, transaction=reference))
    return anything_else(
        call,
        call.line("dispute_opened"),
        call.line("reference_is", digits=prompts.digits(call.language, case)),
    )
