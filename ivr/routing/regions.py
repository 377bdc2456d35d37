"""Which region answers a call: by the caller's country, then the number dialed, then default."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from ivr.config import Config, Region
from ivr.keypad import digits_only

# phonenumbers compiles its patterns through Python's regex cache (512 entries): callers from
# hundreds of countries evict each other's patterns. Keep them compiled.
phonenumbers.enable_pattern_cache()

# Caller IDs that carriers send instead of a number: withheld, or the old spelled-out digits
# ("ANONYMOUS", "RESTRICTED", "UNKNOWN", "BLOCKED" on a keypad), which Twilio passes through.
WITHHELD_CALLER_IDS = frozenset(
    {
        "",
        "anonymous",
        "restricted",
        "unknown",
        "private",
        "blocked",
        "unavailable",
        "+266696687",
        "266696687",
        "+7378742833",
        "7378742833",
        "+2562533",
        "2562533",
        "+8656696",
        "8656696",
        "+86282452253",
        "86282452253",
    }
)


@dataclass(frozen=True)
class Route:
    """Where a call goes, and what decided it."""

    region: Region
    matched_by: str  # caller | dialed | default
    caller: str | None  # the caller's E.164 number, when it is a real one


def own_number(config: Config, region: Region, dialed: str | None) -> str:
    """A Twilio number of ours for `region`, to show as the caller ID of a leg whose caller
    sent none valid (error 13214): its configured `caller_id`, else the number dialed when it
    is one of ours, else its first number, else the default region's."""
    if region.caller_id:
        return region.caller_id
    if dialed and dialed in config.region_by_number:
        return dialed
    for candidate in (region, config.default, *config.regions.values()):
        if candidate.caller_id or candidate.numbers:
            return candidate.caller_id or candidate.numbers[0]
    return config.fraud_desk  # a config with no number of ours at all: at least a valid E.164


@dataclass(frozen=True)
class CallerId:
    """A real caller number, parsed once: its country, E.164 form and the form logs may show."""

    number: phonenumbers.PhoneNumber
    country: str
    e164: str
    masked: str  # country code and last four digits only (+86*******8000)


@lru_cache(maxsize=8192)  # every webhook of a call carries the same From: parse it once
def caller_id(raw: str | None) -> CallerId | None:
    """The caller's number when it is a real, valid number; None for withheld and SIP/client
    IDs. (`is_valid_number` is validity for the number's own region: looking the region up
    once serves both questions.)"""
    text = (raw or "").strip()
    if text.lower() in WITHHELD_CALLER_IDS or text.lower().startswith(("sip:", "client:")):
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    country = phonenumbers.region_code_for_number(number)
    if not country or not phonenumbers.is_valid_number_for_region(number, country):
        return None
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    prefix = f"+{number.country_code}"
    masked = prefix + "*" * (len(formatted) - len(prefix) - 4) + formatted[-4:]
    return CallerId(number, country, formatted, masked)


def e164(raw: str | None) -> str | None:
    """`raw` as E.164 when it is a real caller number, else None."""
    found = caller_id(raw)
    return found.e164 if found else None


def route_call(config: Config, caller: str | None, dialed: str | None) -> Route:
    """Pick the region for a call by the contract's order: caller, dialed number, default."""
    found = caller_id(caller)
    formatted = found.e164 if found else None
    if found is not None and found.country in config.region_by_country:
        return Route(config.region_by_country[found.country], "caller", formatted)
    to = e164(dialed) or (dialed or "").strip()
    if to in config.region_by_number:
        return Route(config.region_by_number[to], "dialed", formatted)
    return Route(config.default, "default", formatted)


def mask(number: str | None) -> str:
    """A phone number safe for logs: country code and last four digits only (+86*******8000)."""
    if not number:
        return "-"
    found = caller_id(number)
    if found is None:
        return "withheld" if number.strip().lower() in WITHHELD_CALLER_IDS else "invalid"
    return found.masked


def typed_number(
    digits: str, countries: tuple[str, ...], national_mobiles: tuple[str, ...] = ()
) -> str | None:
    """A registered number typed on a keypad: with its country code, or national in `countries`.
    A mobile of `national_mobiles` (the countries the caller's prompt says need no country code,
    zh-CN: 中国大陆手机号可直接输入11位) is read that way first, wherever the call is routed."""
    digits = digits_only(digits)
    if not 6 <= len(digits) <= 15:
        return None
    candidates = (
        [(digits, country, True) for country in national_mobiles]
        + [("+" + digits, None, False)]
        + [(digits, country, False) for country in countries]
    )
    for text, country, mobile_only in candidates:
        try:
            number = phonenumbers.parse(text, country)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        if mobile_only and phonenumbers.number_type(number) not in MOBILE_TYPES:
            continue
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return None


MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


# What a callback may dial: a real line in a country we serve, never premium-rate, shared-cost,
# satellite or other numbers that cost us money to call (toll fraud).
CALLBACK_NUMBER_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


def national_groups(number: str) -> list[str]:
    """A number as a caller at home dials it, in the groups it is written in: "400 123 4567"."""
    found = caller_id(number)
    if found is None:
        return [digits_only(number)]
    return phonenumbers.format_number(found.number, phonenumbers.PhoneNumberFormat.NATIONAL).split()


def callback_allowed(config: Config, number: str | None) -> bool:
    """True when `number` (E.164) is a fixed-line or mobile number in a country a region lists."""
    found = caller_id(number)
    if found is None or found.country not in config.region_by_country:
        return False
    return phonenumbers.number_type(found.number) in CALLBACK_NUMBER_TYPES
