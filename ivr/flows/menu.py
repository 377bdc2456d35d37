"""Menu mechanics in one place: prompt, keys during the prompt, retries, repeat, language, agent.

Each menu declares its options as data; the keys every menu shares (`0` an agent, `*`
repeat, `9` the next language where offered) are handled here, like a `*` source in a
state machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows.call import Call
from ivr.routing.regions import typed_number

Step = Callable[[Call], VoiceResponse]

MAX_MISSES = 3
GATHER_TIMEOUT = 6  # seconds of silence after the prompt before it counts as no input
ENTRY_TIMEOUT = 10  # typing a phone number or a code takes longer between keys

STEPS: dict[str, Step] = {}
MENUS: dict[str, Menu] = {}


def step(name: str, *, once: bool = False) -> Callable[[Step], Step]:
    """Register a flow step under `name` (reachable as /voice/step/<name>).

    `once`: the step has effects (a lock, a text, a case), so a webhook Twilio sends twice
    replays the first answer instead of acting again.
    """

    def register(function: Step) -> Step:
        if not once:
            STEPS[name] = function
            return function

        def idempotent(call: Call) -> VoiceResponse:
            # The keys pressed (a PIN, a code) are part of what makes a step the same step, but
            # are stored only as a keyed hash.
            typed = call.hotline.digest("step-keys", call.sid, call.digits)[:32]
            key = f"{name}|{call.params.get('_request', '')}|{typed}"
            return call.hotline.once(call.sid, key, lambda: function(call))

        STEPS[name] = idempotent
        return idempotent

    return register


@dataclass(frozen=True)
class Menu:
    """A keypad menu: what it says and which step each key leads to."""

    name: str
    prompts: tuple[str, ...]
    options: Mapping[str, str] = field(default_factory=dict)
    language_switch: bool = False
    agent: bool = True  # `0` reaches a person (offered aloud only when one can answer)
    agent_step: str = "agent"  # the regional agents; theft menus use the 24/7 fraud desk
    entry: str | None = None  # for typed numbers ending in '#': the step that takes them
    on_misses: str = "escalate"  # the step after MAX_MISSES misses in a row

    def register(self) -> Menu:
        MENUS[self.name] = self
        return self


def present(
    call: Call, menu: Menu, lead: tuple[str, ...] = (), miss: int = 0, notice: tuple[str, ...] = ()
) -> VoiceResponse:
    """Say `lead` then the menu inside a <Gather>, so a key press interrupts the prompt.

    `notice` is said after the menu's first prompt: the main menu offers theft lockdown before
    anything else, so a victim can press 3 within seconds.
    """
    response = VoiceResponse()
    keys: dict[str, object] = (
        {"finish_on_key": "#", "timeout": ENTRY_TIMEOUT}
        if menu.entry
        else {"num_digits": 1, "timeout": GATHER_TIMEOUT}
    )
    gather = response.gather(
        input="dtmf",
        action=call.url(f"/voice/menu/{menu.name}", miss=miss or None),
        action_on_empty_result=True,
        **keys,
    )
    first, *rest = (call.line(key) for key in menu.prompts)
    lines = [*lead, first, *notice, *rest]
    if menu.agent and (call.status.open or menu.agent_step != "agent"):
        lines.append(call.line("menu_agent"))
    call.say(gather, *lines)
    if menu.language_switch and len(call.region.languages) > 1:
        other = call.next_language()
        call.say(gather, call.line("switch_language", language=other), language=other)
    call.say(gather, call.line("menu_repeat"))
    return response


def choose(call: Call, menu: Menu) -> VoiceResponse:
    """Act on the key pressed in `menu` (Twilio posts an empty Digits on silence)."""
    digits, note = call.digits, call.hotline.choice
    if digits == "":
        note(call, menu.name, "silence")
        return retry(call, menu, "no_input")
    if digits == "*":
        note(call, menu.name, "repeat")
        return present(call, menu)
    if menu.entry and not (digits == "0" and menu.agent):
        note(call, menu.name, "typed")  # never the digits themselves
        return STEPS[menu.entry](call)
    if digits in menu.options:
        note(call, menu.name, menu.options[digits])
        return STEPS[menu.options[digits]](call)
    if digits == "0" and menu.agent:
        note(call, menu.name, "agent")
        return STEPS[menu.agent_step](call)
    if digits == "9" and menu.language_switch and len(call.region.languages) > 1:
        note(call, menu.name, "language")
        call.language = call.next_language()
        return present(call, menu)
    note(call, menu.name, "invalid")
    return retry(call, menu, "invalid_key")


def retry(call: Call, menu: Menu, reason: str) -> VoiceResponse:
    """Say what went wrong and ask again; after MAX_MISSES in a row, move the caller on."""
    misses = call.miss + 1
    if misses >= MAX_MISSES:
        return STEPS[menu.on_misses](call)
    return present(call, menu, lead=(call.line(reason),), miss=misses)


def take_number(call: Call, menu: Menu, remember_as: str, then: Step) -> VoiceResponse:
    """A registered number typed in `menu`: kept in the call's state, then `then`; else asked again."""
    phone = typed_number(call.digits, call.region.countries)
    if phone is None:
        return retry(call, menu, "bad_phone")
    call.remember(**{remember_as: phone})
    return then(call)
