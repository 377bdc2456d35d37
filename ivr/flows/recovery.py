"""Account recovery (`1`): a username reminder or a reset link, by text to the registered phone.

The caller hears "if that number is registered" every time, whether or not it is, and
whether or not the per-account cap let a text go.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update
from twilio.twiml.voice_response import VoiceResponse

from ivr.flows.agents import backend_down
from ivr.flows.call import Call
from ivr.flows.main import anything_else
from ivr.flows.menu import Menu, present, step, take_number
from ivr.store import reset_tokens
from ivr.wallet import WalletError

if TYPE_CHECKING:
    from ivr.hotline import Hotline

RESET_LINK_LIFETIME = timedelta(minutes=30)

RECOVERY = Menu(
    name="recovery",
    prompts=("recovery_menu",),
    options={"1": "recovery.username", "2": "recovery.reset", "3": "recovery.other"},
).register()
NUMBER = Menu(name="recovery.number", prompts=("enter_phone",), entry="recovery.number-entered").register()


@step("recovery")
def start(call: Call) -> VoiceResponse:
    if call.account_phone is None:
        return present(call, NUMBER, lead=(call.line("number_hidden"),))
    return present(call, RECOVERY)


@step("recovery.other")
def other_number(call: Call) -> VoiceResponse:
    return present(call, NUMBER)


@step("recovery.number-entered")
def number_entered(call: Call) -> VoiceResponse:
    return take_number(call, NUMBER, "phone", lambda c: present(c, RECOVERY))


@step("recovery.username", once=True)
def username(call: Call) -> VoiceResponse:
    return _send(call, "username")


@step("recovery.reset", once=True)
def reset(call: Call) -> VoiceResponse:
    return _send(call, "reset")


def _send(call: Call, kind: str) -> VoiceResponse:
    hotline, phone = call.hotline, call.account_phone
    if phone is None:
        return start(call)
    try:
        account = hotline.wallet.find_by_phone(phone)
    except WalletError:
        return backend_down(call)
    if call.claim_text("recovery_sms", account, phone) and account is not None:
        if kind == "username":
            call.text_account(account, call.line("sms_username", username=account.username))
        else:
            link = issue_reset_link(hotline, account.account)
            call.text_account(
                account, call.line("sms_reset", link=link), secrets=(link,), lifetime=RESET_LINK_LIFETIME
            )
    hotline.outcome(call, "recovery")
    return anything_else(call, call.line("recovery_sent"))


def issue_reset_link(hotline: Hotline, account: str) -> str:
    """A single-use reset link; only the token's hash is stored."""
    token = secrets.token_urlsafe(24)
    now = hotline.now()
    with hotline.store.begin() as connection:
        connection.execute(
            insert(reset_tokens).values(
                token_hash=hotline.digest("reset", token),
                account=account,
                created_at=now,
                expires_at=now + RESET_LINK_LIFETIME,
            )
        )
    return hotline.config.reset_url.format(token=token)


def redeem_reset_token(hotline: Hotline, token: str) -> str | None:
    """The account a reset token belongs to, once: for the wallet's reset page to call."""
    digest, now = hotline.digest("reset", token), hotline.now()
    with hotline.store.begin() as connection:
        row = (
            connection.execute(select(reset_tokens).where(reset_tokens.c.token_hash == digest))
            .mappings()
            .first()
        )
        if row is None or row["used_at"] is not None or row["expires_at"] <= now:
            return None
        claimed = connection.execute(
            update(reset_tokens)
            .where(reset_tokens.c.token_hash == digest, reset_tokens.c.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
    return str(row["account"]) if claimed else None
