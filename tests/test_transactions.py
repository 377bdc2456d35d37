"""Transactions: the one-time code, then status, cancel and dispute, all on real stored data."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Clock, Phone, stored_cases

LI_HUA = "+8613800138000"


def texted_code(hotline: Any) -> str:
    body = hotline.sms.outbox()[-1]["body"]
    match = re.search(r"验证码是(\d{6})", body) or re.search(r"code is (\d{6})", body)
    assert match, body
    return match.group(1)


def verified(phone: Phone, hotline: Any) -> Phone:
    phone.keys("2")
    phone.press(texted_code(hotline))
    return phone


def test_code_then_cancel_a_pending_transaction(phone: Phone, hotline: Any) -> None:
    asked = phone.keys("2")
    assert "6位验证码" in asked.text and asked.first("Gather").get("finishOnKey") == "#"
    [sms] = hotline.sms.outbox()
    assert sms["to"] == LI_HUA
    reference_prompt = phone.press(texted_code(hotline))
    assert "请输入交易编号" in reference_prompt.text
    status = phone.press("70010002")
    assert "交易7 0 0 1，0 0 0 2，金额120 U S D T，目前还在处理中" in status.text
    assert "取消这笔交易，请按1" in status.text
    done = phone.press("1")
    assert "交易7 0 0 1，0 0 0 2已取消" in done.text
    assert hotline.wallet.get_transaction("70010002").status == "cancelled"


def test_dispute_on_a_failed_transaction(phone: Phone, hotline: Any) -> None:
    verified(phone, hotline)
    status = phone.press("70010003")
    assert "没有成功" in status.text and "请按2提出申诉" in status.text
    opened = phone.press("2")
    [case] = stored_cases(hotline)
    assert (case["kind"], case["account"], case["transaction"], case["status"]) == (
        "dispute",
        "A-1001",
        "70010003",
        "open",
    )
    assert re.sub(r"\D", "", opened.text.split("受理编号是")[1].split("。")[0]) == case["reference"]
    assert hotline.wallet.get_transaction("70010003").disputed is True
    assert case["reference"] in hotline.sms.outbox()[-1]["body"]


def test_another_accounts_transaction_sounds_like_a_missing_one(phone: Phone, hotline: Any) -> None:
    verified(phone, hotline)
    theirs = phone.press("70020001")
    phone.press("1")
    missing = phone.press("99999999")
    assert theirs.text == missing.text and "没有找到这个交易编号" in theirs.text
    assert hotline.wallet.get_transaction("70020001").status == "pending"


def test_a_locked_wallets_phone_gets_no_code_and_the_words_do_not_tell(phone: Phone, hotline: Any) -> None:
    """The stolen phone may be in a thief's hands: no code goes to it. Every caller hears that a
    locked wallet gets no code and that 0 reaches the fraud desk, day or night."""
    unlocked = Phone(phone.client, caller=LI_HUA, sid="CA-FREE").keys("2")
    hotline.wallet.lock("A-1001", "theft")
    hotline.sms.outbox()  # the first call's code
    locked = phone.keys("2")
    assert locked.text == unlocked.text
    assert "如果钱包已冻结，我们不会发送验证码；请按0转接二十四小时反诈骗团队。" in locked.text
    assert len(hotline.sms.outbox()) == 1  # only the code sent before the lock
    assert phone.press("0").dialed == ["+442079460001"]
    assert hotline.wallet.get_transaction("70010002").status == "held"


def test_a_held_transfer_is_said_as_held_and_can_be_cancelled(phone: Phone, hotline: Any) -> None:
    verified(phone, hotline)  # the code came before the wallet was locked (from another phone)
    hotline.wallet.lock("A-1001", "theft")
    status = phone.press("70010002")
    assert "因钱包已冻结而暂停，不会转出。您仍然可以取消这笔交易。" in status.text
    assert "取消这笔交易，请按1" in status.text
    phone.press("1")
    assert hotline.wallet.get_transaction("70010002").status == "cancelled"


def test_three_wrong_codes_then_a_new_one(phone: Phone, hotline: Any) -> None:
    phone.keys("2")
    good = texted_code(hotline)
    wrong = "000000" if good != "000000" else "111111"
    phone.press(wrong)
    phone.press(wrong)
    offer = phone.press(wrong)
    assert "验证码不正确或已过期" in offer.text and "重新获取验证码，请按1" in offer.text
    phone.press("1")
    fresh = texted_code(hotline)
    assert len(hotline.sms.outbox()) == 2
    assert "请输入交易编号" in phone.press(fresh).text


def test_the_old_code_dies_after_three_tries(phone: Phone, hotline: Any) -> None:
    phone.keys("2")
    good = texted_code(hotline)
    wrong = "000000" if good != "000000" else "111111"
    phone.press(wrong)
    phone.press(wrong)
    phone.press(good)  # the third try, right this time
    assert "请输入交易编号" in phone.last.text  # type: ignore[union-attr]
    other = Phone(phone.client, sid="CA2")
    other.keys("2")
    code = texted_code(hotline)
    for _ in range(3):
        other.press("000000" if code != "000000" else "111111")
    other.press("0")  # leave the code menu: the old code must not work any more
    assert other.last is not None


def test_an_expired_code_is_refused(phone: Phone, hotline: Any, clock: Clock) -> None:
    phone.keys("2")
    code = texted_code(hotline)
    clock.set("2026-11-23T12:05:01+08:00")
    assert "验证码不正确或已过期" in phone.press(code).text


def test_sixth_code_in_an_hour_is_not_sent_and_sounds_the_same(phone: Phone, hotline: Any) -> None:
    answers = [Phone(phone.client, sid=f"CA{n}").keys("2").text for n in range(6)]
    assert len(set(answers)) == 1
    assert len(hotline.sms.outbox()) == 5


def test_unregistered_caller_hears_the_same_and_can_never_pass(phone: Phone, hotline: Any) -> None:
    registered = phone.keys("2")
    stranger = Phone(phone.client, caller="+8613900139000", sid="CA2")
    assert stranger.keys("2").raw == registered.raw
    assert "验证码不正确或已过期" in stranger.press("123456").text
    assert len(hotline.sms.outbox()) == 1


def test_codes_are_stored_hashed(phone: Phone, hotline: Any) -> None:
    from ivr.store.tables import one_time_codes

    phone.keys("2")
    code = texted_code(hotline)
    [row] = hotline.store.all(one_time_codes.select())
    assert code not in row["code_hash"] and len(row["code_hash"]) == 64


def test_cancel_replayed_by_twilio_cancels_once(phone: Phone, hotline: Any) -> None:
    verified(phone, hotline)
    phone.press("70010002")
    first = phone.press("1")
    again = phone.retry()
    assert again.raw == first.raw


def test_wallet_timeout_offers_a_person(app_factory: Any) -> None:
    from tests.test_wallet_contract import BrokenWallet

    app = app_factory(WALLET=BrokenWallet())
    answer = Phone(app.test_client()).keys("2")
    assert "暂时无法连接钱包系统" in answer.text
    assert answer.dialed == ["+864008200000"]


@pytest.mark.parametrize("caller", ["anonymous", "+8613900139000"])
def test_typed_registered_number_identifies_the_account(phone: Phone, hotline: Any, caller: str) -> None:
    phone.caller = caller
    if caller == "anonymous":
        phone.keys("2")
        phone.press("8613800138000")
    else:
        phone.keys("2")
    sent = [s["to"] for s in hotline.sms.outbox()]
    assert sent == ([LI_HUA] if caller == "anonymous" else [])


def test_a_retried_code_webhook_replays_its_answer_and_counts_one_try(phone: Phone, hotline: Any) -> None:
    """Twilio resends the code entry (the first answer was slow): the caller still hears
    'enter the reference', and the code's tries went up once."""
    from sqlalchemy import select

    from ivr.store.tables import one_time_codes

    asked = phone.keys("2")
    code = texted_code(hotline)
    first = phone.twiml(asked.gather_action, Digits=code)
    again = phone.twiml(asked.gather_action, Digits=code)
    assert "请输入交易编号" in first.text and again.raw == first.raw
    row = hotline.store.one(select(one_time_codes.c.tries, one_time_codes.c.used))
    assert (row["tries"], row["used"]) == (1, True)
