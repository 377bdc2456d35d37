"""The callback promise, as a table: the region's status, the instant and the callbacks waiting
ahead decide what the caller is told (`ivr.routing.promises.callback_promise`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ivr.routing.hours import Status
from ivr.routing.promises import CallbackPromise, callback_promise

NOW = datetime.fromisoformat("2026-11-23T10:00:00+00:00")
TOMORROW_8 = datetime.fromisoformat("2026-11-24T08:00:00+00:00")


def open_until(hours: float | None) -> Status:
    closes = NOW + timedelta(hours=hours) if hours is not None else None
    return Status(True, "open", "", None, closes)


@pytest.mark.parametrize(
    ("status", "waiting", "next_opening", "expected"),
    [
        (open_until(10), 0, None, CallbackPromise("within_hour")),
        (open_until(10), 5, None, CallbackPromise("within_hour")),  # 6 x 10 min: an hour exactly
        (open_until(10), 6, None, CallbackPromise("today")),
        (open_until(0.5), 5, TOMORROW_8, CallbackPromise("when_open", TOMORROW_8)),  # past closing
        (open_until(0.5), 5, None, CallbackPromise("no_time")),
        (open_until(None), 0, None, CallbackPromise("within_hour")),  # 24 hours a day
        (Status(False, "outside_hours", "", TOMORROW_8), 40, None, CallbackPromise("when_open", TOMORROW_8)),
        (Status(False, "emergency", "flood", None, category="weather"), 0, None, CallbackPromise("no_time")),
    ],
)
def test_callback_promise(
    status: Status, waiting: int, next_opening: datetime | None, expected: CallbackPromise
) -> None:
    assert callback_promise(status, NOW, waiting, next_opening) == expected
