"""Whether a region's agents are open at an instant, why, and when they next open.

Pure functions: the schedule, the zone and the instant come in, a value goes out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from ivr.config import HolidayCalendar, Interval, WeeklyHours

# How far ahead to look for the next opening: longer than any plausible closure.
SEARCH_DAYS = 400


@dataclass(frozen=True)
class Day:
    """One local date's opening intervals and what decided them."""

    date: date
    intervals: tuple[Interval, ...]
    kind: str  # regular | make_up_workday | special_hours | holiday | closure | emergency
    detail: str = ""

    @property
    def closed_all_day(self) -> bool:
        return self.kind in ("holiday", "closure", "emergency")


@dataclass(frozen=True)
class Status:
    """The answer to 'can an agent take this call now?'."""

    open: bool
    reason: str  # open | always_open | make_up_workday | special_hours | outside_hours | holiday | ...
    detail: str
    next_open: datetime | None  # aware, in the region's zone; None when open or never
    closes_at: datetime | None = None
    category: str = ""  # for an emergency closure: what callers are told it is about


@dataclass(frozen=True)
class Emergency:
    """An ops closure in force until `until` (None: until reopened)."""

    reason: str
    until: datetime | None = None
    category: str = "other"  # what callers hear: outage | weather | maintenance | other

    def covers(self, instant: datetime) -> bool:
        return self.until is None or instant < self.until


@lru_cache(maxsize=64)
def holiday_calendar(calendar: HolidayCalendar) -> holidays.HolidayBase:
    """The `holidays` calendar, shared and expanded to new years as they are asked for."""
    return holidays.country_holidays(calendar.country, subdiv=calendar.subdiv)


def day_hours(schedule: WeeklyHours, day: date) -> Day:
    """The intervals that start on `day`, after closures, special hours and holidays."""
    if day in schedule.closures:
        return Day(day, (), "closure", schedule.closures[day])
    if day in schedule.special_hours:
        special = schedule.special_hours[day]
        return Day(day, special.hours, "special_hours", special.reason)
    weekly = schedule.days[day.weekday()]
    if schedule.holidays is None:
        return Day(day, weekly, "regular")
    calendar = holiday_calendar(schedule.holidays)
    name = calendar.get(day)
    if name:
        return Day(day, (), "holiday", name)
    follow = schedule.make_up_days_follow
    if follow is not None and day.weekday() >= 5 and calendar.is_working_day(day):
        return Day(day, schedule.days[follow], "make_up_workday")
    if schedule.close_weekends_in_breaks and day.weekday() >= 5:
        holiday = _break_around(calendar, day)
        if holiday:
            return Day(day, (), "holiday", holiday)
    return Day(day, weekly, "regular")


def _break_around(calendar: holidays.HolidayBase, day: date) -> str | None:
    """The holiday whose break `day` (a Saturday or Sunday) lies inside: the nearest weekdays
    before and after it are both holidays (China's Spring Festival week, a Hong Kong Easter)."""
    before, after = day - timedelta(days=1), day + timedelta(days=1)
    while before.weekday() >= 5 and before not in calendar:
        before -= timedelta(days=1)
    while after.weekday() >= 5 and after not in calendar:
        after += timedelta(days=1)
    if before in calendar and after in calendar:
        return f"weekend inside the holiday break ({calendar.get(before)} to {calendar.get(after)})"
    return None


def _wall(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """Local wall-clock time `minutes` after midnight of `day` (may roll into the next day)."""
    days, minute_of_day = divmod(minutes, 1440)
    local = day + timedelta(days=days)
    return datetime(local.year, local.month, local.day, minute_of_day // 60, minute_of_day % 60, tzinfo=zone)


def _spans(day: Day, zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    for interval in day.intervals:
        yield _wall(day.date, interval.start, zone), _wall(day.date, interval.end, zone)


def status_at(
    schedule: WeeklyHours,
    zone: ZoneInfo,
    instant: datetime,
    emergency: Emergency | None = None,
) -> Status:
    """Open or closed at `instant` (aware), with the reason and the next opening."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    if emergency is not None and emergency.covers(instant):
        return Status(
            False,
            "emergency",
            emergency.reason,
            _next_opening(schedule, zone, emergency.until or instant, emergency),
            category=emergency.category,
        )
    if schedule.always_open:
        return Status(True, "always_open", "", None)
    today = instant.astimezone(zone).date()
    for day in (day_hours(schedule, today - timedelta(days=1)), day_hours(schedule, today)):
        for start, end in _spans(day, zone):
            if start <= instant < end:
                reason = "open" if day.kind == "regular" else day.kind
                return Status(True, reason, day.detail, None, closes_at=end)
    return Status(
        False,
        *_closed_because(schedule, zone, instant, today),
        _next_opening(schedule, zone, instant, emergency),
    )


def _closed_because(schedule: WeeklyHours, zone: ZoneInfo, instant: datetime, today: date) -> tuple[str, str]:
    """Name the holiday or closure whose regular hours would have covered `instant`."""
    for offset in (1, 0):
        day = day_hours(schedule, today - timedelta(days=offset))
        if not day.closed_all_day:
            continue
        regular = Day(day.date, schedule.days[day.date.weekday()], "regular")
        if offset == 0 or any(s <= instant < e for s, e in _spans(regular, zone)):
            return day.kind, day.detail
    return "outside_hours", ""


def _next_opening(
    schedule: WeeklyHours, zone: ZoneInfo, after: datetime, emergency: Emergency | None
) -> datetime | None:
    if emergency is not None and emergency.until is None:
        return None  # closed until ops reopen by hand
    if schedule.always_open:
        return after.astimezone(zone) if emergency is not None else None
    first = after.astimezone(zone).date() - timedelta(days=1)
    for offset in range(SEARCH_DAYS):
        for start, end in _spans(day_hours(schedule, first + timedelta(days=offset)), zone):
            candidate = max(start, after)
            if end > after and (emergency is None or not emergency.covers(candidate)):
                return candidate.astimezone(zone)
    return None


def earliest_callback(status: Status, booked_at: datetime) -> datetime | None:
    """When a callback booked at `booked_at` can first be dialed: callbacks are dialed in the
    region's agent hours (theft first), so at once when open, else at the next opening; None
    when no opening is known (an emergency closure without an end)."""
    return booked_at if status.open else status.next_open


def week_table(schedule: WeeklyHours, start: date, days: int) -> list[Day]:
    """Day-by-day hours for ops (`ivr hours`, the ops page)."""
    return [day_hours(schedule, start + timedelta(days=n)) for n in range(days)]


def holidays_on(schedules: Mapping[str, WeeklyHours], day: date) -> dict[str, str]:
    """Schedule name -> holiday name for every schedule with a holiday on `day`."""
    found = {}
    for name, schedule in schedules.items():
        if schedule.holidays and (holiday := holiday_calendar(schedule.holidays).get(day)):
            found[name] = holiday
    return found
