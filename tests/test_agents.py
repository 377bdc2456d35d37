"""Agents and waiting: dial outcomes, closed hours, callbacks, voicemail, the queue."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Clock, Phone, stored_cases

SPRING_FESTIVAL = "2026-02-17T12:00:00+08:00"


def hk(phone: Phone, **kwargs: Any) -> Phone:
    return Phone(phone.client, caller="+85291234567", dialed="+85230011234", **kwargs)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("busy", "人工客服现在都在忙"),
        ("no-answer", "人工客服暂时无人接听"),
        ("failed", "暂时无法为您接通人工客服"),
        ("canceled", "人工客服暂时无人接听"),
    ],
)
def test_each_unanswered_dial_outcome_says_why_and_offers_callback_or_voicemail(
    phone: Phone, status: str, words: str
) -> None:
    phone.keys("0")
    result = phone.follow(DialCallStatus=status)
    assert result.text.startswith(f"抱歉，{words}")
    assert "需要我们给您回电，请按1。给我们留言，请按2。" in result.text
    assert result.gather_action.startswith("/voice/menu/offer")
    assert result.dialed == []


def test_a_completed_agent_call_ends_politely(phone: Phone) -> None:
    phone.keys("0")
    done = phone.follow(DialCallStatus="completed")
    assert done.text == "感谢您致电OK钱包，再见。" and done.all("Hangup")


@pytest.mark.parametrize(
    ("caller", "dialed", "at", "words"),
    [
        (
            "+8613800138000",
            "+864001234567",
            SPRING_FESTIVAL,
            ["将于2月24日星期二上午9点恢复服务", "如需通过短信获取我们的电子邮箱", "需要我们给您回电，请按1"],
        ),
        (
            "+85291234567",
            "+85230011234",
            "2026-11-23T21:00:00+08:00",
            ["會喺聽日朝早9點恢復服務", "想用短訊收我哋嘅電郵地址", "想我哋覆電，請按1"],
        ),
        (
            "+447400123456",
            "+442038089999",
            "2026-11-22T12:00:00+00:00",
            [
                "will be back tomorrow at 8 am",
                "To get our contact details by text, press 4.",
                "To have us call you back, press 1. To leave a message, press 2.",
            ],
        ),
        (
            "+14155550123",
            "+18005550100",
            "2026-11-26T12:00:00-05:00",
            [
                "public holiday and will be back tomorrow at 7 AM",
                "contact details by text",
                "press 2",
            ],
        ),
    ],
)
def test_out_of_hours_offer_in_each_language(
    phone: Phone, clock: Clock, caller: str, dialed: str, at: str, words: list[str]
) -> None:
    clock.set(at)
    caller_phone = Phone(phone.client, caller=caller, dialed=dialed)
    offer = caller_phone.keys("0")
    for expected in words:
        assert expected in offer.text
    assert offer.dialed == [] and offer.all("Enqueue") == []


def test_three_misses_when_closed_reach_the_offer(phone: Phone, clock: Clock) -> None:
    clock.set(SPRING_FESTIVAL)
    offer = phone.keys("", "", "")
    assert offer.gather_action.startswith("/voice/menu/offer") and "请按1" in offer.text


def test_beijing_noon_unanswered_then_1_books_exactly_one_callback(phone: Phone, hotline: Any) -> None:
    phone.keys("0")
    assert phone.last.dialed == ["+864008200000"]  # type: ignore[union-attr]
    phone.follow(DialCallStatus="no-answer")
    booked = phone.press("1")
    assert "尾号8 0 0 0的号码" in booked.text and booked.all("Hangup")
    [case] = stored_cases(hotline, "callback")
    assert (case["callback_number"], case["region"], case["status"], case["priority"]) == (
        "+8613800138000",
        "cn",
        "open",
        False,
    )
    # Asking again from a later call keeps the first callback and says so.
    again = Phone(phone.client, sid="CA2")
    again.keys("0")
    again.follow(DialCallStatus="busy")
    kept = again.press("1")
    assert "已经在回电名单上了" in kept.text
    assert len(stored_cases(hotline, "callback")) == 1


def test_withheld_caller_types_a_callback_number(phone: Phone, hotline: Any, clock: Clock) -> None:
    clock.set(SPRING_FESTIVAL)
    phone.caller = "anonymous"
    phone.keys("0")
    asked = phone.press("1")
    assert "请输入您希望我们回电的号码" in asked.text
    invalid = phone.press("12345")
    assert invalid.text.startswith("抱歉，这个号码好像不完整") and "miss=1" in invalid.gather_action
    booked = phone.press("13912345678")  # national, read in the region's country (CN)
    assert "尾号5 6 7 8" in booked.text
    [case] = stored_cases(hotline, "callback")
    assert case["callback_number"] == "+8613912345678"


def test_spring_festival_0_2_records_a_voicemail_case(phone: Phone, hotline: Any, clock: Clock) -> None:
    clock.set(SPRING_FESTIVAL)
    phone.keys("0")
    record_twiml = phone.press("2")
    record = record_twiml.first("Record")
    assert record.get("maxLength") == "120" and record.get("finishOnKey") == "#"
    assert record.get("recordingStatusCallback", "").startswith("http://localhost/voice/step/recording")
    assert "听到提示音后" in record_twiml.text
    thanks = phone.twiml(
        record.get("action", ""),
        RecordingUrl="https://api.twilio.com/rec/RE1",
        RecordingDuration="14",
        Digits="#",
    )
    assert "已收到您的留言" in thanks.text
    assert stored_cases(hotline, "voicemail") == []  # the case waits for Twilio's report
    status = {
        "RecordingStatus": "completed",
        "RecordingUrl": "https://api.twilio.com/rec/RE1",
        "RecordingSid": "RE1",
        "RecordingDuration": "14",
    }
    phone.twiml(record.get("recordingStatusCallback", ""), **status)
    phone.twiml(record.get("recordingStatusCallback", ""), **status)  # Twilio retried
    [case] = stored_cases(hotline, "voicemail")
    assert (case["recording_url"], case["recording_seconds"], case["region"]) == (
        "https://api.twilio.com/rec/RE1",
        14,
        "cn",
    )


def test_an_empty_recording_leaves_no_case(phone: Phone, hotline: Any, clock: Clock) -> None:
    clock.set(SPRING_FESTIVAL)
    phone.keys("0")
    record = phone.press("2").first("Record")
    again = phone.twiml(record.get("action", ""), RecordingUrl="", RecordingDuration="0")
    assert again.text.startswith("抱歉，没有听到您的留言") and again.gather_action.startswith(
        "/voice/menu/offer"
    )
    phone.twiml(
        record.get("recordingStatusCallback", ""),
        RecordingStatus="completed",
        RecordingUrl="https://api.twilio.com/rec/RE2",
        RecordingSid="RE2",
        RecordingDuration="0",
    )
    assert stored_cases(hotline, "voicemail") == []


def test_hong_kong_0_enqueues_and_the_wait_url_speaks_and_offers_1(phone: Phone, clock: Clock) -> None:
    clock.set("2026-11-23T10:00:00+08:00")
    caller = hk(phone)
    queued = caller.keys("0")
    enqueue = queued.first("Enqueue")
    assert (enqueue.text or "").strip() == "hk-support"
    wait = caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="3", AvgQueueTime="250", QueueTime="5")
    assert wait.text == (
        "你而家排第3位。平均等候大約5分鐘。唔想再等，請按1，我哋會保留你嘅輪候次序，覆電俾你。"
        "如果部手機唔見咗或者俾人偷咗，請按3即刻鎖定錢包。"
    )
    gather = wait.first("Gather")
    assert gather.get("action", "").startswith("http://localhost/voice/menu/queue?")  # the menu mechanism
    assert gather.find("Play") is not None  # hold music, interruptible by 1


@pytest.mark.parametrize(
    ("reported", "announced"),
    [
        (["5", "3", "4", "2", "6", "1"], ["5", "3", "3", "2", "2", "1"]),
        (["2", "2", "9"], ["2", "2", "2"]),
    ],
)
def test_the_announced_position_never_rises(
    phone: Phone, clock: Clock, reported: list[str], announced: list[str]
) -> None:
    clock.set("2026-11-23T10:00:00+08:00")
    caller = hk(phone)
    wait_url = caller.keys("0").first("Enqueue").get("waitUrl", "")
    heard = []
    for position in reported:
        text = caller.twiml(wait_url, QueuePosition=position, AvgQueueTime="30").text
        heard.append(text.split("排第")[1].split("位")[0])
    assert heard == announced


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        ("20", "預計等候少過一分鐘"),
        ("60", "平均等候大約一分鐘"),
        ("61", "平均等候大約2分鐘"),
        ("601", "平均等候大約15分鐘"),
    ],
)
def test_average_wait_is_rounded_up_honestly(phone: Phone, clock: Clock, seconds: str, words: str) -> None:
    clock.set("2026-11-23T10:00:00+08:00")
    caller = hk(phone)
    wait_url = caller.keys("0").first("Enqueue").get("waitUrl", "")
    assert words in caller.twiml(wait_url, QueuePosition="1", AvgQueueTime=seconds).text


def test_pressing_1_in_the_queue_leaves_for_a_callback_that_keeps_its_time(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    clock.set("2026-11-23T10:00:00+08:00")
    caller = hk(phone)
    enqueue = caller.keys("0").first("Enqueue")
    caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="4", AvgQueueTime="400")
    clock.set("2026-11-23T10:07:00+08:00")
    left = caller.press("1")
    assert left.all("Leave")
    booked = caller.twiml(enqueue.get("action", ""), QueueResult="leave", QueueTime="420")
    assert "尾數4 5 6 7" in booked.text
    [case] = stored_cases(hotline, "callback")
    assert case["callback_number"] == "+85291234567" and case["region"] == "hk"
    assert case["requested_at"] == "2026-11-23T02:00:00+00:00"  # when they joined the line
    assert case["created_at"] == "2026-11-23T02:07:00+00:00"


@pytest.mark.parametrize(
    ("result", "expect"),
    [
        ("bridged", "Hangup"),
        ("hangup", None),
        ("queue-full", "唔好意思，而家輪候人數已滿"),
        ("error", "暫時未能幫你接通客服同事"),
        ("leave", "暫時未能幫你接通客服同事"),
    ],
)
def test_queue_actions(phone: Phone, clock: Clock, result: str, expect: str | None) -> None:
    clock.set("2026-11-23T10:00:00+08:00")
    caller = hk(phone)
    enqueue = caller.keys("0").first("Enqueue")
    after = caller.twiml(enqueue.get("action", ""), QueueResult=result)
    if expect is None:
        assert after.raw.endswith("<Response />")
    elif expect == "Hangup":
        assert after.all("Hangup")
    else:
        assert expect in after.text and after.gather_action.startswith("/voice/menu/offer")


def test_theft_callers_are_priority_in_callbacks_and_the_queue(phone: Phone, hotline: Any) -> None:
    locked = phone.keys("3", "1")
    phone.twiml(locked.first("Dial").get("action", ""), DialCallStatus="no-answer")  # the desk did not answer
    phone.press("1")
    [callback] = stored_cases(hotline, "callback")
    assert callback["priority"] is True
    caller = hk(phone, sid="CA-HK")
    locked = caller.keys("3", "1")
    offer = caller.twiml(locked.first("Dial").get("action", ""), DialCallStatus="busy")
    assert "theft=1" in offer.gather_action
    queued = caller.twiml("/voice/step/agent?lang=zh-HK&theft=1")
    assert (queued.first("Enqueue").text or "").strip() == "hk-support-priority"
