"""Saying things: the prompt names the flows use outside their menus, and how numbers, dates,
amounts and e-mail addresses are read out. The words themselves are data, one catalogue per
language in `config/prompts/<language>.yaml`, loaded and checked with the rest of the config.

Written to be spoken: short sentences, the action before the key ("to lock it, press 3"),
the most urgent option first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from babel.dates import format_datetime

from ivr.config import Catalogue
from ivr.routing.regions import national_groups
from ivr.wallet import STATUSES

# Prompts the flows say by name (menu prompts and option prompts come from the menus' data).
FIXED_PROMPTS = frozenset(
    {
        # greeting and hours
        "welcome",
        "open_now",
        "closed_now",
        "closed_holiday",
        "closed_closure",
        "closed_emergency",
        "closed_emergency_until",
        "agents_closed_no_time",
        "emergency_outage",
        "emergency_weather",
        "emergency_maintenance",
        "emergency_other",
        "when_today",
        "when_this_morning",
        "when_tomorrow",
        "when_later",
        # every menu
        "menu_main",
        "menu_agent",
        "menu_repeat",
        "switch_language",
        "no_input",
        "invalid_key",
        "key_star",
        "apology",
        "goodbye",
        "anything_else",
        # identifying an account by its registered phone
        "number_hidden",
        "bad_phone",
        # lockdown
        "pin_mismatch",
        "lock_done",
        "lock_done_other",
        "lock_next_steps",
        "lock_not_verified",
        "lock_failed",
        "reference_is",
        "reference_texted",
        "lock_other_offer",
        "to_fraud_desk",
        "desk_missed",
        "desk_lock_stays",
        "sms_lockdown",
        # recovery
        "recovery_sent",
        "recovery_texted",
        "sms_username",
        "sms_reset",
        # transactions
        "code_intro",
        "code_wrong",
        "code_not_received",
        "sms_code",
        "txn_not_found",
        *(f"txn_{status}" for status in STATUSES),  # each status, said as it is
        *(f"status_{status}" for status in STATUSES),  # and in a list of the latest
        "txn_latest_intro",
        "txn_latest_item",
        "txn_latest_item_undated",
        "txn_none_recent",
        "cancel_done",
        "cancel_too_late",
        "dispute_opened",
        "sms_dispute",
        "backend_down",
        # reaching a person
        "connecting",
        "agents_busy",
        "agents_no_answer",
        "agents_failed",
        "callback_refused",
        "callback_booked",
        "callback_exists",
        "callback_priority_soon",
        "callback_priority_later",
        "voicemail_prompt",
        "voicemail_thanks",
        "voicemail_empty",
        "voicemail_no_number",
        "speech_not_understood",
        "speech_confirm",
        "roaming_hint",
        "sms_help",
        "sms_contacts",
        "sms_hotline",
        # what an agent hears before the caller (in the agents' language)
        "whisper_intro",
        "whisper_topic_lockdown",
        "whisper_topic_recovery",
        "whisper_topic_transactions",
        "whisper_topic_selfhelp",
        "whisper_topic_none",
        "whisper_reference",
        "whisper_verified",
        "whisper_unverified",
        "whisper_language",
        "whisper_caller_gone",
        "language_zh-CN",
        "language_zh-HK",
        "language_en-US",
        "language_en-GB",
        "queue_position",
        "queue_wait_short",
        "queue_wait_one",
        "queue_wait_minutes",
        "queue_leave",
        "queue_full",
    }
)

_CJK_END = re.compile(r"[\u3000-\u303f\uff00-\uffef]$")


def join(lines: Iterable[str]) -> str:
    """Sentences as one text: a space after English, none after Chinese punctuation."""
    text = ""
    for line in lines:
        if not line:
            continue
        if text and not _CJK_END.search(text):
            text += " "
        text += line
    return text


def spoken_key(catalogue: Catalogue, key: str) -> str:
    """How a key is named in a prompt: digits as themselves, `*` by its word."""
    return catalogue.text("key_star") if key == "*" else key


def digits(language: str, number: str) -> str:
    """A reference read back digit by digit, in groups of four: '7 0 0 1, 0 0 0 2'."""
    separator = ", " if language.startswith("en") else "，"
    groups = [" ".join(number[i : i + 4]) for i in range(0, len(number), 4)]
    return separator.join(groups)


def phone_number(language: str, number: str) -> str:
    """A number to dial, read in the groups it is written in at home: '4 0 0, 1 2 3, 4 5 6 7'."""
    separator = ", " if language.startswith("en") else "，"
    return separator.join(" ".join(group) for group in national_groups(number))


def amount(language: str, value: str, currency: str) -> str:
    """'120.00' USDT -> '120 U S D T': trailing zeros dropped, the ticker spelled out."""
    shown = value.rstrip("0").rstrip(".") if "." in value else value
    return f"{shown} {' '.join(currency)}"


def wait_time(catalogue: Catalogue, seconds: int) -> str:
    """The average wait, rounded up so it is never promised shorter than it is."""
    if seconds < 60:
        return catalogue.text("queue_wait_short")
    minutes = -(-seconds // 60)
    if minutes == 1:
        return catalogue.text("queue_wait_one")
    if minutes > 10:
        minutes = -(-minutes // 5) * 5
    return catalogue.text("queue_wait_minutes", minutes=str(minutes))


def spoken_when(catalogue: Catalogue, moment: datetime, now: datetime) -> str:
    """'tomorrow at 9 AM' / '明天上午9点': `moment` in its own zone, relative to `now` there."""
    speaking = catalogue.speaking
    pattern = speaking.hour if moment.minute == 0 else speaking.minute
    local_now = now.astimezone(moment.tzinfo)
    today = local_now.date()
    before_dawn = moment.date() == today and local_now.hour < 6 and moment.hour < 12
    if before_dawn and speaking.morning_hour and moment.minute == 0:
        pattern = speaking.morning_hour
    time_text = format_datetime(moment, pattern, locale=speaking.locale)
    for written, said in speaking.say_instead.items():
        time_text = time_text.replace(written, said)
    if before_dawn:  # "back today at 7 AM" at 02:00 sounds wrong: it is this morning
        return catalogue.text("when_this_morning", time=time_text)
    if moment.date() == today:
        return catalogue.text("when_today", time=time_text)
    if moment.date() == today + timedelta(days=1):
        return catalogue.text("when_tomorrow", time=time_text)
    date_text = format_datetime(moment, speaking.date, locale=speaking.locale)
    for written, said in speaking.say_instead.items():
        date_text = date_text.replace(written, said)
    return catalogue.text("when_later", date=date_text, time=time_text)
