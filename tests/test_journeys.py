"""No caller stranded, every need served, an agent who knows why (issue 14): each journey over
HTTP with Twilio's request shape, following the TwiML's action URLs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Clock, Phone, stored_cases

LI_HUA = "+8613800138000"  # A-1001, registered, Mainland
AMELIA = "+447400123456"  # A-1002, registered, UK
CN_LINE, HK_LINE, GB_LINE = "+864001234567", "+85230011234", "+442038089999"
FRAUD_DESK = "+442079460001"


def whisper_of(phone: Phone) -> Any:
    """Follow the <Number url> the agent's leg would fetch: what the agent hears."""
    assert phone.last is not None
    number = phone.last.first("Number")
    url = number.get("url", "")
    assert (phone.last.short(url) or "").startswith("/voice/step/whisper?"), phone.last.raw
    return phone.twiml(url)


# 1. A theft victim in a waiting menu is never stuck.


def test_a_theft_victim_who_pressed_0_at_night_can_still_lock(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    clock.set("2026-11-23T23:30:00+08:00")  # Beijing, closed
    offer = phone.keys("0")
    assert "需要紧急冻结钱包，请按3" in offer.text
    phone.press("3")
    locked = phone.press("1")
    assert locked.dialed == [FRAUD_DESK]
    assert [case["outcome"] for case in stored_cases(hotline)] == ["locked"]


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed"])
def test_3_locks_from_the_unanswered_offer(phone: Phone, hotline: Any, clock: Clock, status: str) -> None:
    clock.set("2026-11-23T10:00:00+00:00")  # London, open
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    uk.keys("0")
    offer = uk.follow(DialCallStatus=status)
    assert "If your phone was lost or stolen, press 3 to lock your wallet now." in offer.text
    uk.press("3")
    assert uk.press("1").dialed == [FRAUD_DESK]
    assert [case["account"] for case in stored_cases(hotline, "lockdown")] == ["A-1002"]


def test_3_in_the_hong_kong_queue_leaves_the_line_for_the_lockdown(phone: Phone, clock: Clock) -> None:
    clock.set("2026-11-23T10:00:00+08:00")
    hk = Phone(phone.client, caller="+85291234567", dialed=HK_LINE)
    hk.keys("0")
    wait = hk.twiml("/voice/step/queue-wait?lang=zh-HK&n=3", QueuePosition="2", AvgQueueTime="30")
    assert "請按3即刻鎖定錢包" in wait.text
    left = hk.press("3")
    assert left.all("Leave")  # <Leave> first: the <Enqueue> action takes it from there
    lockdown = hk.twiml("/voice/step/queue-result?lang=zh-HK&n=5", QueueResult="leave")
    assert "鎖定本機錢包，請按1" in lockdown.text


def test_8_goes_back_to_the_main_menu_from_any_single_key_menu(phone: Phone) -> None:
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    uk.keys("1")
    main = uk.press("8")
    assert main.gather_action.startswith("/voice/menu/main?")
    assert "Lost or stolen? Press 3." in main.text


# 2. After a lockdown: the fraud desk is told, and the text says how to cancel a transfer.


def test_after_3_2_the_fraud_desk_hears_the_pin_was_right(phone: Phone, hotline: Any) -> None:
    phone.keys("3", "2", "447400123456")
    phone.press("1357")  # A-1002's PIN, from another phone
    assert hotline.wallet.get_account("A-1002").locked is True
    heard = whisper_of(phone)
    assert "已正确输入钱包PIN码" in heard.text and "未验证身份" not in heard.text
    assert "1357" not in heard.raw


def test_the_fraud_desk_hears_the_lockdown_reference_before_the_caller(phone: Phone, hotline: Any) -> None:
    phone.keys("3", "1")
    [case] = stored_cases(hotline)
    heard = whisper_of(phone)
    spaced = " ".join(case["reference"][:4]) + "，" + " ".join(case["reference"][4:])
    assert "客户报告钱包被盗，要求冻结；是否已冻结，请看工单。" in heard.text and spaced in heard.text
    assert "未验证身份" in heard.text and "客户使用普通话" in heard.text
    for secret in (LI_HUA, LI_HUA[1:], "2468"):
        assert secret not in heard.raw  # the agent hears no number, PIN or code
    [sms] = hotline.sms.outbox()
    assert "处理中的转账已暂停。如需取消转账，请致电+864001234567联系反诈骗团队" in sms["body"]


# 3. Transactions.


def test_star_after_a_result_repeats_the_status_and_amount(phone: Phone, hotline: Any) -> None:
    from tests.test_transactions import texted_code

    phone.keys("2")
    phone.press(texted_code(hotline))
    result = phone.press("70010003")
    assert "没有成功，款项没有从您的钱包扣除" in result.text
    again = phone.press("*")
    assert "金额80 U S D T" in again.text and "没有成功" in again.text
    another = phone.press("3")
    assert "请输入交易编号" in another.text
    pending = phone.press("70010002")
    assert "通常在30分钟内完成" in pending.text and "返回主菜单，请按8" in pending.text


def test_code_entry_says_what_happened(phone: Phone, hotline: Any) -> None:
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    uk.keys("2")
    silent = uk.press("")
    assert silent.text.startswith("Sorry, I didn't get the code.")
    wrong = uk.press("000000")
    assert "that code isn't right" in wrong.text and "Please enter the code again" in wrong.text
    assert "When it arrives" not in wrong.text
    uk2 = Phone(phone.client, caller=AMELIA, dialed=GB_LINE, sid="silent-three")
    uk2.keys("2")
    uk2.press("")
    uk2.press("")
    third = uk2.press("")
    assert "If the code hasn't arrived" in third.text and "isn't right" not in third.text


# 4. Language switch.


def test_9_repeats_the_closed_notice_and_the_record_and_texts_follow(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    clock.set("2026-02-17T12:00:00+08:00")  # Spring Festival: closed
    phone.call()
    english = phone.press("9")
    assert "off today for a public holiday and will be back on Tuesday, February 24 at 9 AM" in english.text
    phone.press("1")
    phone.press("1")  # a username reminder, in the language the caller chose
    [sms] = hotline.sms.outbox()
    assert sms["body"].startswith("OK Wallet: your username is li.hua.") and "+864001234567" in sms["body"]
    assert hotline.call_record(phone.sid)["language"] == "en-US"


# 5. A withheld caller's voicemail.


def test_a_withheld_caller_can_leave_a_number_for_the_voicemail(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    clock.set("2026-11-23T23:30:00+00:00")  # London, closed
    hidden = Phone(phone.client, caller="anonymous", dialed=GB_LINE)
    hidden.keys("0")
    asked = hidden.press("2")
    assert "So we can call you back, enter your phone number" in asked.text
    record = hidden.press("447400123456")
    callback = record.first("Record").get("recordingStatusCallback", "")
    hidden.twiml(
        callback,
        RecordingStatus="completed",
        RecordingUrl="https://x/rec",
        RecordingDuration="9",
        RecordingSid="RE1",
    )
    [case] = stored_cases(hotline, "voicemail")
    assert case["callback_number"] == AMELIA and case["recording_url"] == "https://x/rec"


def test_a_withheld_caller_who_gives_no_number_hears_so_plainly(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    clock.set("2026-11-23T23:30:00+00:00")
    hidden = Phone(phone.client, caller="anonymous", dialed=GB_LINE)
    hidden.keys("0", "2")
    plain = hidden.press("")  # just hash
    assert "We can't call you back without a number" in plain.text and plain.all("Record")


# 6. Texts go in the reader's language.


def test_a_hong_kong_caller_locking_a_mainland_wallet_texts_it_in_simplified_chinese(
    phone: Phone, hotline: Any
) -> None:
    hk = Phone(phone.client, caller="+85291234567", dialed=HK_LINE)
    hk.keys("3", "2", "8613800138000", "2468")
    [sms] = hotline.sms.outbox()
    assert sms["to"] == LI_HUA and sms["body"].startswith("【OK钱包】您的钱包已冻结")
    assert "+864001234567" in sms["body"]


# 8. The app won't open; 10. other channels.


def test_4_reads_the_checks_and_texts_the_help_link_to_a_registered_caller(
    phone: Phone, hotline: Any
) -> None:
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    checks = uk.keys("4")
    assert checks.text.startswith("Let's try a few things. First, update the OK Wallet app")
    sent = uk.press("1")
    assert "If that number is registered with us, we've just sent it a text." in sent.text
    [sms] = hotline.sms.outbox()
    assert sms["to"] == AMELIA and "https://help.okwallet.example/uk/app" in sms["body"]
    assert "+442038089999" in sms["body"]


def test_an_unregistered_caller_hears_the_same_words_and_gets_no_text(phone: Phone, hotline: Any) -> None:
    stranger = Phone(phone.client, caller="+447400999888", dialed=GB_LINE)
    stranger.keys("4")
    sent = stranger.press("1")
    assert "If that number is registered with us, we've just sent it a text." in sent.text
    assert hotline.sms.outbox() == []


def test_the_closed_hours_offer_texts_the_contacts_instead_of_spelling_them(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    clock.set("2026-11-23T23:30:00+00:00")
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    offer = uk.keys("0")
    assert "s u p p o r t" not in offer.text
    uk.press("4")
    [sms] = hotline.sms.outbox()
    assert "support.uk@okwallet.example" in sms["body"] and "within 24 hours" in sms["body"]


# 9. An agent who knows why the caller is here.


def test_an_agent_hears_the_context_after_a_verified_transaction(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    from tests.test_transactions import texted_code

    clock.set("2026-11-23T10:00:00+00:00")
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    uk.keys("2")
    uk.press(texted_code(hotline))
    uk.press("70020001")
    agent = uk.press("0")
    assert agent.dialed == ["+442079460000"]
    heard = whisper_of(uk)
    assert heard.text == (
        "OK Wallet caller. A transaction question. Verified by a one-time code. Speaks English."
    )
    assert heard.languages == ["en-GB"]


def test_hong_kong_through_taskrouter_gets_the_context_as_task_attributes(
    app_factory: Any, config_dir: Any, clock: Clock
) -> None:
    regions = config_dir / "regions.yaml"
    regions.write_text(
        regions.read_text().replace(
            "    queue: hk-support", "    queue: hk-support\n    task_workflow: WW" + "0" * 32, 1
        )
    )
    clock.set("2026-11-23T10:00:00+08:00")
    hk = Phone(app_factory().test_client(), caller="+85291234567", dialed=HK_LINE)
    queued = hk.keys("0")
    enqueue = queued.first("Enqueue")
    assert enqueue.get("workflowSid") == "WW" + "0" * 32
    task = json.loads(queued.first("Task").text or "{}")
    assert task == {
        "language": "zh-HK",
        "queue": "hk-support",
        "reference": "",
        "topic": "none",
        "verified": "0",
    }


# 11. The roaming hint.


def test_a_mainland_mobile_dialing_the_uk_line_hears_its_own_hotline_once(phone: Phone, hotline: Any) -> None:
    roaming = Phone(phone.client, caller=LI_HUA, dialed=GB_LINE)
    greeting = roaming.call()
    assert (
        "您也可以拨打本地热线4 0 0，1 2 3，4 5 6 7，可能比国际长途更便宜。如需通过短信获取这个号码，请按7。"
        in greeting.text
    )
    texted = roaming.press("7")
    assert "如果该号码已在我们这里注册" in texted.text
    [sms] = hotline.sms.outbox()
    assert sms["to"] == LI_HUA and "+864001234567" in sms["body"]
    assert "本地热线" not in texted.text  # said once, not on every menu


def test_no_hint_when_the_caller_dialed_their_own_line_and_7_is_then_a_wrong_key(phone: Phone) -> None:
    greeting = phone.call()
    assert "本地热线" not in greeting.text
    assert "您按的键不在选项中" in phone.press("7").text
