"""Load and validate `regions.yaml`, `hours.yaml` and `prompts/<language>.yaml` into typed,
frozen objects.

This is the only module that reads YAML. Every problem is collected and reported at once as
`file:line: key: problem`, so ops can fix a whole edit in one pass.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo, available_timezones

import holidays
import phonenumbers
import yaml
from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, tokenize_pattern
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A config that cannot be served; `errors` holds one `file:line: key: problem` each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# --- field types -------------------------------------------------------------------------


def _e164(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError(
            f"{value!r} is not a phone number in E.164 form: + then the country code and number, "
            "e.g. +442079460000"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164 != value:
        raise ValueError(f"{value!r} must be written in E.164 form, {e164!r}")
    return value


def _country(value: str) -> str:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value!r} is not an ISO 3166 country code phonenumbers knows")
    return value


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    """Every zone name tzdata knows: scanned once, not once per region."""
    return frozenset(available_timezones())


def _timezone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"{value!r} is not a known time zone")
    return value


def _weekday(value: str) -> int:
    if value not in WEEKDAYS:
        raise ValueError(f"{value!r} is not a weekday (one of {', '.join(WEEKDAYS)})")
    return WEEKDAYS.index(value)


E164 = Annotated[str, AfterValidator(_e164)]


def _sms_sender(value: str) -> str:
    """What Twilio sends a text from (errors 21606, 21661): an SMS-capable number, an
    alphanumeric sender ID (1-11 letters, digits or spaces, one letter at least) or a
    Messaging Service SID."""
    from ivr.twiml_rules import sms_sender_ok

    if not sms_sender_ok(value):
        raise ValueError(
            f"{value!r} is not an SMS sender: an E.164 number, an alphanumeric sender ID "
            "(1-11 letters, digits, spaces) or a Messaging Service SID (MG and 32 hex digits)"
        )
    return value


def _media_url(value: str) -> str:
    """Audio Twilio can fetch: http(s), and not https on a dotted S3 bucket (Amazon's wildcard
    certificate does not cover it: https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html)."""
    from ivr.twiml_rules import check_document

    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} must be an http:// or https:// URL")
    problems = check_document(f"<Response><Play>{escape(value)}</Play></Response>", value)
    if problems:
        raise ValueError(f"{value!r}: {problems[0].detail}; use http:// or another host")
    return value


SmsSender = Annotated[str, AfterValidator(_sms_sender)]
MediaUrl = Annotated[str, AfterValidator(_media_url)]
# Twilio's documented hold music (its twimlet's classical set), over http: the https form of
# this dotted bucket fails certificate checks.
HOLD_MUSIC = "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
Country = Annotated[str, AfterValidator(_country)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]


@dataclass(frozen=True, order=True)
class Interval:
    """Opening time in minutes after local midnight of the day it starts; `end` may pass 1440."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> Interval:
        match = _INTERVAL.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise ValueError(f"{text!r} is not an interval like '09:00-18:00'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"{text!r} has an impossible time of day")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:  # runs past midnight into the next day
            end += 1440
        return cls(start, end)

    def __str__(self) -> str:
        def hhmm(minutes: int) -> str:
            return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"

        return f"{hhmm(self.start)}-{hhmm(self.end)}"


def _intervals(values: Any) -> tuple[Interval, ...]:
    if not isinstance(values, list):
        raise ValueError("must be a list of intervals like ['09:00-18:00']")
    parsed = sorted(Interval.parse(v) for v in values)
    for first, second in pairwise(parsed):
        if second.start < first.end:
            raise ValueError(f"intervals {first} and {second} overlap")
    return tuple(parsed)


IntervalList = Annotated[tuple[Interval, ...], BeforeValidator(_intervals)]


# --- regions.yaml --------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Voice(_Frozen):
    """How one language is spoken by Twilio's <Say>."""

    say_language: str
    voice: str
    speech_language: str  # what Twilio's <Gather> recognises: cmn-Hans-CN, yue-Hant-HK, en-US


class Region(_Frozen):
    """One regional hotline."""

    code: str = ""
    name: str
    countries: tuple[Country, ...] = ()
    hotline: E164
    numbers: tuple[E164, ...] = ()
    timezone: TimeZoneName
    languages: tuple[str, ...] = Field(min_length=1)
    hours: str
    queue: str | None = None
    support_email: str = "support@okwallet.example"
    help_url: str = "https://help.okwallet.example/app"  # texted under `4`: the app won't open
    ring_timeout: int = Field(default=25, ge=5, le=60)
    queue_updates: bool = True  # queue mode: say the caller's position and the average wait
    # This region's own wording of some prompts, by language (Singapore says 华语, not 普通话).
    prompts: dict[str, dict[str, str]] = {}
    task_workflow: str | None = None  # queue mode through TaskRouter: the agent sees the context
    sms_from: SmsSender | None = None  # texts' sender; unset: IVR_SMS_FROM
    caller_id: E164 | None = None  # a Twilio number of ours, shown when the caller's ID is not valid
    music: MediaUrl = HOLD_MUSIC  # what a caller on hold or in the queue hears

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _reset_url(value: str) -> str:
    if not value.startswith("https://") or "{token}" not in value:
        raise ValueError(f"{value!r} must be an https:// URL containing {{token}}")
    return value


class SpeechSettings(_Frozen):
    """How speech is recognised and trusted."""

    model: str | None = None  # Twilio's speechModel; unset: Twilio chooses (and `auto` works)
    # Seconds of silence that end speech, or `auto`; a set model needs seconds (warning 13335).
    timeout: Literal["auto"] | Annotated[int, Field(ge=1, le=60)] = "auto"
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)  # below it, the caller is asked to confirm

    @model_validator(mode="after")
    def _timeout_with_model(self) -> SpeechSettings:
        # https://www.twilio.com/docs/api/errors/13335: "Use a positive integer for
        # speechTimeout whenever you set speechModel on <Gather>."
        if self.model is not None and self.timeout == "auto":
            raise ValueError(
                f"model {self.model!r} needs timeout in seconds (e.g. timeout: 2): Twilio refuses "
                "speechTimeout auto with a speechModel (warning 13335)"
            )
        return self


class RegionsFile(_Frozen):
    default_region: str
    speech: SpeechSettings = SpeechSettings()
    fraud_desk: E164
    reset_url: Annotated[str, AfterValidator(_reset_url)] = (
        "https://wallet.okwallet.example/reset?token={token}"
    )
    languages: dict[str, Voice]
    regions: dict[str, dict[str, Any]] = Field(min_length=1)  # each validated on its own


# --- hours.yaml ----------------------------------------------------------------------------


class HolidayCalendar(_Frozen):
    """A public-holiday calendar from the `holidays` package."""

    country: str
    subdiv: str | None = None

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if value not in holidays.list_supported_countries():
            raise ValueError(f"{value!r} is not a country the holidays package supports")
        return value

    @model_validator(mode="after")
    def _known_subdivision(self) -> HolidayCalendar:
        supported = holidays.list_supported_countries()[self.country]
        if self.subdiv is not None and self.subdiv not in supported:
            raise ValueError(
                f"subdivision {self.subdiv!r} is not one of {self.country}'s: {', '.join(supported)}"
            )
        return self


class Schedule(_Frozen):
    """Weekly opening hours plus the holiday calendar that closes them."""

    always_open: bool = False
    weekly: dict[str, IntervalList] = {}
    holidays: HolidayCalendar | None = None
    make_up_days_follow: str | None = None
    # A weekend day inside a holiday break (holidays on the weekdays either side) closes too.
    close_weekends_in_breaks: bool = False

    @field_validator("make_up_days_follow")
    @classmethod
    def _follow_day(cls, value: str | None) -> str | None:
        if value is not None:
            _weekday(value)
        return value


class SpecialDay(_Frozen):
    hours: IntervalList
    reason: str = Field(min_length=1)


class HoursFile(_Frozen):
    schedules: dict[str, dict[str, Any]] = Field(min_length=1)  # each validated on its own
    closures: dict[str, dict[date, Annotated[str, Field(min_length=1)]]] = {}
    special_hours: dict[str, dict[date, SpecialDay]] = {}


# --- prompts/<language>.yaml --------------------------------------------------------------


def _locale(value: str) -> str:
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"{value!r} is not a locale Babel knows (e.g. en_US, zh_Hans_CN)") from None
    return value


# The fields (CLDR letters) each pattern must hold, and those it must not: a date says the day
# and the month, an hour says the hour (https://unicode.org/reports/tr35/tr35-dates.html).
_PATTERN_FIELDS = {
    "date": ({"d"}, {"M", "L"}, set("hHkKmsaBb")),
    "hour": ({"h", "H", "k", "K"}, set(), set("dMLyEecms")),
    "minute": ({"h", "H", "k", "K"}, {"m"}, set("dMLyEecs")),
    "morning_hour": ({"h", "H", "k", "K"}, set(), set("dMLyEecms")),
}


def _pattern(kind: str, value: str) -> str:
    """A Babel date pattern that says what `kind` needs: `date: 12` would be read as "12"."""
    try:
        letters = {token[1][0] for token in tokenize_pattern(value) if token[0] == "field"}
        format_datetime(datetime(2026, 1, 2, 9, 30), value, locale="en_US")
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{value!r} is not a Babel date pattern") from None
    one_of, also, never = _PATTERN_FIELDS[kind]
    if not letters & one_of or (also and not letters & also):
        needed = " and ".join("/".join(sorted(group)) for group in (one_of, also) if group)
        raise ValueError(f"{value!r} says no {kind}: a {kind} pattern needs the fields {needed}")
    if letters & never:
        extra = ", ".join(sorted(letters & never))
        raise ValueError(f"{value!r} holds fields a {kind} pattern must not: {extra}")
    return value


def _pattern_of(kind: str) -> AfterValidator:
    return AfterValidator(lambda value: _pattern(kind, value))


class Speaking(_Frozen):
    """How dates and times are said in a language: a Babel locale and its patterns, checked
    with Babel when loaded (a live edit to `en_XX` would fail every closed-hours call)."""

    locale: Annotated[str, AfterValidator(_locale)]
    date: Annotated[str, _pattern_of("date")]
    hour: Annotated[str, _pattern_of("hour")]
    minute: Annotated[str, _pattern_of("minute")]
    morning_hour: Annotated[str, _pattern_of("morning_hour")] | None = None  # "this morning at 7"
    say_instead: dict[str, str] = {}  # words Babel writes that the language says otherwise
    # Countries whose mobiles the language's number prompts say may be typed without a country
    # code (zh-CN: 中国大陆手机号可直接输入11位): accepted so in every region speaking it.
    national_mobiles: tuple[str, ...] = ()

    @field_validator("national_mobiles")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [code for code in value if code not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a country code phonenumbers knows (e.g. CN)")
        return value


class PromptFile(_Frozen):
    speaking: Speaking
    prompts: dict[str, str] = Field(min_length=1)
    phrases: dict[str, list[Annotated[str, Field(min_length=1)]]] = {}


@dataclass(frozen=True)
class Catalogue:
    """What callers hear in one language, keyed by prompt name."""

    language: str
    prompts: Mapping[str, str]
    speaking: Speaking
    phrases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # what callers may say

    def text(self, name: str, **values: str) -> str:
        """The prompt `name` with its placeholders filled."""
        return self.prompts[name].format(**values)


def placeholders(text: str) -> frozenset[str]:
    """The `{names}` a prompt expects."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


# --- the loaded config ---------------------------------------------------------------------


@dataclass(frozen=True)
class WeeklyHours:
    """A schedule resolved for lookups: intervals per weekday (0 = Monday)."""

    name: str
    always_open: bool
    days: tuple[tuple[Interval, ...], ...]
    holidays: HolidayCalendar | None
    make_up_days_follow: int | None
    closures: Mapping[date, str]
    close_weekends_in_breaks: bool
    special_hours: Mapping[date, SpecialDay]


@dataclass(frozen=True)
class Config:
    """Everything the IVR knows from its two config files."""

    default_region: str
    fraud_desk: str
    reset_url: str
    voices: Mapping[str, Voice]
    regions: Mapping[str, Region]
    schedules: Mapping[str, WeeklyHours]
    source: Path
    prompts: Mapping[str, Catalogue]
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    _regional: dict[tuple[str, str], Catalogue] = field(default_factory=dict, compare=False)

    @cached_property
    def region_by_country(self) -> Mapping[str, Region]:
        return {c: r for r in self.regions.values() for c in r.countries}

    @cached_property
    def region_by_number(self) -> Mapping[str, Region]:
        return {n: r for r in self.regions.values() for n in r.numbers}

    @property
    def default(self) -> Region:
        return self.regions[self.default_region]

    def catalogue(self, region: Region, language: str) -> Catalogue:
        """What callers of `region` hear in `language`: the language's catalogue with the
        region's own wording laid over it."""
        wording = region.prompts.get(language)
        if not wording:
            return self.prompts[language]
        key = (region.code, language)
        found = self._regional.get(key)
        if found is None:
            base = self.prompts[language]
            merged = {**base.prompts, **wording}
            found = self._regional[key] = Catalogue(language, merged, base.speaking, base.phrases)
        return found

    def schedule_for(self, region: Region) -> WeeklyHours:
        return self.schedules[region.hours]

    def summary(self) -> str:
        rows = [
            [
                region.code,
                ",".join(region.countries) or "every other",
                f"hotline {region.hotline}",
                region.timezone,
                "/".join(region.languages) + (f"  queue {region.queue}" if region.queue else ""),
            ]
            for region in self.regions.values()
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)] if rows else []
        lines = [f"{len(self.regions)} regions, default {self.default_region}"]
        for row in rows:  # columns as wide as their longest cell, so every row lines up
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            lines.append("  " + "  ".join([*cells, row[-1]]))
        return "\n".join(lines)


# --- YAML with line numbers ----------------------------------------------------------------


def _compose(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML keeping every scalar a string (phone numbers, times) and each key's line."""
    lines: dict[Loc, int] = {}

    def build(node: yaml.Node, loc: Loc) -> Any:
        lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                lines[(*loc, key)] = key_node.start_mark.line + 1
                out[key] = build(value_node, (*loc, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*loc, i)) for i, item in enumerate(node.value)]
        if node.tag == "tag:yaml.org,2002:null":
            return None
        if node.tag == "tag:yaml.org,2002:bool":
            return node.value.lower() in ("true", "yes", "on")
        return node.value

    with path.open(encoding="utf-8") as handle:
        root = yaml.compose(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml if there
    return (build(root, ()) if root is not None else {}), lines


@dataclass
class _Errors:
    """Collects `file:line: key: problem` for one file."""

    path: Path
    lines: dict[Loc, int]
    items: list[str]

    def add(self, loc: Loc, problem: str) -> None:
        line = next((self.lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in self.lines), 1)
        key = ".".join(str(part) for part in loc) or "(top)"
        self.items.append(f"{self.path}:{line}: {key}: {problem}")

    def add_validation(self, error: ValidationError, at: Loc = ()) -> None:
        for item in error.errors():
            loc = (*at, *(p for p in item["loc"] if p != "[key]"))
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] not in ("value_error", "assertion_error") and "input" in item:
                shown = item["input"]
                if not isinstance(shown, dict | list):
                    message = f"{message} (got {shown!r})"
            self.add(loc, message)


def _read(path: Path, errors: list[str]) -> tuple[Any, _Errors] | None:
    try:
        data, lines = _compose(path)
    except FileNotFoundError:
        errors.append(f"{path}:1: (file): not found")
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        errors.append(f"{path}:{line}: (syntax): {exc.problem or exc}")
        return None
    except UnicodeDecodeError:
        # The reader decodes in chunks, so the error's offset is the chunk's: decode it whole.
        raw, line, byte = path.read_bytes(), 1, 0
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as whole:
            line, byte = raw[: whole.start].count(b"\n") + 1, raw[whole.start]
        errors.append(f"{path}:{line}: (encoding): byte {byte:#04x} is not UTF-8 (save the file as UTF-8)")
        return None
    if not isinstance(data, dict):
        errors.append(f"{path}:1: (top): must be a mapping of keys")
        return None
    return data, _Errors(path, lines, errors)


def _validate(model: type[M], data: Any, errors: _Errors, at: Loc = ()) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors.add_validation(exc, at)
        return None


def _lenient(model: type[M], data: Any) -> M | None:
    """A file whose schema failed, kept for the checks that do not depend on the bad fields, so
    one run reports every error: each field that validates on its own is kept, the rest get
    their defaults (the schema errors are already reported)."""
    if not isinstance(data, dict):
        return None
    kept: dict[str, Any] = {}
    for name, field_info in model.model_fields.items():
        if name not in data:
            if field_info.is_required():  # reported missing; a neutral value keeps it readable
                kept[name] = _neutral(field_info.annotation)
            continue
        try:
            model.__pydantic_validator__.validate_assignment(model.model_construct(), name, data[name])
            kept[name] = data[name]
        except (ValidationError, TypeError):
            if field_info.is_required():
                kept[name] = {} if isinstance(data[name], dict) else _neutral(field_info.annotation)
    try:
        return model.model_validate(kept)
    except ValidationError:
        return model.model_construct(**kept)


def _neutral(annotation: Any) -> Any:
    """An empty value of a field's type, for a field that failed (its error is reported)."""
    shown = str(annotation)
    return {} if "dict" in shown else () if "tuple" in shown else ""


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Any other YAML file the IVR reads (scenarios), validated with the same error format."""
    messages: list[str] = []
    read = _read(path, messages)
    result = _validate(model, *read) if read else None
    if result is None or messages:
        raise ConfigError(messages)
    return result


def _expand_days(spec: str) -> Iterator[int]:
    """'mon-fri' -> 0..4, 'sat' -> 5."""
    first, _, last = spec.partition("-")
    start = _weekday(first)
    end = _weekday(last) if last else start
    if end < start:
        raise ValueError(f"day range {spec!r} runs backwards")
    yield from range(start, end + 1)


def _resolve_weekly(name: str, schedule: Schedule, errors: _Errors) -> tuple[tuple[Interval, ...], ...]:
    days: list[tuple[Interval, ...] | None] = [None] * 7
    for spec, intervals in schedule.weekly.items():
        loc: Loc = ("schedules", name, "weekly", spec)
        try:
            numbers = list(_expand_days(spec))
        except ValueError as exc:
            errors.add(loc, str(exc))
            continue
        for day in numbers:
            if days[day] is not None:
                errors.add(loc, f"{WEEKDAYS[day]} is given hours twice")
            days[day] = intervals
    resolved = tuple(d or () for d in days)
    # An interval that runs past midnight must end before the next day's first one starts.
    for day, intervals in enumerate(resolved):
        following = resolved[(day + 1) % 7]
        if intervals and following and intervals[-1].end - 1440 > following[0].start:
            errors.add(
                ("schedules", name, "weekly"),
                f"{WEEKDAYS[day]} {intervals[-1]} overlaps {WEEKDAYS[(day + 1) % 7]} {following[0]}",
            )
    if not schedule.always_open and not any(resolved):
        errors.add(("schedules", name), "has no opening hours and is not always_open")
    return resolved


@dataclass(frozen=True)
class PromptRules:
    """What the flows say (`ivr.flows.PROMPT_KEYS`, derived from their source and menus), held
    against every catalogue: `names` each language must have, `families` of names built at
    call time (`emergency_` + a category: a key with the prefix is in use), `optional` families
    a language may leave out, the placeholder `values` each name is given wherever it is said
    (a prompt may use no other), those it `needs` (an option prompt says its `{key}`), and
    `where` a name is said (a typo is reported there)."""

    names: frozenset[str]
    families: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    needs: Mapping[str, frozenset[str]] = field(default_factory=dict)
    where: Mapping[str, str] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.names))

    def used(self, key: str) -> bool:
        return key in self.names or any(key.startswith(prefix) for prefix in self.families | self.optional)

    def required(self, key: str) -> bool:
        return self.used(key) and not any(key.startswith(prefix) for prefix in self.optional)


def _load_prompts(
    directory: Path,
    used: Mapping[str, Loc],
    defined: Iterable[str],
    r_err: _Errors | None,
    rules: PromptRules | None,
    messages: list[str],
    phrase_keys: frozenset[str] | None = None,
) -> dict[str, Catalogue]:
    """Every `prompts/<language>.yaml`, checked against what the flows say and against each
    other's placeholders. `used`: each language a region speaks, and where."""
    folder = directory / "prompts"
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    read: dict[str, tuple[PromptFile, _Errors]] = {}
    for path in files:
        found = _read(path, messages)
        if found is None:
            continue
        data, errors = found
        language = path.stem
        if language not in used:
            errors.add((), f"no region speaks {language!r}: remove the file or add the language to a region")
        parsed = _validate(PromptFile, data, errors)
        if parsed is not None:
            read[language] = (parsed, errors)
    for language, loc in used.items():
        if language in defined and not any(p.stem == language for p in files) and r_err is not None:
            r_err.add(loc, f"no prompt file {folder / (language + '.yaml')}")
    reference = "en-US" if "en-US" in read else next(iter(sorted(read)), None)
    everywhere = {key for parsed, _ in read.values() for key in parsed.prompts}
    if rules is None:  # nothing from the flows: every language must have what the others have
        rules = PromptRules(frozenset(everywhere))
    for name in sorted(rules.names - everywhere):
        if name in rules.where:  # in no language at all: a typo where the flow says it
            messages.append(f"{rules.where[name]}: {name}: no language has this prompt (a typo?)")
    wanted = {
        key
        for key in rules.names | everywhere
        if rules.required(key) and (key in everywhere or key not in rules.where)
    }
    for language, (parsed, errors) in read.items():
        if phrase_keys is not None:
            for name in sorted(phrase_keys - set(parsed.phrases)):
                errors.add(("phrases",), f"{name}: missing (what callers may say for it)")
            for name in sorted(set(parsed.phrases) - phrase_keys):
                errors.add(("phrases", name), "not a menu option or shared word (a typo, or left over)")
        for key in sorted(wanted - set(parsed.prompts)):
            errors.add(("prompts",), f"{key}: missing (every language needs every prompt)")
        for key, text in parsed.prompts.items():
            at: Loc = ("prompts", key)
            if not rules.used(key):
                errors.add(at, "not a prompt the IVR uses (a typo, or left over)")
                continue
            try:
                mine = placeholders(text)
            except ValueError as exc:
                errors.add(at, f"not a valid prompt template ({exc})")
                continue
            needed = rules.needs.get(key, frozenset())
            given = rules.values.get(key)
            if needed - mine:
                errors.add(at, f"must say {_names(needed - mine)}: the key is the menu's, not the wording's")
            elif given is not None and mine - given:
                errors.add(at, f"placeholders {_names(mine - given)} are never given (only {_names(given)})")
            elif reference and language != reference and key in read[reference][0].prompts:
                theirs = placeholders(read[reference][0].prompts[key])
                if mine != theirs:
                    errors.add(
                        at,
                        f"placeholders {_names(mine)} differ from {reference}'s {_names(theirs)}",
                    )
    return {
        language: Catalogue(
            language,
            dict(parsed.prompts),
            parsed.speaking,
            {name: tuple(said) for name, said in parsed.phrases.items()},
        )
        for language, (parsed, _) in read.items()
    }


def _names(names: Iterable[str]) -> str:
    return "{" + ", ".join(sorted(names)) + "}" if names else "none"


def load_config(
    directory: str | Path,
    prompt_keys: PromptRules | Iterable[str] | None = None,
    phrase_keys: Iterable[str] | None = None,
) -> Config:
    """Read `regions.yaml`, `hours.yaml` and `prompts/` from `directory`; raise ConfigError
    listing every problem. `prompt_keys`: what the flows say (`ivr.flows.PROMPT_KEYS`, or a plain
    set of names each catalogue must have); None checks the catalogues only against each other."""
    directory = Path(directory)
    messages: list[str] = []
    regions_read = _read(directory / "regions.yaml", messages)
    hours_read = _read(directory / "hours.yaml", messages)
    regions_file = hours_file = None
    if regions_read:
        regions_file = _validate(RegionsFile, *regions_read) or _lenient(RegionsFile, regions_read[0])
    if hours_read:
        hours_file = _validate(HoursFile, *hours_read) or _lenient(HoursFile, hours_read[0])
    if regions_file is None or hours_file is None or regions_read is None or hours_read is None:
        raise ConfigError(messages or ["config: could not be read"])

    r_err, h_err = regions_read[1], hours_read[1]
    schedules: dict[str, WeeklyHours] = {}
    for name, raw_schedule in hours_file.schedules.items():
        schedule = _validate(Schedule, raw_schedule, h_err, ("schedules", name))
        if schedule is None:
            continue
        follow = schedule.make_up_days_follow
        schedules[name] = WeeklyHours(
            name=name,
            always_open=schedule.always_open,
            days=_resolve_weekly(name, schedule, h_err),
            holidays=schedule.holidays,
            make_up_days_follow=WEEKDAYS.index(follow) if follow else None,
            closures=hours_file.closures.get(name, {}),
            special_hours=hours_file.special_hours.get(name, {}),
            close_weekends_in_breaks=schedule.close_weekends_in_breaks,
        )
    for section in ("closures", "special_hours"):
        for name in getattr(hours_file, section):
            if name not in hours_file.schedules:
                h_err.add((section, name), f"no schedule named {name!r} in schedules")

    regions: dict[str, Region] = {}
    owner: dict[str, str] = {}
    dialed: dict[str, str] = {}
    for code, raw_region in regions_file.regions.items():
        loc: Loc = ("regions", code)
        region = _validate(Region, {**raw_region, "code": code}, r_err, loc)
        if region is None:  # its other checks still run, so one pass reports every error
            region = _lenient(Region, {**raw_region, "code": code}) if isinstance(raw_region, dict) else None
            if region is None:
                continue
        else:
            regions[code] = region
        known = hours_file.schedules  # none at all is reported once, as missing
        if isinstance(region.hours, str) and region.hours and known and region.hours not in known:
            r_err.add((*loc, "hours"), f"no schedule named {region.hours!r} in hours.yaml")
        for i, language in enumerate(region.languages):
            if language not in regions_file.languages:
                r_err.add((*loc, "languages", i), f"language {language!r} is not defined under languages")
        for i, country in enumerate(region.countries):
            if country in owner:
                r_err.add((*loc, "countries", i), f"{country} is already claimed by region {owner[country]}")
            owner[country] = code
        for i, number in enumerate(region.numbers):
            if number in dialed:
                r_err.add((*loc, "numbers", i), f"{number} is already dialed for region {dialed[number]}")
            dialed[number] = code
    if regions_file.default_region and regions_file.default_region not in regions_file.regions:
        r_err.add(("default_region",), f"no region named {regions_file.default_region!r}")
    spoken: dict[str, Loc] = {}  # read from the raw regions, so one bad region cannot hide more
    for code, raw_region in regions_file.regions.items():
        languages = raw_region.get("languages") if isinstance(raw_region, dict) else None
        for i, language in enumerate(languages if isinstance(languages, list) else []):
            spoken.setdefault(str(language), ("regions", code, "languages", i))
    catalogues = _load_prompts(
        directory,
        spoken,
        set(regions_file.languages),
        r_err,
        prompt_keys if isinstance(prompt_keys, PromptRules | None) else PromptRules(frozenset(prompt_keys)),
        messages,
        frozenset(phrase_keys) if phrase_keys is not None else None,
    )
    for code, region in regions.items():  # a region's own wording: known prompts, same placeholders
        for language, wording in region.prompts.items():
            base = catalogues.get(language)
            for name, text in wording.items():
                at: Loc = ("regions", code, "prompts", language, name)
                if language not in region.languages or base is None:
                    r_err.add(at, f"the region does not speak {language!r}")
                elif name not in base.prompts:
                    r_err.add(at, "not a prompt the IVR uses")
                elif placeholders(text) != placeholders(base.prompts[name]):
                    r_err.add(
                        at,
                        f"placeholders differ from {language}'s {_names(placeholders(base.prompts[name]))}",
                    )
    if messages:
        raise ConfigError(messages)
    return Config(
        default_region=regions_file.default_region,
        fraud_desk=regions_file.fraud_desk,
        reset_url=regions_file.reset_url,
        voices=regions_file.languages,
        regions=regions,
        schedules=schedules,
        source=directory,
        prompts=catalogues,
        speech=regions_file.speech,
    )


def twilio_warnings(config: Config, texts_through_twilio: bool, sms_from: str | None) -> list[str]:
    """What a Twilio deployment lacks, as `file:line: key: problem` (`ivr check` warns): a
    region whose texts have no sender when they go through Twilio (errors 21606, 21661)."""
    path = config.source / "regions.yaml"
    _, lines = _compose(path)
    found = []
    for code, region in config.regions.items():
        if texts_through_twilio and not region.sms_from and not sms_from:
            found.append(
                f"{path}:{lines.get(('regions', code), 1)}: regions.{code}.sms_from: texts go through "
                "Twilio but this region has no SMS sender and IVR_SMS_FROM is unset: every text to its "
                "callers fails (Twilio errors 21606, 21661); set an SMS-capable number, an alphanumeric "
                "sender ID or a Messaging Service SID (MG...)"
            )
    return found
