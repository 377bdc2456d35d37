"""Fixtures: an app per test on a fresh SQLite store, a Twilio-signing phone, a fixed clock."""

from __future__ import annotations

import hashlib
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.twiml_rules import assert_document, context_key, links

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = ROOT / "config"
TOKEN = "test-auth-token"
# Why the PostgreSQL tests skip, and how to run them (.ci/run does).
POSTGRES_SKIP = (
    "PostgreSQL: set IVR_TEST_POSTGRES_URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BASE = "http://localhost"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: str = "2026-11-23T12:00:00+08:00") -> None:
        self.at = datetime.fromisoformat(at)

    def set(self, at: str) -> None:
        self.at = datetime.fromisoformat(at)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped config, safe to edit."""
    target = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, target)
    return target


@pytest.fixture
def app_factory(tmp_path: Path, clock: Clock, config_dir: Path) -> Callable[..., Flask]:
    def make(**overrides: Any) -> Flask:
        settings = {
            "TWILIO_AUTH_TOKEN": TOKEN,
            "CONFIG_DIR": str(config_dir),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'ivr.sqlite3'}",
            "CLOCK": clock,
            "PUBLIC_URL": None,
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "JOURNAL_BACKGROUND": False,
        }
        settings.update(overrides)
        return create_app(settings)

    return make


def internal_errors(app: Flask) -> float:
    """How often the apology path ran for an unexpected failure (ivr_errors, webhook and store)."""
    registry = app.extensions["ivr.metrics"].registry
    return sum(
        registry.get_sample_value("ivr_errors_total", {"kind": kind}) or 0.0 for kind in ("webhook", "store")
    )


FAULTS_EXPECTED = [False]  # set for the duration of a test marked `faults`


@pytest.fixture(autouse=True)
def _faults_marker(request: pytest.FixtureRequest) -> Iterator[None]:
    FAULTS_EXPECTED[0] = request.node.get_closest_marker("faults") is not None
    yield
    FAULTS_EXPECTED[0] = False


@pytest.fixture
def app(app_factory: Callable[..., Flask], request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app on a fresh store. A test fails if the apology path ran (the apology is a 200, so
    only this counter sees a crash) unless it is marked `faults` (it breaks something on purpose)."""
    application = app_factory()
    hotline = application.extensions["ivr"]
    yield application
    hotline.store.dispose()
    if request.node.get_closest_marker("faults") is None:
        assert internal_errors(application) == 0, "a webhook answered with the apology: an internal error"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


def sign(url: str, form: dict[str, str], token: str = TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, form))


@dataclass
class Twiml:
    """A parsed TwiML answer with the questions tests ask of it."""

    root: ET.Element
    raw: str
    base: str = BASE  # the URL every link is under (IVR_PUBLIC_URL): links are read without it

    def short(self, url: str | None) -> str | None:
        """`url` without the base it is under: `/voice/menu/main?...`, as tests compare it."""
        prefix = self.base.rstrip("/")
        return url[len(prefix) :] if url and url.startswith(prefix + "/") else url

    def all(self, tag: str) -> list[ET.Element]:
        return list(self.root.iter(tag))

    def first(self, tag: str) -> ET.Element:
        found = self.root.find(f".//{tag}")
        assert found is not None, f"no <{tag}> in {self.raw}"
        return found

    @property
    def text(self) -> str:
        return " ".join((say.text or "") for say in self.root.iter("Say"))

    @property
    def languages(self) -> list[str]:
        return [say.get("language", "") for say in self.root.iter("Say")]

    @property
    def dialed(self) -> list[str]:
        return [(n.text or "").strip() for d in self.root.iter("Dial") for n in d.iter("Number")] + [
            (d.text or "").strip() for d in self.root.iter("Dial") if (d.text or "").strip()
        ]

    @property
    def gather_action(self) -> str:
        return self.short(self.first("Gather").get("action", "")) or ""

    @property
    def next_url(self) -> str | None:
        """Where Twilio goes next: the Gather action, else a Redirect, else a Dial action. A
        <Gather> that goes on to the next verb on silence (no actionOnEmptyResult) is skipped:
        following without keys is that silence."""
        return self.short(self.next_link)

    @property
    def next_link(self) -> str | None:
        """`next_url` as the document has it."""
        for tag in ("Gather", "Redirect", "Dial", "Enqueue", "Record"):
            element = self.root.find(f".//{tag}")
            if element is None or (tag == "Gather" and element.get("actionOnEmptyResult") != "true"):
                continue
            if tag == "Redirect":
                return (element.text or "").strip()
            if element.get("action"):
                return element.get("action")
        return None


def twilio_sid(label: str) -> str:
    """A CallSid in Twilio's format ("CA" and 32 hex digits) named after `label`; a label that
    already is one is kept."""
    if re.fullmatch(r"CA[0-9a-fA-F]{32}", label):
        return label
    return "CA" + hashlib.md5(label.encode()).hexdigest()


@dataclass
class Phone:
    """A caller as Twilio presents them: signed webhooks that follow the TwiML."""

    client: FlaskClient
    caller: str = "+8613800138000"
    dialed: str = "+864001234567"
    sid: str = "CA00000000000000000000000000000001"
    token: str = TOKEN
    base: str = BASE
    last: Twiml | None = None
    history: list[Twiml] = field(default_factory=list)
    faults: bool = False  # the test breaks something on purpose: the apology may be heard
    sent: tuple[str, dict[str, str]] | None = None  # the last webhook: path and extra fields
    contexts: dict[str, str] = field(default_factory=dict)  # URL -> "wait" / "whisper" (strict check)

    def __post_init__(self) -> None:
        self.sid = twilio_sid(self.sid)

    def post(self, path: str, signed: bool = True, **extra: str) -> Any:
        form = {
            "CallSid": self.sid,
            "From": self.caller,
            "To": self.dialed,
            "AccountSid": "AC" + "0" * 32,
            "Direction": "inbound",
            **extra,
        }
        url = urljoin(self.base + "/", path.lstrip("/"))
        headers = {"X-Twilio-Signature": sign(url, form, self.token)} if signed else {}
        return self.client.post(path, data=form, headers=headers, base_url=self.base)

    def retry(self) -> Twiml:
        """Twilio sending the last webhook again: the same URL and the same fields."""
        assert self.sent is not None
        path, extra = self.sent
        return self.twiml(path, **extra)

    def path_of(self, url: str) -> str:
        """The path to post for `url` as Twilio resolves it (against the last document's URL);
        it must lie under the phone's base URL, prefix included."""
        here = self.sent[0] if self.sent else "/voice"
        absolute = urljoin(urljoin(self.base + "/", here.lstrip("/")), url)
        assert absolute.startswith(self.base + "/"), f"{url} resolves to {absolute}, outside {self.base}"
        return absolute[len(self.base) :]

    def twiml(self, path: str, **extra: str) -> Twiml:
        """Post a webhook; its answer is held to Twilio's documented rules (ivr.twiml_rules)."""
        if "://" in path:
            path = self.path_of(path)
        self.sent = (path, extra)
        response = self.post(path, **extra)
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/xml"
        body = response.get_data(as_text=True)
        if not (self.faults or FAULTS_EXPECTED[0]):
            assert internal_errors(self.client.application) == 0, f"the apology path ran: {body}"
        url = urljoin(self.base + "/", path.lstrip("/"))
        context = self.contexts.get(context_key(url), "call")
        root = ET.fromstring(body)
        assert_document(root, url, base=self.base, context=context)
        self.contexts.update(links(root, url, context))
        self.last = Twiml(root, body, self.base)
        self.history.append(self.last)
        return self.last

    def call(self) -> Twiml:
        return self.twiml("/voice")

    def press(self, digits: str, **extra: str) -> Twiml:
        """Answer the current Gather (an empty string is silence)."""
        assert self.last is not None
        return self.twiml(self.path_of(self.last.first("Gather").get("action", "")), Digits=digits, **extra)

    def follow(self, **extra: str) -> Twiml:
        """Follow a Redirect or an action without keys."""
        assert self.last is not None and self.last.next_link
        return self.twiml(self.path_of(self.last.next_link), **extra)

    def keys(self, *presses: str) -> Twiml:
        self.call()
        for digits in presses:
            while self.last is not None and self.last.root.find(".//Gather") is None:
                self.follow()
            self.press(digits)
        return self.last  # type: ignore[return-value]


@pytest.fixture
def phone(client: FlaskClient) -> Phone:
    return Phone(client)


@pytest.fixture
def hotline(app: Flask) -> Any:
    return app.extensions["ivr"]


def stored_cases(hotline: Any, kind: str | None = None) -> list[dict[str, Any]]:
    from ivr.store.cases import list_cases

    with hotline.store.begin() as connection:
        return list_cases(connection, kind)
