"""Say what you need: speech in Mandarin, Cantonese and English on every menu (issue 15)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from ivr.config import load_config
from ivr.flows import GRAPH, PHRASE_KEYS, PROMPT_KEYS
from ivr.flows.speech import match, normalise, spoken_number, yes_or_no
from tests.conftest import Phone, stored_cases

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = load_config(ROOT / "config", PROMPT_KEYS, PHRASE_KEYS)
MAIN = {"3": "lockdown", "1": "recovery", "2": "transactions", "4": "selfhelp", "0": "agent", "*": "repeat"}
LI_HUA, AMELIA, GB_LINE, HK_LINE = "+8613800138000", "+447400123456", "+442038089999", "+85230011234"


# 1. Every single-key menu listens; PINs and codes stay on the keypad.


@pytest.mark.parametrize(
    ("caller", "dialed", "recognised"),
    [
        (LI_HUA, "+864001234567", "cmn-Hans-CN"),
        ("+85291234567", HK_LINE, "yue-Hant-HK"),
        (AMELIA, GB_LINE, "en-GB"),
    ],
)
def test_the_main_menu_listens_in_the_calls_language(
    phone: Phone, caller: str, dialed: str, recognised: str
) -> None:
    greeting = Phone(phone.client, caller=caller, dialed=dialed).call()
    gather = greeting.first("Gather")
    assert gather.get("input") == "dtmf speech" and gather.get("language") == recognised
    assert gather.get("speechTimeout") == "auto" and gather.get("speechModel") is None  # 13335
    assert gather.get("numDigits") == "1"  # keys work exactly as before, during the prompt too


def test_hints_come_from_the_menus_option_phrases(phone: Phone) -> None:
    hints = phone.call().first("Gather").get("hints", "")
    assert "被盗" in hints and "忘记" in hints and "人工" in hints


def test_pin_and_code_entry_are_keypad_only(phone: Phone, hotline: Any) -> None:
    friend = Phone(phone.client, caller="+8613900139000")
    pin = friend.keys("3", "2", "447400123456")
    assert pin.first("Gather").get("input") == "dtmf"
    ignored = friend.press("", SpeechResult="one three five seven", Confidence="0.99")
    assert "没有收到您输入的PIN码" in ignored.text  # said, not heard: silence, nothing checked
    from ivr.store import limits

    with hotline.store.begin() as connection:
        assert limits.used(connection, "wrong_pin", "A-1002", hotline.now()) == 0
    code = phone.keys("2")
    assert code.first("Gather").get("input") == "dtmf"


# 2. Matching: simple and explainable.


@pytest.mark.parametrize(
    ("language", "said", "expected"),
    [
        ("en-US", "my wallet was stolen", "3"),
        ("en-US", "I lost my phone", "3"),
        ("en-US", "I forgot my password", "1"),
        ("en-US", "there's a problem with a transfer", "2"),
        ("en-US", "the app won't open", "4"),
        ("en-US", "press three", "3"),
        ("en-US", "three", "3"),
        ("en-US", "can I talk to an agent", "0"),
        ("en-US", "repeat that", "*"),
        ("zh-CN", "我的钱包被偷了", "3"),
        ("zh-CN", "手机丢了", "3"),
        ("zh-CN", "我忘记密码了", "1"),
        ("zh-CN", "按3", "3"),
        ("zh-CN", "三", "3"),
        ("zh-CN", "转人工", "0"),
        ("zh-HK", "我個錢包俾人偷咗", "3"),
        ("zh-HK", "唔見咗部手機", "3"),
        ("zh-HK", "App開唔到", "4"),
        ("zh-HK", "我想搵真人", "0"),
        ("zh-HK", "我的钱包被偷了", "3"),  # Simplified said to a Cantonese menu still matches
    ],
)
def test_what_callers_say_in_the_main_menu(language: str, said: str, expected: str) -> None:
    assert match(said, SHIPPED.prompts[language], MAIN).key == expected


def test_nothing_unrelated_reaches_the_lockdown() -> None:
    for said in ("hello", "what are your opening hours", "thank you", "你好", "营业时间", "多謝"):
        assert match(said, SHIPPED.prompts["en-US" if said.isascii() else "zh-CN"], MAIN).key != "3"


def test_the_longest_phrase_wins_and_equal_ones_tie() -> None:
    catalogue = SHIPPED.prompts["en-US"]
    heard = match("password stolen", catalogue, MAIN)  # "password" (8) beats "stolen" (6)
    assert heard.key == "1" and heard.score == len("password") and not heard.tie
    tied = match("forgot stolen", catalogue, MAIN)  # "forgot" and "stolen": 6 each
    assert tied.tie and tied.key is None and tied.tied == ("1", "3") and tied.rule == "tie"


def test_a_tie_asks_which_and_never_falls_to_the_first_option(phone: Phone, hotline: Any) -> None:
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    uk.call()
    asked = uk.press("", SpeechResult="forgot stolen", Confidence="0.95")
    assert asked.text == (
        "Which did you mean, recover your account or lock a stolen wallet? Say it again, or press 1 or 3."
    )
    assert "confirm" not in asked.gather_action and stored_cases(hotline) == []
    settled = uk.press("", SpeechResult="my phone was stolen", Confidence="0.95")
    assert "Lock this number's wallet: press 1." in settled.text


def test_normalising_width_case_script_and_punctuation() -> None:
    assert normalise("ＬＯＣＫ  My Wallet!") == "lock my wallet"
    assert normalise("錢包，被盜。") == "钱包被盗"


@pytest.mark.parametrize(
    ("language", "said", "digits"),
    [
        ("en-US", "four four seven four zero zero one two three four five six", "447400123456"),
        ("zh-CN", "幺三八零零幺三八零零零", "13800138000"),
        ("zh-CN", "一三八 零零一三八 零零零", "13800138000"),
        ("zh-HK", "九一二三四五六七", "91234567"),
        ("en-US", "7 0 0 1 0 0 0 2", "70010002"),
        ("en-US", "my number is four", None),
    ],
)
def test_spoken_numbers_become_digits(language: str, said: str, digits: str | None) -> None:
    assert spoken_number(said, SHIPPED.prompts[language]) == digits


@pytest.mark.parametrize(
    ("language", "said", "answer"),
    [
        ("en-US", "yes please", "yes"),
        ("en-US", "no", "no"),
        ("zh-CN", "是的", "yes"),
        ("zh-CN", "不是", "no"),
        ("zh-HK", "係呀", "yes"),
        ("zh-HK", "唔係", "no"),
        ("en-US", "banana", None),
    ],
)
def test_yes_and_no(language: str, said: str, answer: str | None) -> None:
    assert yes_or_no(said, SHIPPED.prompts[language]) == answer


# 3. Confidence and confirmation; nothing irreversible on speech alone.


def test_a_theft_victim_says_it_during_the_greeting_and_still_confirms_the_lock(
    phone: Phone, hotline: Any
) -> None:
    phone.call()
    menu = phone.press("", SpeechResult="我的钱包被偷了", Confidence="0.91")
    assert "冻结本机钱包，请按1" in menu.text  # speech reaches the lockdown menu
    asked = phone.press("", SpeechResult="冻结我的钱包", Confidence="0.95")
    assert "您是要冻结本机绑定的钱包吗" in asked.text  # irreversible: asked first
    assert stored_cases(hotline) == []
    locked = phone.press("", SpeechResult="是的", Confidence="0.9")
    assert "这个号码名下的钱包都已冻结" in locked.text and locked.dialed == ["+442079460001"]
    assert [case["outcome"] for case in stored_cases(hotline)] == ["locked"]


def test_a_no_returns_to_the_menu_and_nothing_happens(phone: Phone, hotline: Any) -> None:
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    uk.keys("3")
    uk.press("", SpeechResult="lock my wallet", Confidence="0.95")
    again = uk.press("", SpeechResult="no", Confidence="0.95")
    assert "Lock this number's wallet: press 1." in again.text
    assert stored_cases(hotline) == []


def test_low_confidence_asks_before_acting(phone: Phone) -> None:
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    uk.call()
    asked = uk.press("", SpeechResult="forgot my password", Confidence="0.31")
    assert asked.text.startswith("Did you want to recover your account?")
    menu = uk.press("1")  # or the key
    assert "For a text with your username, press 1." in menu.text


def test_words_that_match_nothing_count_as_a_miss_with_their_own_prompt(phone: Phone) -> None:
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    uk.call()
    missed = uk.press("", SpeechResult="what's the weather like", Confidence="0.9")
    assert missed.text.startswith(
        "Sorry, I didn't understand. You can say, for example, 'lock a stolen wallet'"
    )
    assert "miss=1" in missed.gather_action


def test_the_language_can_be_chosen_by_name(phone: Phone) -> None:
    phone.call()
    english = phone.press("", SpeechResult="English", Confidence="0.9")
    assert english.languages[0] == "en-US" and "lang=en-US" in english.gather_action


def test_a_spoken_phone_number_follows_the_typed_numbers_checks(phone: Phone, hotline: Any) -> None:
    friend = Phone(phone.client, caller="+8613900139000")
    friend.keys("3", "2")
    pin = friend.press("", SpeechResult="四四七四零零一二三四五六", Confidence="0.8")
    assert "4位PIN码" in pin.text
    assert hotline.load_state(friend.sid)["lock_phone"] == AMELIA


def test_a_cancel_said_aloud_is_confirmed_first(phone: Phone, hotline: Any) -> None:
    from tests.test_transactions import texted_code

    phone.keys("2")
    phone.press(texted_code(hotline))
    phone.press("", SpeechResult="七零零一零零零二", Confidence="0.9")
    asked = phone.press("", SpeechResult="取消", Confidence="0.95")
    assert "您是要取消这笔交易吗" in asked.text
    assert hotline.wallet.get_transaction("70010002").status == "pending"
    phone.press("1")
    assert hotline.wallet.get_transaction("70010002").status == "cancelled"


# 5. Privacy and metrics.


def test_what_was_said_is_never_logged_or_stored(
    app: Flask, phone: Phone, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "my wallet was stolen by Bartholomew"
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    uk.call()
    uk.press("", SpeechResult=secret, Confidence="0.9")
    uk.post("/voice/status", CallStatus="completed", CallDuration="20")
    assert "Bartholomew" not in caplog.text
    runtime = app.extensions["ivr"]
    runtime.journal.flush()
    from ivr.store.tables import metadata

    with runtime.store.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(table.select()):
                assert "Bartholomew" not in json.dumps([str(v) for v in row])
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'ivr_speech_total{language="en-GB",menu="main",result="matched"} 1.0' in text
    assert "Bartholomew" not in text


# 2. (check) A phrase two options of one menu share is reported.


def test_ivr_check_reports_a_phrase_two_options_share(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivr.tools.cli import main as cli

    path = config_dir / "prompts" / "en-GB.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("  recovery: [recover your account,", "  recovery: [recover your account, stolen,")
    )
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert (
        "en-GB.yaml: phrases: 'stolen' is said for both lockdown and recovery in menu 'main'" in result.output
    )


def test_every_option_a_caller_may_say_has_phrases_in_every_language() -> None:
    for language, catalogue in SHIPPED.prompts.items():
        missing = PHRASE_KEYS - set(catalogue.phrases)
        assert not missing, (language, missing)
    assert "lockdown.self" in PHRASE_KEYS and "txn.cancel" in PHRASE_KEYS
    assert all(menu.speech in ("options", "digits", None) for menu in GRAPH.menus.values())


# 6. The simulator.


def test_the_simulator_takes_speech_and_the_texted_code(monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.tools.cli import main as cli

    monkeypatch.setenv("IVR_CONFIG_DIR", str(ROOT / "config"))
    result = CliRunner().invoke(
        cli,
        [
            "call",
            "--from",
            LI_HUA,
            "--at",
            "2026-11-23T12:00:00+08:00",
            "--json",
            "--keys",
            "say:查询交易,@code,70010002,say@0.95:取消,1",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    said = [step for step in data["steps"] if step["verb"] == "Gather" and "said" in step]
    assert said[0]["said"] == "查询交易" and said[0]["matched"] == "main:transactions"
    assert any(step["verb"] == "Text" and "验证码" in step["body"] for step in data["steps"])
    assert any("已取消" in step["text"] for step in data["steps"] if step["verb"] == "Say")


def test_a_confirmation_of_star_is_signed_as_sent(phone: Phone) -> None:
    """`confirm=*` goes out as `%2A`: the signature is checked on the query as sent."""
    uk = Phone(phone.client, caller=AMELIA, dialed=GB_LINE)
    uk.call()
    asked = uk.press("", SpeechResult="repeat that", Confidence="0.2")
    assert "confirm=%2A" in asked.gather_action
    again = uk.press("1")  # yes: the menu again
    assert "For a forgotten username or password, press 1." in again.text
