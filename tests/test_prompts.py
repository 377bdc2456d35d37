"""The prompt catalogue: every language says everything, with the same placeholders."""

from __future__ import annotations

import string
from datetime import datetime
from pathlib import Path

import pytest

from ivr.config import load_config
from ivr.flows.prompts import spoken_when

SHIPPED = load_config(Path(__file__).resolve().parent.parent / "config")
CATALOGUE = {language: dict(catalogue.prompts) for language, catalogue in SHIPPED.prompts.items()}


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_every_key() -> None:
    keys = {key for prompts in CATALOGUE.values() for key in prompts}
    for language, prompts in CATALOGUE.items():
        assert set(prompts) == keys, f"{language} lacks {sorted(keys - set(prompts))}"


def test_placeholders_agree_across_languages() -> None:
    reference = CATALOGUE["en-US"]
    for language, prompts in CATALOGUE.items():
        for key, template in prompts.items():
            assert placeholders(template) == placeholders(reference[key]), (language, key)


def test_every_configured_language_has_a_catalogue() -> None:
    config = load_config(Path(__file__).resolve().parent.parent / "config")
    assert set(config.voices) == set(CATALOGUE)


def test_chinese_catalogues_use_their_own_script() -> None:
    # Simplified for Mandarin, Traditional for Cantonese: spot the characters that differ.
    simplified, traditional = "".join(CATALOGUE["zh-CN"].values()), "".join(CATALOGUE["zh-HK"].values())
    assert "钱包" in simplified and "錢包" not in simplified
    assert "錢包" in traditional and "钱包" not in traditional


@pytest.mark.parametrize(
    ("language", "moment", "expected"),
    [
        ("en-US", "2026-11-23T09:00+08:00", "today at 9 AM"),
        ("en-GB", "2026-11-23T08:30+00:00", "tomorrow at 8:30 am"),
        ("en-US", "2026-11-30T09:00+08:00", "on Monday, November 30 at 9 AM"),
        ("en-GB", "2026-11-30T09:00+00:00", "on Monday 30 November at 9 am"),
        ("zh-CN", "2026-11-24T21:30+08:00", "明天下午9点30分"),
        ("zh-CN", "2026-11-30T10:00+08:00", "11月30日星期一上午10点"),
        ("zh-HK", "2026-11-23T14:00+08:00", "今日下晝2點"),
        ("zh-HK", "2026-11-24T09:00+08:00", "聽日朝早9點"),
    ],
)
def test_spoken_times(language: str, moment: str, expected: str) -> None:
    now = datetime.fromisoformat("2026-11-23T07:00+08:00")
    when = datetime.fromisoformat(moment)
    assert spoken_when(SHIPPED.prompts[language], when, now.astimezone(when.tzinfo)) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en-US", "this morning at 7"), ("zh-CN", "今天早上7点"), ("zh-HK", "今朝7點")],
)
def test_before_dawn_the_reopening_is_this_morning(language: str, expected: str) -> None:
    """At 02:00, "today at 7 AM" sounds wrong: it is this morning."""
    now = datetime.fromisoformat("2026-11-23T02:00-05:00")
    when = datetime.fromisoformat("2026-11-23T07:00-05:00")
    assert spoken_when(SHIPPED.prompts[language], when, now) == expected
