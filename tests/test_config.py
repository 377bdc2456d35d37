"""Config validation: every error names the file, the line, the key and the bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr import StartupError, create_app
from ivr.config import ConfigError, load_config
from ivr.tools.cli import main


def edit(config_dir: Path, name: str, old: str, new: str) -> int:
    """Replace `old` in `name` and return the 1-based line where it was."""
    path = config_dir / name
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1 + new.count("\n")


def errors_of(config_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    return caught.value.errors


def test_shipped_config_matches_the_contract() -> None:
    config = load_config(Path(__file__).resolve().parent.parent / "config")
    table = {
        code: (r.countries, r.hotline, r.numbers, r.timezone, r.languages, r.queue)
        for code, r in config.regions.items()
    }
    assert table == {
        "cn": (("CN",), "+864008200000", ("+864001234567",), "Asia/Shanghai", ("zh-CN", "en-US"), None),
        "hk": (
            ("HK", "MO"),
            "+85228000000",
            ("+85230011234",),
            "Asia/Hong_Kong",
            ("zh-HK", "en-US"),
            "hk-support",
        ),
        "sg": (("SG", "MY"), "+6568008000", ("+6531251234",), "Asia/Singapore", ("en-US", "zh-CN"), None),
        "gb": (
            ("GB", "IE", "GG", "JE", "IM"),
            "+442079460000",
            ("+442038089999",),
            "Europe/London",
            ("en-GB",),
            None,
        ),
        "us": (("US", "CA"), "+18002255288", ("+18005550100",), "America/New_York", ("en-US",), None),
        "global": ((), "+442079460001", ("+18885550100",), "UTC", ("en-US", "zh-CN"), None),
    }
    assert (config.default_region, config.fraud_desk) == ("global", "+442079460001")
    holidays = {
        name: s.holidays and (s.holidays.country, s.holidays.subdiv) for name, s in config.schedules.items()
    }
    assert holidays == {
        "cn": ("CN", None),
        "hk": ("HK", None),
        "sg": ("SG", None),
        "gb": ("GB", "ENG"),
        "us": ("US", None),
        "always": None,
    }


@pytest.mark.parametrize(
    ("name", "old", "new", "key", "problem"),
    [
        (
            "regions.yaml",
            "timezone: Asia/Shanghai",
            "timezone: Asia/Beijing",
            "regions.cn.timezone",
            "'Asia/Beijing' is not a known time zone",
        ),
        (
            "regions.yaml",
            'hotline: "+85228000000"',
            'hotline: "+8522800"',
            "regions.hk.hotline",
            "'+8522800' is not a valid phone number",
        ),
        (
            "regions.yaml",
            'numbers: ["+6531251234"]',
            'numbers: ["+65 3125 1234"]',
            "regions.sg.numbers.0",
            "must be written in E.164 form, '+6531251234'",
        ),
        (
            "regions.yaml",
            "countries: [GB, IE, GG, JE, IM]",
            "countries: [GB, UK]",
            "regions.gb.countries.1",
            "'UK' is not an ISO 3166 country code",
        ),
        (
            "regions.yaml",
            "countries: [SG, MY]",
            "countries: [SG, MY, HK]",
            "regions.sg.countries.2",
            "HK is already claimed by region hk",
        ),
        (
            "regions.yaml",
            "    hours: us\n",
            "    hours: usa\n",
            "regions.us.hours",
            "no schedule named 'usa' in hours.yaml",
        ),
        (
            "regions.yaml",
            "languages: [zh-HK, en-US]",
            "languages: [zh-HK, fr-FR]",
            "regions.hk.languages.1",
            "language 'fr-FR' is not defined under languages",
        ),
        (
            "regions.yaml",
            "default_region: global",
            "default_region: world",
            "default_region",
            "no region named 'world'",
        ),
        (
            "regions.yaml",
            "    support_email: support.us@okwallet.example\n",
            "    support_email: support.us@okwallet.example\n    ring_timout: 20\n",
            "regions.us.ring_timout",
            "Extra inputs are not permitted",
        ),
        (
            "hours.yaml",
            "holidays: {country: SG}",
            "holidays: {country: XX}",
            "schedules.sg.holidays.country",
            "'XX' is not a country the holidays package supports",
        ),
        (
            "hours.yaml",
            "holidays: {country: GB, subdiv: ENG}",
            "holidays: {country: GB, subdiv: LDN}",
            "schedules.gb.holidays",
            "subdivision 'LDN' is not one of GB's",
        ),
        (
            "hours.yaml",
            'sat: ["09:00-13:00"]',
            'sat: ["09:00-13:00", "12:00-14:00"]',
            "schedules.hk.weekly.sat",
            "intervals 09:00-13:00 and 12:00-14:00 overlap",
        ),
        (
            "hours.yaml",
            'mon-fri: ["09:00-18:00"]',
            'mon-fri: ["9am-6pm"]',
            "schedules.sg.weekly.mon-fri",
            "'9am-6pm' is not an interval like '09:00-18:00'",
        ),
        (
            "hours.yaml",
            'mon-fri: ["09:00-18:00"]',
            'mon-fri: ["09:00-25:00"]',
            "schedules.sg.weekly.mon-fri",
            "'09:00-25:00' has an impossible time of day",
        ),
        (
            "hours.yaml",
            'sat: ["09:00-17:00"]',
            'mon: ["09:00-17:00"]',
            "schedules.gb.weekly.mon",
            "mon is given hours twice",
        ),
        (
            "hours.yaml",
            'mon-fri: ["07:00-01:00"]',
            'mon-sun: ["07:00-08:00"]\n      wed-mon: ["07:00-08:00"]',
            "schedules.us.weekly.wed-mon",
            "day range 'wed-mon' runs backwards",
        ),
        (
            "hours.yaml",
            "closures: {}",
            "closures:\n  cn:\n    2026-02-30: Leap day",
            "closures.cn.2026-02-30",
            "Input should be a valid date",
        ),
        (
            "hours.yaml",
            "closures: {}",
            "closures:\n  mars:\n    2026-12-30: Dust storm",
            "closures.mars",
            "no schedule named 'mars' in schedules",
        ),
        (
            "hours.yaml",
            "make_up_days_follow: mon",
            "make_up_days_follow: monday",
            "schedules.cn.make_up_days_follow",
            "'monday' is not a weekday",
        ),
    ],
)
def test_each_error_names_file_line_key_and_value(
    config_dir: Path,
    name: str,
    old: str,
    new: str,
    key: str,
    problem: str,
) -> None:
    line = edit(config_dir, name, old, new)
    errors = errors_of(config_dir)
    if problem is None:  # a valid edit: no error at all
        return
    matching = [e for e in errors if e.startswith(f"{config_dir / name}:") and f": {key}: " in e]
    assert matching, errors
    _, at, _ = matching[0].split(":", 2)
    assert abs(int(at) - line) <= 1, (matching[0], line)
    assert problem in matching[0]


def test_valid_edit_loads(config_dir: Path) -> None:
    edit(
        config_dir,
        "hours.yaml",
        'mon-fri: ["07:00-01:00"]',
        'mon-fri: ["07:00-09:00"]\n      sat-sun: ["08:00-10:00"]',
    )
    assert load_config(config_dir).schedules["us"].days[6][0].start == 8 * 60


def test_an_overnight_interval_may_not_run_into_the_next_days_hours(config_dir: Path) -> None:
    edit(
        config_dir,
        "hours.yaml",
        'mon-fri: ["07:00-01:00"]',
        'mon-fri: ["07:00-08:00"]\n      sun: ["20:00-07:30"]',
    )
    errors = errors_of(config_dir)
    assert any("schedules.us.weekly: sun 20:00-07:30 overlaps mon 07:00-08:00" in e for e in errors)


def test_all_errors_are_reported_at_once(config_dir: Path) -> None:
    edit(config_dir, "regions.yaml", "timezone: Asia/Singapore", "timezone: Asia/Nowhere")
    edit(config_dir, "regions.yaml", "languages: [en-GB]", "languages: [en-AU]")
    edit(config_dir, "hours.yaml", "holidays: {country: HK}", "holidays: {country: ZZ}")
    errors = errors_of(config_dir)
    assert len(errors) == 4
    assert any("regions.sg.timezone" in e for e in errors)
    assert any("regions.gb.languages.0" in e for e in errors)
    assert any("schedules.hk.holidays.country" in e for e in errors)
    assert any("en-GB.yaml:" in e and "no region speaks 'en-GB'" in e for e in errors)  # now unused


def test_yaml_syntax_error_has_its_line(config_dir: Path) -> None:
    line = edit(config_dir, "hours.yaml", "  hk:\n", "  hk: [\n")
    errors = errors_of(config_dir)
    assert len(errors) == 1 and "hours.yaml:" in errors[0] and "(syntax)" in errors[0]
    assert int(errors[0].split(":")[1]) > line


def test_missing_file(config_dir: Path) -> None:
    (config_dir / "hours.yaml").unlink()
    assert errors_of(config_dir) == [f"{config_dir / 'hours.yaml'}:1: (file): not found"]


def test_ivr_check_ok_and_failing(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_CONFIG_DIR", str(config_dir))
    ok = CliRunner().invoke(main, ["check"])
    assert ok.exit_code == 0 and ok.output.startswith("OK\n6 regions, default global")
    line = edit(config_dir, "regions.yaml", "timezone: Europe/London", "timezone: Europe/Londn")
    bad = CliRunner().invoke(main, ["check"])
    assert bad.exit_code == 1
    assert f"regions.yaml:{line}: regions.gb.timezone: 'Europe/Londn' is not a known time zone" in bad.output


def test_server_refuses_to_start_on_bad_config(config_dir: Path, tmp_path: Path) -> None:
    edit(config_dir, "regions.yaml", "timezone: UTC", "timezone: Mars/Olympus")
    with pytest.raises(StartupError, match=r"regions.global.timezone: 'Mars/Olympus'"):
        create_app(
            {
                "TWILIO_AUTH_TOKEN": "x",
                "CONFIG_DIR": str(config_dir),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'db'}",
            }
        )


def test_server_refuses_to_start_without_auth_token(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with pytest.raises(StartupError, match="TWILIO_AUTH_TOKEN is not set"):
        create_app({"CONFIG_DIR": str(config_dir), "DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"})


def test_server_refuses_a_malformed_database_url(config_dir: Path, tmp_path: Path) -> None:
    from ivr import preflight

    with pytest.raises(StartupError, match="DATABASE_URL is not a database URL"):
        create_app({"TWILIO_AUTH_TOKEN": "x", "CONFIG_DIR": str(config_dir), "DATABASE_URL": "ivr.sqlite3"})
    problems = preflight({"TWILIO_AUTH_TOKEN": "x", "IVR_CONFIG_DIR": str(config_dir), "DATABASE_URL": "x"})
    assert problems == ["DATABASE_URL is not a database URL (e.g. postgresql+psycopg://user@host/db)"]
    assert preflight({"TWILIO_AUTH_TOKEN": "x", "IVR_CONFIG_DIR": str(config_dir)}) == []
