"""Theft lockdown journeys, asserting what is stored, texted, said and dialed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Clock, Phone, stored_cases

FRAUD_DESK = "+442079460001"


def spoken_reference(text: str) -> str:
    match = re.search(r"(?:reference number is|受理编号是|參考編號係) ([\d ,，]+)", text)
    assert match, text
    return re.sub(r"\D", "", match.group(1))


def test_3_1_locks_the_callers_wallet_stores_texts_and_dials_the_fraud_desk(
    phone: Phone, hotline: Any
) -> None:
    answer = phone.keys("3", "1")
    assert answer.dialed == [FRAUD_DESK]
    assert "theft=1" in answer.first("Dial").get("action", "")
    assert hotline.wallet.get_account("A-1001").locked is True
    [case] = stored_cases(hotline)
    assert (case["kind"], case["account"], case["region"], case["outcome"]) == (
        "lockdown",
        "A-1001",
        "cn",
        "locked",
    )
    assert case["priority"] is True and case["status"] == "open"  # until the fraud desk closes it
    assert spoken_reference(answer.text) == case["reference"]
    assert answer.text.startswith("好的，这个号码名下的钱包都已冻结，资金无法转出，处理中的转账也已暂停。")
    assert "重新登录后请尽快修改密码；如果损失较大，请向警方报案。" in answer.text
    assert "如果您的钱包绑定的是其他号码，请现在按2冻结。" in answer.text
    [sms] = hotline.sms.outbox()
    assert sms["to"] == "+8613800138000" and case["reference"] in sms["body"]
    assert "修改密码" in sms["body"] and "报案" in sms["body"]


def test_the_lockdown_is_stored_before_the_caller_hears_of_it(
    phone: Phone, hotline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivr.flows import lockdown

    seen: list[tuple[bool, str, int]] = []
    original = lockdown.fraud_desk

    def spy(call: Any, *lines: str, **options: Any) -> Any:
        held = hotline.wallet.get_transaction("70010002").status
        seen.append((hotline.wallet.get_account("A-1001").locked, held, len(stored_cases(hotline))))
        return original(call, *lines, **options)

    monkeypatch.setattr(lockdown, "fraud_desk", spy)
    phone.keys("3", "1")
    assert seen == [(True, "held", 1)]


def test_3_1_holds_the_pending_transfer_so_it_cannot_go_through(phone: Phone, hotline: Any) -> None:
    """A-1002's 0.05 BTC was pending when the victim called: after 3,1 it is held, and the
    back end's settlement no longer completes it."""
    phone.caller, phone.dialed = "+447400123456", "+442038089999"
    phone.keys("3", "1")
    assert hotline.wallet.get_account("A-1002").locked is True
    assert hotline.wallet.get_transaction("70020001").status == "held"
    assert hotline.wallet.wallet.complete("70020001") is False
    assert hotline.wallet.get_transaction("70020001").status == "held"


def test_replayed_lockdown_webhook_has_one_effect(phone: Phone, hotline: Any) -> None:
    phone.keys("3")
    first = phone.press("1")
    again = phone.retry()
    assert again.raw == first.raw
    assert len(stored_cases(hotline)) == 1
    assert len(hotline.sms.outbox()) == 1


def test_unknown_caller_hears_the_same_words_and_gets_a_reference(phone: Phone, hotline: Any) -> None:
    registered = phone.keys("3", "1")
    other = Phone(phone.client, caller="+8613900139000", sid="CA2")
    unknown = other.keys("3", "1")
    mask = re.compile(r"\d")
    assert mask.sub("#", unknown.text) == mask.sub("#", registered.text)
    assert unknown.dialed == [FRAUD_DESK]
    cases = stored_cases(hotline)
    assert [(c["account"], c["outcome"]) for c in cases] == [("A-1001", "locked"), (None, "no_wallet")]
    assert spoken_reference(unknown.text) == cases[1]["reference"]
    assert len(hotline.sms.outbox()) == 1  # nothing sent for the unknown number


def test_another_wallet_by_number_and_right_pin(phone: Phone, hotline: Any) -> None:
    phone.caller = "+8613900139000"  # a friend's phone
    phone.keys("3", "2")
    assert "请输入钱包绑定的手机号" in phone.last.text  # type: ignore[union-attr]
    asked_pin = phone.press("447400123456")
    assert "4位PIN码" in asked_pin.text
    locked = phone.press("1357")
    assert locked.dialed == [FRAUD_DESK]
    assert hotline.wallet.get_account("A-1002").locked is True
    [case] = stored_cases(hotline)
    assert (case["account"], case["outcome"]) == ("A-1002", "locked")
    [sms] = hotline.sms.outbox()
    assert sms["to"] == "+447400123456"  # the registered phone, never the caller's


def test_national_number_is_read_in_the_regions_country(phone: Phone, hotline: Any) -> None:
    phone.caller = "+8613900139000"
    phone.keys("3", "2", "13800138000")
    phone.press("2468")
    assert hotline.wallet.get_account("A-1001").locked is True


def test_wrong_pin_and_unknown_number_sound_the_same(phone: Phone, hotline: Any) -> None:
    phone.caller = "+8613900139000"
    phone.keys("3", "2", "447400123456")
    wrong = phone.press("0000")
    other = Phone(phone.client, caller="+8613900139000", sid="CA3")
    other.keys("3", "2", "447911123456")
    unknown = other.press("1357")
    assert wrong.text == unknown.text and "手机号和PIN码不匹配" in wrong.text
    assert wrong.gather_action.replace("CA", "") == unknown.gather_action.replace("CA", "")
    assert hotline.wallet.get_account("A-1002").locked is False


def test_three_wrong_pins_give_an_unverified_case_and_the_fraud_desk(phone: Phone, hotline: Any) -> None:
    phone.caller = "+8613900139000"
    phone.keys("3", "2", "447400123456")
    phone.press("0000")
    phone.press("1111")
    final = phone.press("2222")
    assert final.dialed == [FRAUD_DESK]
    [case] = stored_cases(hotline)
    assert (case["account"], case["outcome"]) == ("A-1002", "not_verified")
    assert hotline.wallet.get_account("A-1002").locked is False
    assert hotline.sms.outbox() == []  # nothing was locked, so no "locked" text
    assert "短信发送" not in final.text


def test_sixth_wrong_pin_in_a_day_is_refused_even_when_right(
    phone: Phone, hotline: Any, clock: Clock
) -> None:
    for n in range(2):  # two calls of three wrong PINs: six wrong, five counted
        caller = Phone(phone.client, caller="+8613900139000", sid=f"CAW{n}")
        caller.keys("3", "2", "447400123456")
        for pin in ("0000", "1111", "2222"):
            caller.press(pin)
    last = Phone(phone.client, caller="+8613900139000", sid="CALAST")
    last.keys("3", "2", "447400123456")
    refused = last.press("1357")
    # Never "they don't match" (the PIN is right): only the fraud desk can help now.
    assert "手机号和PIN码不匹配" not in refused.text and "我们无法核实这个钱包" in refused.text
    assert refused.dialed == [FRAUD_DESK]
    assert hotline.wallet.get_account("A-1002").locked is False
    assert stored_cases(hotline, "lockdown")[-1]["outcome"] == "not_verified"
    clock.set("2026-11-24T12:01:00+08:00")  # a day later the right PIN works again
    later = Phone(phone.client, caller="+8613900139000", sid="CALATER")
    later.keys("3", "2", "447400123456")
    assert later.press("1357").dialed == [FRAUD_DESK]
    assert hotline.wallet.get_account("A-1002").locked is True


def test_only_wrong_pins_count_against_the_limit(phone: Phone, hotline: Any) -> None:
    from ivr.store import limits

    caller = Phone(phone.client, caller="+8613900139000", sid="CAPIN")
    caller.keys("3", "2", "447400123456")
    caller.press("0000")
    assert caller.press("1357").dialed == [FRAUD_DESK]  # a wrong PIN, then the right one
    with hotline.store.begin() as connection:
        assert limits.used(connection, "wrong_pin", "A-1002", hotline.now()) == 1


def test_withheld_caller_goes_straight_to_the_number(phone: Phone, hotline: Any) -> None:
    phone.caller = "anonymous"
    answer = phone.keys("3")
    assert "来电号码无法使用" in answer.text
    phone.press("8613800138000")
    assert phone.press("2468").dialed == [FRAUD_DESK]
    assert hotline.wallet.get_account("A-1001").locked is True


def test_a_bad_number_is_asked_again(phone: Phone) -> None:
    phone.caller = "anonymous"
    phone.keys("3")
    again = phone.press("12")
    assert again.text.startswith("抱歉，这个号码好像不完整") and "miss=1" in again.gather_action


def test_lockdown_works_at_night_on_a_holiday(phone: Phone, hotline: Any, clock: Clock) -> None:
    clock.set("2026-02-17T03:00:00+08:00")
    assert phone.keys("3", "1").dialed == [FRAUD_DESK]
    assert hotline.wallet.get_account("A-1001").locked is True


def test_wallet_down_still_gives_a_case_and_the_fraud_desk(app_factory: Any) -> None:
    from tests.test_wallet_contract import BrokenWallet

    app = app_factory(WALLET=BrokenWallet())
    phone = Phone(app.test_client())
    answer = phone.keys("3", "1")
    assert answer.dialed == [FRAUD_DESK]
    assert "系统暂时无法自动冻结" in answer.text
    [case] = stored_cases(app.extensions["ivr"])
    assert case["outcome"] == "lock_failed"


def test_a_pin_the_wallet_could_not_check_does_not_count(app_factory: Any) -> None:
    from ivr.store import limits
    from ivr.wallet import WalletError
    from ivr.wallet.demo import DemoWallet

    class PinCheckDown(DemoWallet):
        def check_pin(self, account: str, pin: str) -> bool:
            raise WalletError("timeout")

    app = app_factory()
    hotline = app.extensions["ivr"]
    hotline.wallet.wallet = PinCheckDown(hotline.store)
    phone = Phone(app.test_client(), caller="+8613900139000")
    phone.keys("3", "2", "447400123456")
    answer = phone.press("1357")
    assert answer.dialed == [FRAUD_DESK] and "系统暂时无法自动冻结" in answer.text
    assert [c["outcome"] for c in stored_cases(hotline)] == ["lock_failed"]
    with hotline.store.begin() as connection:
        assert limits.used(connection, "wrong_pin", "A-1002", hotline.now()) == 0


def test_0_in_the_lockdown_menus_reaches_the_fraud_desk_even_at_night(phone: Phone, clock: Clock) -> None:
    clock.set("2026-11-23T03:00:00+08:00")
    menu = phone.keys("3")
    assert "人工服务，请按0" in menu.text
    assert phone.press("0").dialed == [FRAUD_DESK]
