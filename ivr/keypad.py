"""What Twilio posts as numbers: keys pressed, counts and durations, call SIDs, read strictly.

`str.isdigit()` is true for '²' and '٣', which `int()` then refuses or reads as another
number: every count and every typed digit in the IVR goes through these two helpers.
"""

from __future__ import annotations

import re

_COUNT = re.compile(r"[0-9]{1,9}")
_NOT_ASCII_DIGIT = re.compile(r"[^0-9]")
# Twilio's call SIDs: "CA" and 32 hex digits. Anything else never reaches a flow or the store.
CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")


def count(text: str | None, *, default: int | None = None) -> int | None:
    """A non-negative whole number written in ASCII digits (at most nine), else `default`."""
    if text is None or not _COUNT.fullmatch(text):
        return default
    return int(text)


def digits_only(text: str | None) -> str:
    """The ASCII digits of `text`, in order: what a keypad could have sent."""
    return _NOT_ASCII_DIGIT.sub("", text or "")
