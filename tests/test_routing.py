"""Routing and hours, as the contract's tables state them: (caller, dialed, instant) -> answer."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from ivr.config import Config, load_config
from ivr.routing.hours import Emergency, status_at
from ivr.routing.regions import mask, route_call
from ivr.runtime import Runtime, build_runtime
from ivr.settings import Settings

SHIPPED = Path(__file__).resolve().parent.parent / "config"

# caller, dialed, instant, region, matched_by, open, reason, next_open
CASES = [
    # China: weekday, evening, weekend, Spring Festival and its make-up Saturdays (调休)
    ("+8613800138000", "", "2026-11-23T12:00+08:00", "cn", "caller", True, "open", None),
    (
        "+8613800138000",
        "",
        "2026-11-23T08:59+08:00",
        "cn",
        "caller",
        False,
        "outside_hours",
        "2026-11-23T09:00:00+08:00",
    ),
    (
        "+8613800138000",
        "",
        "2026-11-23T21:00+08:00",
        "cn",
        "caller",
        False,
        "outside_hours",
        "2026-11-24T09:00:00+08:00",
    ),
    ("+8613800138000", "", "2026-11-28T10:30+08:00", "cn", "caller", True, "open", None),
    (
        "+8613800138000",
        "",
        "2026-02-17T12:00+08:00",
        "cn",
        "caller",
        False,
        "holiday",
        "2026-02-24T09:00:00+08:00",  # the weekend inside the break is closed
    ),
    ("+8613800138000", "", "2026-02-14T09:30+08:00", "cn", "caller", True, "make_up_workday", None),
    ("+8613800138000", "", "2026-02-14T20:30+08:00", "cn", "caller", True, "make_up_workday", None),
    ("+8613800138000", "", "2026-02-28T20:59+08:00", "cn", "caller", True, "make_up_workday", None),
    (
        "+8613800138000",
        "",
        "2026-10-01T12:00+08:00",
        "cn",
        "caller",
        False,
        "holiday",
        "2026-10-08T09:00:00+08:00",  # National Day break: 1-7 Oct
    ),
    # Hong Kong and Macau
    ("+85291234567", "", "2026-11-23T10:00+08:00", "hk", "caller", True, "open", None),
    (
        "+85366123456",
        "",
        "2026-11-28T13:30+08:00",
        "hk",
        "caller",
        False,
        "outside_hours",
        "2026-11-30T09:00:00+08:00",
    ),
    (
        "+85291234567",
        "",
        "2026-12-25T10:00+08:00",
        "hk",
        "caller",
        False,
        "holiday",
        "2026-12-28T09:00:00+08:00",
    ),
    # Singapore and Malaysia
    ("+6591234567", "", "2026-11-23T17:59+08:00", "sg", "caller", True, "open", None),
    (
        "+60123456789",
        "",
        "2026-11-23T18:00+08:00",
        "sg",
        "caller",
        False,
        "outside_hours",
        "2026-11-24T09:00:00+08:00",
    ),
    (
        "+6591234567",
        "",
        "2026-11-28T12:00+08:00",
        "sg",
        "caller",
        False,
        "outside_hours",
        "2026-11-30T09:00:00+08:00",
    ),
    # Britain and Ireland, both DST changes and a bank holiday with its substitute day
    ("+447400123456", "", "2026-11-23T08:00+00:00", "gb", "caller", True, "open", None),
    (
        "+353851234567",
        "",
        "2026-03-28T17:30+00:00",
        "gb",
        "caller",
        False,
        "outside_hours",
        "2026-03-30T08:00:00+01:00",
    ),
    ("+447400123456", "", "2026-03-30T07:30+00:00", "gb", "caller", True, "open", None),
    (
        "+447400123456",
        "",
        "2026-10-24T16:30+00:00",
        "gb",
        "caller",
        False,
        "outside_hours",
        "2026-10-26T08:00:00+00:00",
    ),
    (
        "+447400123456",
        "",
        "2026-12-25T12:00+00:00",
        "gb",
        "caller",
        False,
        "holiday",
        "2026-12-29T08:00:00+00:00",
    ),
    # United States and Canada: the overnight shift, into and out of Thanksgiving, DST
    ("+14155550123", "", "2026-11-23T12:00-05:00", "us", "caller", True, "open", None),
    ("+14155550123", "", "2026-11-24T00:30-05:00", "us", "caller", True, "open", None),
    (
        "+16135550123",
        "",
        "2026-11-24T01:00-05:00",
        "us",
        "caller",
        False,
        "outside_hours",
        "2026-11-24T07:00:00-05:00",
    ),
    ("+14155550123", "", "2026-11-26T00:30-05:00", "us", "caller", True, "open", None),
    (
        "+14155550123",
        "",
        "2026-11-26T12:00-05:00",
        "us",
        "caller",
        False,
        "holiday",
        "2026-11-27T07:00:00-05:00",
    ),
    (
        "+14155550123",
        "",
        "2026-11-27T00:30-05:00",
        "us",
        "caller",
        False,
        "holiday",
        "2026-11-27T07:00:00-05:00",
    ),
    ("+14155550123", "", "2026-11-28T00:30-05:00", "us", "caller", True, "open", None),
    (
        "+14155550123",
        "",
        "2026-03-08T12:00-04:00",
        "us",
        "caller",
        False,
        "outside_hours",
        "2026-03-09T07:00:00-04:00",
    ),
    ("+14155550123", "", "2026-03-07T00:30-05:00", "us", "caller", True, "open", None),
    (
        "+14155550123",
        "",
        "2026-11-02T06:59-05:00",
        "us",
        "caller",
        False,
        "outside_hours",
        "2026-11-02T07:00:00-05:00",
    ),
    # Unlisted countries: the dialed number, else the default region (open 24/7)
    ("+33612345678", "+18885550100", "2026-11-23T03:00+00:00", "global", "dialed", True, "always_open", None),
    ("+33612345678", "+442038089999", "2026-11-23T12:00+00:00", "gb", "dialed", True, "open", None),
    (
        "+33612345678",
        "+15551234567",
        "2026-11-23T12:00+00:00",
        "global",
        "default",
        True,
        "always_open",
        None,
    ),
    # Withheld and sentinel caller IDs never pick a region themselves
    ("anonymous", "+864001234567", "2026-11-23T12:00+08:00", "cn", "dialed", True, "open", None),
    ("Anonymous", "+85230011234", "2026-11-23T12:00+08:00", "hk", "dialed", True, "open", None),
    ("restricted", "+6531251234", "2026-11-23T12:00+08:00", "sg", "dialed", True, "open", None),
    ("unknown", "+442038089999", "2026-11-23T12:00+00:00", "gb", "dialed", True, "open", None),
    ("", "+18005550100", "2026-11-23T12:00-05:00", "us", "dialed", True, "open", None),
    ("+266696687", "+18885550100", "2026-11-23T12:00+00:00", "global", "dialed", True, "always_open", None),
    ("+7378742833", "+864001234567", "2026-11-23T12:00+08:00", "cn", "dialed", True, "open", None),
    ("+2562533", "+85230011234", "2026-11-23T12:00+08:00", "hk", "dialed", True, "open", None),
    ("+8656696", "+442038089999", "2026-11-23T12:00+00:00", "gb", "dialed", True, "open", None),
    ("+86282452253", "+864001234567", "2026-11-23T12:00+08:00", "cn", "dialed", True, "open", None),
    (
        "sip:alice@pbx.example.com",
        "+18005550100",
        "2026-11-23T12:00-05:00",
        "us",
        "dialed",
        True,
        "open",
        None,
    ),
    ("client:agent-7", "", "2026-11-23T12:00+00:00", "global", "default", True, "always_open", None),
    ("+861234", "+6531251234", "2026-11-23T12:00+08:00", "sg", "dialed", True, "open", None),
    ("anonymous", "", "2026-11-23T12:00+00:00", "global", "default", True, "always_open", None),
]


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    folder = tmp_path_factory.mktemp("store")
    settings = Settings(config_dir=SHIPPED, database_url=f"sqlite:///{folder / 'ivr.sqlite3'}")
    return build_runtime(settings, snapshot=False)


@pytest.mark.parametrize(
    ("caller", "dialed", "at", "region", "matched_by", "is_open", "reason", "next_open"), CASES
)
def test_route_and_hours(
    hotline: Runtime,
    caller: str,
    dialed: str,
    at: str,
    region: str,
    matched_by: str,
    is_open: bool,
    reason: str,
    next_open: str | None,
) -> None:
    answer = hotline.route(caller, dialed, datetime.fromisoformat(at)).as_json()
    assert (answer["region"], answer["matched_by"]) == (region, matched_by)
    assert (answer["open"], answer["reason"]) == (is_open, reason)
    assert answer["next_open"] == next_open


def test_every_shipped_region_is_covered() -> None:
    assert {case[3] for case in CASES} == set(load_config(SHIPPED).regions)


def test_routing_reports_the_callers_e164_number() -> None:
    route = route_call(load_config(SHIPPED), "+86 138 0013 8000", "")
    assert route.caller == "+8613800138000"
    assert route_call(load_config(SHIPPED), "anonymous", "").caller is None


WITH_EXCEPTIONS = """
closures:
  cn:
    2026-12-31: Year-end system upgrade
special_hours:
  gb:
    2026-12-24: {hours: ["08:00-12:00"], reason: Christmas Eve}
"""


@pytest.fixture
def edited(config_dir: Path) -> Config:
    hours = config_dir / "hours.yaml"
    text = hours.read_text().replace("closures: {}\nspecial_hours: {}\n", WITH_EXCEPTIONS)
    hours.write_text(text)
    return load_config(config_dir)


@pytest.mark.parametrize(
    ("region", "at", "is_open", "reason", "detail", "next_open"),
    [
        (
            "cn",
            "2026-12-31T12:00+08:00",
            False,
            "closure",
            "Year-end system upgrade",
            "2027-01-02T10:00:00+08:00",
        ),
        ("cn", "2026-12-30T12:00+08:00", True, "open", "", None),
        ("gb", "2026-12-24T11:59+00:00", True, "special_hours", "Christmas Eve", None),
        ("gb", "2026-12-24T12:00+00:00", False, "outside_hours", "", "2026-12-29T08:00:00+00:00"),
    ],
)
def test_closures_and_special_hours(
    edited: Config,
    region: str,
    at: str,
    is_open: bool,
    reason: str,
    detail: str,
    next_open: str | None,
) -> None:
    zone = edited.regions[region].zone
    status = status_at(edited.schedules[region], zone, datetime.fromisoformat(at))
    assert (status.open, status.reason, status.detail) == (is_open, reason, detail)
    assert (status.next_open.isoformat() if status.next_open else None) == next_open


def test_emergency_closure_until_a_time_reopens_at_the_next_interval() -> None:
    config = load_config(SHIPPED)
    until = datetime.fromisoformat("2026-11-23T15:00+08:00")
    status = status_at(
        config.schedules["cn"],
        config.regions["cn"].zone,
        datetime.fromisoformat("2026-11-23T12:00+08:00"),
        Emergency("Flooded office", until),
    )
    assert (status.open, status.reason, status.detail) == (False, "emergency", "Flooded office")
    assert status.next_open == until
    open_ended = status_at(
        config.schedules["always"], config.regions["global"].zone, until, Emergency("Outage")
    )
    assert (open_ended.open, open_ended.next_open) == (False, None)


def test_naive_instants_are_refused() -> None:
    config = load_config(SHIPPED)
    with pytest.raises(ValueError, match="timezone-aware"):
        status_at(config.schedules["cn"], config.regions["cn"].zone, datetime(2026, 11, 23, 12))


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+8613800138000", "+86*******8000"),
        ("+447400123456", "+44******3456"),
        ("anonymous", "withheld"),
        ("", "-"),
        ("+861234", "invalid"),
    ],
)
def test_numbers_are_masked_for_logs(raw: str, masked: str) -> None:
    assert mask(raw) == masked
