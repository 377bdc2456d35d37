"""The contract every menu passes for free, as every country passes python-holidays'
`CommonTests`: run over whatever menus the flows declare (a new menu is tested by being
declared), in every language the config speaks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from twilio.twiml.voice_response import VoiceResponse

from ivr.config import load_config, placeholders
from ivr.flows import GRAPH, PHRASE_KEYS, PROMPT_KEYS, choose
from ivr.flows.call import Call
from ivr.flows.menu import Menu, shared_keys
from tests.conftest import SHIPPED_CONFIG, twilio_sid

CONFIG = load_config(SHIPPED_CONFIG, PROMPT_KEYS, PHRASE_KEYS)
MENUS = [GRAPH.menus[name] for name in sorted(GRAPH.menus)]
SINGLE_KEY = [menu for menu in MENUS if not menu.entry]
SPOKEN = [menu for menu in SINGLE_KEY if menu.speech == "options"]
LANGUAGES = sorted(CONFIG.prompts)
NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday: the global line is open
ids = [menu.name for menu in MENUS]


@dataclass
class Recording:
    """The flow graph with every step replaced by a note that it ran."""

    ran: list[str] = field(default_factory=list)

    @property
    def steps(self) -> Mapping[str, Callable[[Call], VoiceResponse]]:
        return {name: self._step(name) for name in GRAPH.steps}

    def _step(self, name: str) -> Callable[[Call], VoiceResponse]:
        def ran(call: Call) -> VoiceResponse:
            self.ran.append(name)
            return VoiceResponse()

        return ran


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from ivr import create_app

    folder = tmp_path_factory.mktemp("menus")
    app = create_app(
        {
            "TWILIO_AUTH_TOKEN": "t" * 32,
            "CONFIG_DIR": str(SHIPPED_CONFIG),
            "DATABASE_URL": f"sqlite:///{folder / 'ivr.sqlite3'}",
            "INSTANCE_DIR": str(folder / "instance"),
            "JOURNAL_BACKGROUND": False,
        }
    )
    yield app.extensions["ivr"]
    app.extensions["ivr"].store.dispose()


def region_speaking(language: str) -> Any:
    """A region whose callers may hear `language`, open at NOON when one is."""
    regions = [r for r in CONFIG.regions.values() if language in r.languages and r.numbers]
    return next((r for r in regions if r.code == "global"), regions[0])


def visit(runtime: Any, menu: Menu, language: str, **form: str) -> tuple[list[str], ET.Element, Call]:
    """One webhook to `menu` in `language`: the steps it ran and the TwiML it answered."""
    region = region_speaking(language)
    params = {
        "CallSid": twilio_sid("menus"),
        "From": "anonymous",  # routed by the number dialed
        "To": region.numbers[0],
        "lang": language,
        "_request": f"/voice/menu/{menu.name}",
        **form,
    }
    recording = Recording()
    call = replace(runtime.call(params, NOON), graph=recording)
    response = choose(call, menu)
    return recording.ran, ET.fromstring(str(response)), call


@pytest.mark.parametrize("menu", MENUS, ids=ids)
def test_every_option_is_reachable_by_its_key(runtime: Any, menu: Menu) -> None:
    for option in menu.options:
        ran, _, _ = visit(runtime, menu, LANGUAGES[0], Digits=option.key)
        assert ran == [option.target], f"key {option.key} of {menu.name}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("menu", SPOKEN, ids=[m.name for m in SPOKEN])
def test_every_option_is_reachable_by_its_first_phrase(runtime: Any, menu: Menu, language: str) -> None:
    for option in menu.options:
        if option.prompt is None:
            continue  # a key offered elsewhere is not offered by speech either
        phrase = CONFIG.prompts[language].phrases[option.target][0]
        ran, twiml, _ = visit(runtime, menu, language, Digits="", SpeechResult=phrase, Confidence="0.95")
        if option.irreversible:  # asked first, answered by "yes" or the key
            gather = twiml.find("Gather")
            assert ran == [] and gather is not None and f"confirm={option.key}" in gather.get("action", "")
        else:
            assert ran == [option.target], f"{phrase!r} in {menu.name} ({language})"


@pytest.mark.parametrize("menu", MENUS, ids=ids)
def test_every_prompt_is_in_every_language_with_the_same_placeholders(menu: Menu) -> None:
    for name in menu.prompt_keys():
        said = {language: CONFIG.prompts[language].prompts.get(name) for language in LANGUAGES}
        assert all(said.values()), f"{name} missing in {[k for k, v in said.items() if not v]}"
        shapes = {language: placeholders(text or "") for language, text in said.items()}
        assert len(set(shapes.values())) == 1, f"{name}: {shapes}"
    for option in menu.options:
        if option.prompt:
            assert all("{key}" in CONFIG.prompts[language].prompts[option.prompt] for language in LANGUAGES)


@pytest.mark.parametrize("menu", MENUS, ids=ids)
def test_no_option_takes_a_shared_key_unless_it_says_so(menu: Menu) -> None:
    shared = shared_keys(menu)
    assert not [o.key for o in menu.options if o.key in shared and not o.overrides]


@pytest.mark.parametrize("menu", MENUS, ids=ids)
def test_star_repeats_the_menu(runtime: Any, menu: Menu) -> None:
    ran, twiml, _ = visit(runtime, menu, LANGUAGES[0], Digits="*")
    gather = twiml.find("Gather")
    assert ran == [] and gather is not None
    assert gather.get("action", "").startswith(f"/voice/menu/{menu.name}?")


@pytest.mark.parametrize("menu", [m for m in MENUS if m.agent], ids=[m.name for m in MENUS if m.agent])
def test_zero_reaches_a_person(runtime: Any, menu: Menu) -> None:
    ran, _, call = visit(runtime, menu, LANGUAGES[0], Digits="0")
    assert call.status.open
    assert ran == [menu.agent_step]


@pytest.mark.parametrize("menu", SINGLE_KEY, ids=[m.name for m in SINGLE_KEY])
def test_eight_goes_back_to_the_main_menu(runtime: Any, menu: Menu) -> None:
    ran, _, _ = visit(runtime, menu, LANGUAGES[0], Digits="8")
    own = menu.target("8")
    assert ran == ([own] if own else [] if menu.name == "main" else ["main"])


@pytest.mark.parametrize("menu", [m for m in MENUS if m.language_switch])
def test_nine_switches_the_language(runtime: Any, menu: Menu) -> None:
    for language in LANGUAGES:
        region = region_speaking(language)
        if len(region.languages) < 2:
            continue
        ran, twiml, call = visit(runtime, menu, language, Digits="9")
        spoken = {say.get("language") for say in twiml.iter("Say")}
        assert ran == [] and call.language != language
        assert CONFIG.voices[call.language].say_language in spoken


def test_the_contract_covers_every_declared_menu() -> None:
    assert {menu.name for menu in MENUS} == set(GRAPH.menus) and len(MENUS) >= 19
    assert Path(SHIPPED_CONFIG).is_dir()
