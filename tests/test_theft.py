"""A theft victim is safe when the call ends, and is told only what is true (issue 26).

Every journey goes over HTTP as Twilio drives it and asserts what the wallet, the store and
the outbox hold afterwards, and the words heard, in Mandarin, Cantonese and English.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from ivr.routing.hours import Status
from ivr.routing.promises import callback_promise
from tests.conftest import Clock, Phone, Twiml, stored_cases

FRAUD_DESK = "+442079460001"
CN_LINE, HK_LINE, GB_LINE, US_LINE = "+864001234567", "+85230011234", "+442038089999", "+18005550100"
LI_HUA, AMELIA, SAM = "+8613800138000", "+447400123456", "+14155550123"
NOBODY_CN, NOBODY_GB, NOBODY_HK = "+8613900139000", "+447911123456", "+85291234567"
DIGITS = re.compile(r"\d")


def same_words(one: Twiml, other: Twiml) -> bool:
    """The same sentences, whatever the digits (each call's reference differs)."""
    return DIGITS.sub("#", one.text) == DIGITS.sub("#", other.text)


def desk_answers(phone: Phone, status: str) -> Twiml:
    """Twilio ending the fraud desk's <Dial> with `status` (DialCallStatus)."""
    assert phone.last is not None
    return phone.twiml(phone.last.first("Dial").get("action", ""), DialCallStatus=status)


# 1. The lock holds pending transfers (the wallet side is in test_wallet_contract.py).


def test_after_3_1_the_pending_transfer_is_held_and_the_caller_hears_it(phone: Phone, hotline: Any) -> None:
    phone.caller, phone.dialed = AMELIA, GB_LINE
    answer = phone.keys("3", "1")
    assert hotline.wallet.get_transaction("70020001").status == "held"
    said = "Any wallet on this number is locked now: no money can leave it, and any pending transfer"
    assert said in answer.text


# 3. The words after 3,1 are true with or without a wallet, and offer the other-number path.


@pytest.mark.parametrize(
    ("caller", "unknown", "dialed", "offer"),
    [
        (LI_HUA, NOBODY_CN, CN_LINE, "如果您的钱包绑定的是其他号码，请现在按2冻结。"),
        (
            AMELIA,
            NOBODY_GB,
            GB_LINE,
            "If your wallet is on a different number, press 2 now to lock it.",
        ),
    ],
)
def test_3_1_sounds_the_same_without_a_wallet_and_offers_2_for_another(
    phone: Phone, hotline: Any, caller: str, unknown: str, dialed: str, offer: str
) -> None:
    registered = Phone(phone.client, caller=caller, dialed=dialed, sid="CA-OWN").keys("3", "1")
    nobody = Phone(phone.client, caller=unknown, dialed=dialed, sid="CA-NONE").keys("3", "1")
    assert same_words(registered, nobody) and offer in registered.text
    for answer in (registered, nobody):  # one key while the words play; silence goes on to the desk
        gather = answer.first("Gather")
        assert (gather.get("numDigits"), gather.get("input")) == ("1", "dtmf")
        assert gather.get("actionOnEmptyResult") is None
        assert answer.dialed == [FRAUD_DESK]
        assert [child.tag for child in answer.root] == ["Gather", "Dial"]
    assert [(c["account"], c["outcome"]) for c in stored_cases(hotline)][-1] == (None, "no_wallet")


def test_hk_3_1_without_a_wallet_is_true_in_cantonese(phone: Phone, hotline: Any) -> None:
    answer = Phone(phone.client, caller=NOBODY_HK, dialed=HK_LINE).keys("3", "1")
    assert answer.text.startswith("好，呢個號碼名下嘅錢包都已經鎖定咗")
    assert "如果你個錢包係用其他號碼登記，請即刻按2鎖定佢。" in answer.text
    assert "登記咗呢個號碼" not in answer.text


def test_2_after_the_lock_words_locks_the_wallet_of_another_number(phone: Phone, hotline: Any) -> None:
    """A work phone with no wallet: 3,1 locks nothing; 2 then the victim's number and PIN does."""
    phone.caller = NOBODY_CN
    phone.keys("3", "1")
    asked = phone.press("2")
    assert "请输入钱包绑定的手机号" in asked.text
    phone.press("447400123456")
    locked = phone.press("1357")
    assert hotline.wallet.get_account("A-1002").locked is True
    assert hotline.wallet.get_transaction("70020001").status == "held"
    assert locked.text.startswith("好的，这个钱包已经冻结")
    assert locked.dialed == [FRAUD_DESK]
    assert [(c["account"], c["outcome"]) for c in stored_cases(hotline)] == [
        (None, "no_wallet"),
        ("A-1002", "locked"),
    ]
    [sms] = hotline.sms.outbox()
    assert sms["to"] == AMELIA


def test_another_key_or_silence_after_the_lock_words_goes_to_the_fraud_desk(phone: Phone) -> None:
    phone.keys("3", "1")
    assert phone.press("5").dialed == [FRAUD_DESK]


# 5. Next steps are said, not only texted to the stolen phone.


@pytest.mark.parametrize(
    ("caller", "dialed", "steps"),
    [
        (LI_HUA, CN_LINE, "重新登录后请尽快修改密码；如果损失较大，请向警方报案。"),
        (NOBODY_HK, HK_LINE, "重新登入之後請盡快改密碼；如果損失好大，請報警。"),
        (
            SAM,
            US_LINE,
            "Once you're back in your account, change your password. "
            "If you've lost a large amount, report it",
        ),
    ],
)
def test_the_next_steps_are_said_after_the_lock(phone: Phone, caller: str, dialed: str, steps: str) -> None:
    answer = Phone(phone.client, caller=caller, dialed=dialed).keys("3", "1")
    assert steps in answer.text


# 2. While a wallet is locked, nothing that opens it goes to its phone.


@pytest.mark.parametrize("key", ["1", "2"])  # username, reset link
def test_a_second_call_from_the_locked_number_gets_no_username_or_link(
    phone: Phone, hotline: Any, key: str
) -> None:
    before = Phone(phone.client, caller=AMELIA, dialed=GB_LINE, sid="CA-BEFORE").keys("1", key)
    assert len(hotline.sms.outbox()) == 1  # unlocked: the text goes
    Phone(phone.client, caller=AMELIA, dialed=GB_LINE, sid="CA-LOCK").keys("3", "1")
    again = Phone(phone.client, caller=AMELIA, dialed=GB_LINE, sid="CA-AGAIN").keys("1", key)
    nobody = Phone(phone.client, caller=NOBODY_GB, dialed=GB_LINE, sid="CA-NOBODY").keys("1", key)
    outbox = hotline.sms.outbox()
    assert len(outbox) == 2 and "locked" in outbox[1]["body"]  # the lockdown text, nothing after
    assert "reset" not in outbox[1]["body"]
    assert again.text == nobody.text == before.text
    assert "its wallet isn't locked" in again.text


def test_recovery_tells_every_caller_how_a_locked_wallet_is_recovered(phone: Phone) -> None:
    menu = Phone(phone.client, caller=AMELIA, dialed=GB_LINE).keys("1")
    said = (
        "If your wallet is locked, we don't send texts to its phone. "
        "To get back in, press 4 for our fraud team"
    )
    assert said in menu.text
    nobody = Phone(phone.client, caller=NOBODY_GB, dialed=GB_LINE, sid="CA-N").keys("1")
    assert nobody.text == menu.text
    assert Phone(phone.client, caller=AMELIA, dialed=GB_LINE, sid="CA-4").keys("1", "4").dialed == [
        FRAUD_DESK
    ]


def test_recovery_by_typed_number_in_cantonese_sends_nothing_to_a_locked_wallet(
    phone: Phone, hotline: Any
) -> None:
    hotline.wallet.lock("A-1001", "theft")
    hk = Phone(phone.client, caller=NOBODY_HK, dialed=HK_LINE)
    menu = hk.keys("1")
    assert "錢包鎖定期間，我哋唔會傳任何短訊去登記嘅手機；想解除鎖定、取回戶口，請按4" in menu.text
    hk.press("3")
    hk.press("8613800138000")
    done = hk.press("2")
    assert "如果呢個號碼已經登記，而且錢包冇鎖定，我哋啱啱傳咗短訊過去" in done.text
    assert hotline.sms.outbox() == []


def test_a_locked_wallet_gets_no_code_in_mandarin_and_the_words_match(phone: Phone, hotline: Any) -> None:
    phone.keys("3", "1")
    victim = Phone(phone.client, caller=LI_HUA, sid="CA-CODE")
    again = victim.keys("2")
    nobody = Phone(phone.client, caller=NOBODY_CN, sid="CA-NOCODE").keys("2")
    assert again.text == nobody.text
    assert "如果钱包已冻结，我们不会发送验证码；请按0转接二十四小时反诈骗团队。" in again.text
    assert len(hotline.sms.outbox()) == 1  # the lockdown text only
    assert victim.press("0").dialed == [FRAUD_DESK]


# 4. The fraud desk not answering: the lock stays, a priority callback, and when it comes.


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed"])
def test_a_missed_fraud_desk_says_the_lock_stays_and_books_a_priority_callback(
    phone: Phone, hotline: Any, clock: Clock, status: str
) -> None:
    clock.set("2026-11-23T12:00:00+00:00")  # Monday noon in London: agents open
    phone.caller, phone.dialed = AMELIA, GB_LINE
    phone.keys("3", "1")
    missed = desk_answers(phone, status)
    assert missed.text.startswith(
        "Sorry, our fraud team couldn't answer just now. "
        "Any wallet on that number stays locked, with its pending transfers on hold. "
        "To be called back first, ahead of other callers, press 1."
    )
    assert "all our agents are busy" not in missed.text and "press 3 to lock" not in missed.text
    assert hotline.wallet.get_account("A-1002").locked is True
    booked = phone.press("1")
    [callback] = stored_cases(hotline, "callback")
    assert (callback["priority"], callback["callback_number"], callback["region"]) == (True, AMELIA, "gb")
    assert (
        "As soon as an agent is free, they'll call you on the number ending 3 4 5 6, "
        "ahead of other callers." in booked.text
    )
    assert booked.all("Hangup")


def test_london_at_4_am_the_priority_callback_says_when_agents_are_back(phone: Phone) -> None:
    phone.caller, phone.dialed = AMELIA, GB_LINE  # the fixed clock: Monday 04:00 in London
    phone.keys("3", "1")
    desk_answers(phone, "busy")
    booked = phone.press("1")
    said = "Our agents are back this morning at 8, and you'll be the first they call, on the number ending 3"
    assert said in booked.text


def test_at_night_the_priority_callback_says_when_agents_are_back(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    clock.set("2026-11-23T03:00:00+08:00")  # Monday 3 AM in Beijing: agents from 9 AM
    phone.keys("3", "1")
    missed = desk_answers(phone, "no-answer")
    assert "抱歉，反诈骗团队暂时无法接听。这个号码名下的钱包都会保持冻结" in missed.text
    assert "需要我们优先给您回电，请按1。" in missed.text
    booked = phone.press("1")
    assert "人工客服将于今天早上9点恢复服务，届时会最先回电到尾号8 0 0 0的号码。" in booked.text
    [callback] = stored_cases(hotline, "callback")
    assert callback["priority"] is True


def test_a_missed_desk_sounds_the_same_with_or_without_a_wallet(phone: Phone) -> None:
    registered = Phone(phone.client, caller=LI_HUA, sid="CA-R")
    registered.keys("3", "1")
    nobody = Phone(phone.client, caller=NOBODY_CN, sid="CA-U")
    nobody.keys("3", "1")
    assert same_words(desk_answers(registered, "busy"), desk_answers(nobody, "busy"))


def test_a_missed_desk_after_a_failed_lock_does_not_say_locked(app_factory: Any) -> None:
    from tests.test_wallet_contract import BrokenWallet

    app = app_factory(WALLET=BrokenWallet())
    phone = Phone(app.test_client())
    phone.keys("3", "1")
    missed = desk_answers(phone, "no-answer")
    assert "反诈骗团队暂时无法接听" in missed.text and "冻结" not in missed.text.split("。")[1]
    assert "需要我们优先给您回电，请按1" in missed.text


def test_the_fraud_desk_answering_ends_the_call(phone: Phone) -> None:
    phone.keys("3", "1")
    done = desk_answers(phone, "completed")
    assert done.all("Hangup") and "再见" in done.text


@pytest.mark.parametrize(
    ("status", "booked", "expected"),
    [
        (Status(True, "open", "", None), "2026-11-23T12:00:00+08:00", "2026-11-23T12:00:00+08:00"),
        (
            Status(False, "outside_hours", "", datetime.fromisoformat("2026-11-23T09:00:00+08:00")),
            "2026-11-23T03:00:00+08:00",
            "2026-11-23T09:00:00+08:00",
        ),
        (Status(False, "emergency", "flood", None), "2026-11-23T03:00:00+08:00", None),
    ],
)
def test_a_theft_callback_is_promised_now_when_open_else_at_the_next_opening(
    status: Status, booked: str, expected: str | None
) -> None:
    promise = callback_promise(status, datetime.fromisoformat(booked), 0)  # theft: none ahead
    if status.open:
        assert promise.kind == "within_hour"
    else:
        assert promise.at == (datetime.fromisoformat(expected) if expected else None)


# 6. After the code, the latest transactions: no reference needed from the app.


def texted_code(hotline: Any) -> str:
    body = hotline.sms.outbox()[-1]["body"]
    match = re.search(r"验证码是(\d{6})|驗證碼係(\d{6})|code is (\d{6})", body)
    assert match, body
    return next(group for group in match.groups() if group)


def test_after_the_code_the_latest_three_are_read_newest_first_and_1_picks(
    phone: Phone, hotline: Any
) -> None:
    asked = phone.keys("2")
    assert "U S D T" not in asked.text and "7 0 0 1" not in asked.text  # nothing before the code
    listed = phone.press(texted_code(hotline))
    assert (
        "以下是您最近的交易，从最新的一笔开始：第1笔，120 U S D T，处理中，今天上午11点40分。"
        "第2笔，80 U S D T，没有成功，11月22日星期日"
    ) in listed.text
    assert "第3笔，500 U S D T，已完成" in listed.text
    assert "想了解其中一笔，请按对应的序号，再按井号键" in listed.text
    assert listed.first("Gather").get("finishOnKey") == "#"
    picked = phone.press("1")
    assert "交易7 0 0 1，0 0 0 2，金额120 U S D T，目前还在处理中" in picked.text
    phone.press("1")
    assert hotline.wallet.get_transaction("70010002").status == "cancelled"


def test_the_list_says_held_after_a_lock_and_a_reference_still_works(phone: Phone, hotline: Any) -> None:
    phone.caller, phone.dialed = SAM, US_LINE
    phone.keys("2")
    listed = phone.press(texted_code(hotline))
    assert "Here are your latest transactions, newest first. Number 1: 250 U S D C, completed," in listed.text
    assert (
        "press its number, then pound. For any other transaction, enter its reference, then pound."
        in listed.text
    )
    assert "Number 2" not in listed.text
    assert "isn't one of the options" in phone.press("2").text  # only one was read out
    found = phone.press("70030001")
    assert "Transaction 7 0 0 3, 0 0 0 1, for 250 U S D C, has been completed." in found.text


def test_cantonese_hears_the_latest_transactions(phone: Phone, hotline: Any) -> None:
    hk = Phone(phone.client, caller="anonymous", dialed=HK_LINE)  # withheld: the number is typed
    hk.keys("2", "8613800138000")
    listed = hk.press(texted_code(hotline))
    assert "你最近嘅交易，由最新嗰單講起：第1單，120 U S D T，處理緊" in listed.text
    assert "想了解其中一單，請按佢嘅序號，再按井字" in listed.text


def test_a_held_transfer_is_listed_as_on_hold(phone: Phone, hotline: Any) -> None:
    phone.keys("2")
    code = texted_code(hotline)
    hotline.wallet.lock("A-1001", "theft")  # locked by another call after the code was sent
    listed = phone.press(code)
    assert "第1笔，120 U S D T，因冻结已暂停" in listed.text
    picked = phone.press("1")
    assert "因钱包已冻结而暂停，不会转出" in picked.text


def test_the_reference_prompt_says_where_to_find_it(phone: Phone, hotline: Any) -> None:
    phone.keys("2")
    phone.press(texted_code(hotline))
    phone.press("3")  # the failed one
    another = phone.press("3")
    assert "请输入交易编号，输完请按井号键。交易编号可以在应用的“交易记录”里找到。" in another.text


# 7. Codes, 2-step verification and fake sites, from the main menu.


@pytest.mark.parametrize(
    ("caller", "dialed", "offer", "never", "fake", "no_code"),
    [
        (
            LI_HUA,
            CN_LINE,
            "验证码、两步验证或可疑网站的问题，请按5。",
            "OK钱包绝不会通过电话、短信或邮件向您索要密码或验证码。",
            "如果您在假冒网站上输入过账户信息，请马上冻结钱包，重新登录后再修改密码。",
            "钱包冻结期间，我们不会发送验证码。",
        ),
        (
            NOBODY_HK,
            HK_LINE,
            "驗證碼、兩步驗證或者可疑網站嘅問題，請按5。",
            "OK錢包絕對唔會用電話、短訊或者電郵問你攞密碼或者驗證碼。",
            "如果你喺假網站輸入過戶口資料，請即刻鎖定錢包，重新登入之後再改密碼。",
            "錢包鎖定期間，我哋唔會傳驗證碼。",
        ),
        (
            SAM,
            US_LINE,
            "For help with codes, 2-step verification or a suspicious website, press 5.",
            "OK Wallet will never ask for your password or a code, by phone, text or email.",
            "If you entered your details on a fake website, lock your wallet now, then change your password",
            "If a code doesn't arrive, check that your phone has signal",
        ),
    ],
)
def test_5_serves_codes_2fa_and_fake_sites_and_1_locks(
    phone: Phone, hotline: Any, caller: str, dialed: str, offer: str, never: str, fake: str, no_code: str
) -> None:
    caller_phone = Phone(phone.client, caller=caller, dialed=dialed)
    greeting = caller_phone.call()
    assert offer in greeting.text
    advice = caller_phone.press("5")
    assert never in advice.text and fake in advice.text and no_code in advice.text
    lockdown = caller_phone.press("1")
    assert lockdown.gather_action.startswith("/voice/menu/lockdown")
    assert stored_cases(hotline) == []  # nothing locked until the caller chooses


def test_one_utterance_reaches_the_security_advice(phone: Phone) -> None:
    phone.caller, phone.dialed = AMELIA, GB_LINE
    phone.call()
    heard = phone.press("", SpeechResult="I entered my password on a fake site", Confidence="0.9")
    assert "OK Wallet will never ask for your password or a code" in heard.text
    mandarin = Phone(phone.client, caller=LI_HUA, sid="CA-SAY")
    mandarin.call()
    said = mandarin.press("", SpeechResult="收不到验证码", Confidence="0.9")
    assert "如果收不到验证码，请确认手机信号正常" in said.text


# Found by an outside-in trial: a theft callback keeps its priority, and its promise is true.


def test_a_theft_callback_moves_a_waiting_ordinary_one_ahead(phone: Phone, hotline: Any) -> None:
    # The fixed clock: Monday 04:00 in London, agents from 8. Someone (or the victim) books an
    # ordinary callback for the number first, from a withheld line.
    withheld = Phone(phone.client, caller="anonymous", dialed=GB_LINE, sid="CA-EARLIER")
    withheld.keys("0", "1", "447400123456")
    [waiting] = stored_cases(hotline, "callback")
    assert waiting["priority"] is False
    phone.caller, phone.dialed = AMELIA, GB_LINE
    phone.keys("3", "1")
    desk_answers(phone, "busy")
    booked = phone.press("1")
    [callback] = stored_cases(hotline, "callback")  # still one per number, now ahead of the rest
    assert (callback["reference"], callback["priority"]) == (waiting["reference"], True)
    assert "and you'll be the first they call" in booked.text and "already on our" not in booked.text


def test_only_the_first_theft_callback_hears_it_is_first(phone: Phone, hotline: Any) -> None:
    heard = []
    for n, victim in enumerate(("+447911123456", "+447911123457")):
        caller = Phone(phone.client, caller=victim, dialed=GB_LINE, sid=f"CA-VICTIM{n}")
        caller.keys("3", "1")
        desk_answers(caller, "busy")
        heard.append(caller.press("1").text)
    assert "you'll be the first they call" in heard[0]
    assert "first they call" not in heard[1]
    assert "when we open, this morning at 8" in heard[1]  # the plain promise, true for its place
    assert [c["priority"] for c in stored_cases(hotline, "callback")] == [True, True]


def test_a_typed_number_does_not_tell_whether_it_is_already_on_the_list(phone: Phone, hotline: Any) -> None:
    first = Phone(phone.client, caller="anonymous", dialed=GB_LINE, sid="CA-FIRST")
    second = Phone(phone.client, caller="anonymous", dialed=GB_LINE, sid="CA-SECOND")
    words = [p.keys("0", "1", "447400123456").text for p in (first, second)]
    assert words[0] == words[1] and "already on our" not in words[1]
    assert len(stored_cases(hotline, "callback")) == 1  # the first keeps its place
