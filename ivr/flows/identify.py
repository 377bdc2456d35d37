"""The one sub-flow "type a phone number, then #": the registered number that identifies a
wallet (lockdown, recovery, transactions) or the number for a callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from ivr.config import Config
from ivr.flows.call import Call
from ivr.flows.menu import Menu, present, retry
from ivr.routing.regions import typed_number

Then = Callable[[Call, str], VoiceResponse]
Rule = Callable[[Config, str], bool]


@dataclass(frozen=True)
class NumberEntry:
    """A menu that takes a typed number (with its country code, or national in the region's
    countries), checks it, and hands it to `then`; a bad one is asked for again."""

    menu: Menu
    then: Then
    rule: Rule | None = None  # a further check (callbacks: a number we may dial)
    refused: str = "bad_phone"  # the prompt when `rule` says no

    def ask(self, call: Call, *lead: str) -> VoiceResponse:
        return present(call, self.menu, lead=lead)

    def entered(self, call: Call) -> VoiceResponse:
        number = typed_number(call.digits, call.region.countries, call.catalogue().speaking.national_mobiles)
        if number is None:
            return retry(call, self.menu, "bad_phone")
        if self.rule is not None and not self.rule(call.config, number):
            return retry(call, self.menu, self.refused)
        return self.then(call, number)

    @property
    def steps(self) -> dict[str, Callable[[Call], VoiceResponse]]:
        assert self.menu.entry is not None
        return {self.menu.entry: self.entered}


def number_entry(
    name: str,
    then: Then,
    *,
    prompt: str = "enter_phone",
    rule: Rule | None = None,
    refused: str = "bad_phone",
    **menu: object,
) -> NumberEntry:
    """The number-entry menu `name` (its entry step is `<name>-entered`)."""
    menu.setdefault("silence_prompt", "number_not_heard")  # silence while typing: no number came
    return NumberEntry(
        Menu(name=name, intro=(prompt,), entry=f"{name}-entered", speech="digits", **menu),  # type: ignore[arg-type]
        then,
        rule,
        refused,
    )
