"""Account recovery: the same words for everyone, texts only to registered phones, a cap."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.conftest import Clock, Phone

AMELIA = "+447400123456"


def uk(phone: Phone, caller: str = AMELIA, sid: str = "CA00000000000000000000000000000001") -> Phone:
    return Phone(phone.client, caller=caller, dialed="+442038089999", sid=sid)


def test_reset_link_goes_to_the_registered_phone_and_works_once(phone: Phone, hotline: Any) -> None:
    answer = uk(phone).keys("1", "2")
    assert (
        "If that number is registered with us and its wallet isn't locked, we've just sent it a text."
        in answer.text
    )
    assert answer.gather_action.startswith("/voice/menu/main")  # back to the main menu
    [sms] = hotline.sms.outbox()
    assert sms["to"] == AMELIA and sms["status"] == "outbox"
    link = sms["body"].split("link: ")[1].split(" ")[0]
    assert link.startswith("https://wallet.okwallet.example/reset?token=")
    token = parse_qs(urlparse(link).query)["token"][0]
    redeem = hotline.services.codes.redeem_reset_token
    assert redeem(token, hotline.now()) == "A-1002"
    assert redeem(token, hotline.now()) is None  # single use


def test_username_reminder(phone: Phone, hotline: Any) -> None:
    uk(phone).keys("1", "1")
    [sms] = hotline.sms.outbox()
    assert sms["to"] == AMELIA and "amelia.watson" in sms["body"]


def test_unregistered_caller_hears_identical_words_and_nothing_is_sent(phone: Phone, hotline: Any) -> None:
    registered = uk(phone).keys("1", "2")
    stranger = uk(phone, caller="+447911123456", sid="CA2").keys("1", "2")
    assert stranger.raw == registered.raw
    assert len(hotline.sms.outbox()) == 1


def test_a_typed_number_only_identifies_the_account(phone: Phone, hotline: Any) -> None:
    friend = uk(phone, caller="+447911123456")
    friend.keys("1", "3")
    back = friend.press("447400123456")
    assert back.text.startswith("For a text with your username, press 1.")
    friend.press("1")
    [sms] = hotline.sms.outbox()
    assert sms["to"] == AMELIA  # not the friend's phone


def test_withheld_caller_types_the_number_first(phone: Phone, hotline: Any) -> None:
    hidden = uk(phone, caller="anonymous")
    asked = hidden.keys("1")
    assert asked.text.startswith("I can't use the number you're calling from")
    hidden.press("07400123456")  # national format, read as a UK number
    hidden.press("2")
    assert [s["to"] for s in hotline.sms.outbox()] == [AMELIA]


def test_at_most_three_texts_an_hour_with_the_same_words(phone: Phone, hotline: Any, clock: Clock) -> None:
    answers = [uk(phone, sid=f"CA{n}").keys("1", "1").raw for n in range(4)]
    assert len(set(answers)) == 1
    assert len(hotline.sms.outbox()) == 3
    clock.set("2026-11-23T05:01:00+00:00")  # an hour later
    uk(phone, sid="CA9").keys("1", "1")
    assert len(hotline.sms.outbox()) == 4


def test_replayed_recovery_webhook_sends_once(phone: Phone, hotline: Any) -> None:
    caller = uk(phone)
    caller.keys("1")
    first = caller.press("2")
    again = caller.retry()
    assert again.raw == first.raw
    assert len(hotline.sms.outbox()) == 1


def test_recovery_in_cantonese(phone: Phone, hotline: Any) -> None:
    caller = Phone(phone.client, caller="+85291234567", dialed="+85230011234")
    answer = caller.keys("1")
    assert answer.languages[0] == "yue-CN" and "用短訊收用戶名稱，請按1" in answer.text
