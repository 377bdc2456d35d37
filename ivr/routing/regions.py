"""Which region answers a call: by the caller's country, then the number dialed, then default."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from ivr.config import Config, Region

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


@lru_cache(maxsize=8192)  # every webhook of a call carries the same From: parse it once
def caller_country(raw: str | None) -> tuple[phonenumbers.PhoneNumber, str] | None:
    """The caller's number and its country when it is a real, valid number; None for withheld
    and SIP/client IDs. (`is_valid_number` is validity for the number's own region: looking
    the region up once serves both questions.)"""
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
    return number, country


def caller_number(raw: str | None) -> phonenumbers.PhoneNumber | None:
    """The caller's number when it is a real, valid one; None for withheld and SIP/client IDs."""
    found = caller_country(raw)
    return found[0] if found else None


def e164(raw: str | None) -> str | None:
    """`raw` as E.164 when it is a real caller number, else None."""
    number = caller_number(raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if number else None


def route_call(config: Config, caller: str | None, dialed: str | None) -> Route:
    """Pick the region for a call by the contract's order: caller, dialed number, default."""
    found, formatted = caller_country(caller), e164(caller)
    if found is not None and found[1] in config.region_by_country:
        return Route(config.region_by_country[found[1]], "caller", formatted)
    to = e164(dialed) or (dialed or "").strip()
    if to in config.region_by_number:
        return Route(config.region_by_number[to], "dialed", formatted)
    return Route(config.default, "default", formatted)


def mask(number: str | None) -> str:
    """A phone number safe for logs: country code and last four digits only (+86*******8000)."""
    if not number:
        return "-"
    parsed = caller_number(number)
    if parsed is None:
        return "withheld" if (number or "").strip().lower() in WITHHELD_CALLER_IDS else "invalid"
    digits = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    prefix = f"+{parsed.country_code}"
    return prefix + "*" * (len(digits) - len(prefix) - 4) + digits[-4:]


def typed_number(digits: str, countries: tuple[str, ...]) -> str | None:
    """A registered number typed on a keypad: with its country code, or national in `countries`."""
    digits = "".join(ch for ch in digits if ch.isdigit())
    if not 6 <= len(digits) <= 15:
        return None
    candidates = [("+" + digits, None)] + [(digits, country) for country in countries]
    for text, country in candidates:
        try:
            number = phonenumbers.parse(text, country)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return None
