"""Menu mechanics in one place: prompt, keys during the prompt, retries, repeat, language, agent.

Each menu declares its options as data (key, target step, prompt); the keys every menu
shares (`0` an agent, `*` repeat, `9` the next language where offered) are handled here,
like a `*` source in a state machine. The flow graph (`ivr.flows.graph`) checks that every
target, prompt and outcome exists before a server takes a call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows import prompts, speech
from ivr.flows.call import Call

Step = Callable[[Call], VoiceResponse]

MAIN = "main"  # the main menu's name and step: `8` from any other single-key menu
MAX_HINTS = 2000  # characters of <Gather hints>
MAX_MISSES = 3
GATHER_TIMEOUT = 6  # seconds of silence after the prompt before it counts as no input
ENTRY_TIMEOUT = 10  # typing a phone number or a code takes longer between keys


@dataclass(frozen=True)
class Option:
    """One key of a menu: the step it leads to, and the prompt that offers it ({key} in it)."""

    key: str
    target: str
    prompt: str | None  # None: a key that works but is offered elsewhere (a hint, a shortcut)
    irreversible: bool = False  # chosen by speech, it is confirmed first ("yes" or its key)
    # True: a key every menu shares (see `shared_keys`), done this menu's own way (the queue's
    # `8` leaves the queue first); any other option on a shared key is a graph error.
    overrides: bool = False


@dataclass(frozen=True)
class Menu:
    """A keypad menu: what it says and which step each key leads to."""

    name: str
    intro: tuple[str, ...] = ()  # prompts said before the options
    options: tuple[Option, ...] = ()
    language_switch: bool = False
    agent: bool = True  # `0` reaches a person (offered aloud only when one can answer)
    agent_step: str = "agent"  # the regional agents; theft menus use the 24/7 fraud desk
    entry: str | None = None  # for typed numbers ending in '#': the step that takes them
    on_misses: str = "escalate"  # the step after MAX_MISSES misses in a row
    timeout: int | None = None  # seconds of silence (default: GATHER_TIMEOUT, ENTRY_TIMEOUT)
    silence_retries: bool = True  # False: silence lets the TwiML go on (the queue's hold music)
    silence_prompt: str = "no_input"  # what silence is told ("I didn't get the code")
    retry_intro: tuple[str, ...] | None = None  # the intro when asking again after a miss
    offer_main: bool = False  # say that `8` goes back to the main menu (where it helps)
    status_notice: bool = False  # the main menu: whether agents are open, after its first line
    on_empty: str | None = None  # an entry menu where `#` alone means "none" (skip, not a miss)
    recap: Callable[[Call], tuple[str, ...]] | None = None  # said again on `*` (a result)
    # What the caller may say: "options" (an option, or a shared word), "digits" (a phone
    # number or a reference, spoken digit by digit), None (keypad only: PINs, codes, a queue).
    speech: str | None = "options"

    def target(self, key: str) -> str | None:
        return next((option.target for option in self.options if option.key == key), None)

    def prompt_keys(self) -> tuple[str, ...]:
        keys = (*self.intro, *(self.retry_intro or ()), self.silence_prompt)
        return (*keys, *(option.prompt for option in self.options if option.prompt))

    def targets(self) -> dict[str, str]:
        """Every step this menu can lead to, by what leads there."""
        found = {f"option {o.key}": o.target for o in self.options}
        found["on_misses"] = self.on_misses
        if self.entry:
            found["entry"] = self.entry
        if self.on_empty:
            found["on_empty"] = self.on_empty
        if self.name != MAIN and not self.entry:
            found["key 8"] = MAIN
        if self.agent:
            found["agent_step"] = self.agent_step
        return found


def shared_keys(menu: Menu) -> dict[str, str]:
    """The keys this menu shares with every other, and what each does (`_act` acts on them)."""
    keys = {"*": "repeat"}
    if menu.agent:
        keys["0"] = "an agent"
    if menu.name != MAIN and not menu.entry:
        keys["8"] = "back to the main menu"
    if menu.language_switch:
        keys["9"] = "the language switch"
    return keys


def option_lines(call: Call, menu: Menu, again: bool = False) -> list[str]:
    """The menu's own words: its intro, then each option with its key in the language's order."""
    catalogue = call.catalogue()
    intro = menu.retry_intro if again and menu.retry_intro is not None else menu.intro
    lines = [call.line(key) for key in intro]
    for option in menu.options:
        if option.prompt:  # a key offered elsewhere (a hint) is not read out with the menu
            lines.append(catalogue.text(option.prompt, key=prompts.spoken_key(catalogue, option.key)))
    return lines


def present(
    call: Call,
    menu: Menu,
    lead: tuple[str, ...] = (),
    miss: int = 0,
    notice: tuple[str, ...] = (),
    play: str | None = None,
    tail: tuple[str, ...] = (),
) -> VoiceResponse:
    """Say `lead` then the menu inside a <Gather>, so a key press interrupts the prompt.

    `notice` is said after the menu's first line: the main menu offers theft lockdown before
    anything else, so a victim can press 3 within seconds. `tail`: said after the options
    (a hint). `play`: audio after the words.
    """
    response = VoiceResponse()
    keys: dict[str, object] = (
        {"finish_on_key": "#", "timeout": menu.timeout or ENTRY_TIMEOUT}
        if menu.entry
        else {"num_digits": 1, "timeout": menu.timeout or GATHER_TIMEOUT}
    )
    gather = response.gather(
        action=call.url(f"/voice/menu/{menu.name}", miss=miss or None),
        action_on_empty_result=menu.silence_retries,
        **keys,
        **listening(call, menu),
    )
    if menu.status_notice and not notice:
        notice = tuple(call.status_lines())
    first, *rest = option_lines(call, menu, again=miss > 0)
    lines = [*lead, first, *notice, *rest]
    if menu.agent and (call.status.open or menu.agent_step != "agent"):
        lines.append(call.line("menu_agent", key="0"))
    if menu.offer_main:
        lines.append(call.line("menu_main", key="8"))
    lines += tail
    call.say(gather, *lines)
    if menu.language_switch and len(call.region.languages) > 1:
        other = call.next_language()
        call.say(gather, call.line("switch_language", other, key="9"), language=other)
    if menu.silence_retries:
        call.say(gather, call.line("menu_repeat", key=prompts.spoken_key(call.catalogue(), "*")))
    if play:
        gather.play(play)
    return response


def listening(call: Call, menu: Menu, words: Iterable[str] | None = None) -> dict[str, object]:
    """The <Gather> attributes for keys, or keys and speech in the call's language with the
    menu's phrases as hints (Twilio biases its recognition towards them)."""
    if menu.speech is None:
        return {"input": "dtmf"}
    catalogue = call.catalogue()
    if words is None:
        names = speech_options(menu).values() if menu.speech == "options" else ("press",)
        words = [phrase for name in names for phrase in catalogue.phrases.get(name, ())]
        if menu.speech == "digits":
            words = [*words, *(w for n in range(10) for w in catalogue.phrases.get(f"digit_{n}", ()))]
    speech = call.config.speech
    heard: dict[str, object] = {
        "input": "dtmf speech",
        "language": call.voice().speech_language,
        "hints": hints(words),
        "speech_timeout": speech.timeout,
    }
    if speech.model is not None:  # a model needs a timeout in seconds (config checks it: 13335)
        heard["speech_model"] = speech.model
    return heard


def hints(words: Iterable[str]) -> str:
    """<Gather hints>: each phrase once, as many whole phrases as Twilio takes (500 entries of
    at most 100 characters, https://www.twilio.com/docs/voice/twiml/gather#hints)."""
    kept = [word for word in dict.fromkeys(words) if len(word) <= 100][:500]
    text = ", ".join(kept)
    while len(text) > MAX_HINTS and kept:
        kept.pop()
        text = ", ".join(kept)
    return text


def speech_options(menu: Menu) -> dict[str, str]:
    """Key -> the phrase name that says it: the options, and the keys every menu shares. A
    person asked for when agents are away is `0` all the same: it leads to the callback offer."""
    names = {option.key: option.target for option in menu.options}
    if menu.agent:
        names.setdefault("0", "agent")
    names.setdefault("*", "repeat")
    if menu.name != MAIN and not menu.entry:
        names.setdefault("8", "main")
    return names


def needs_confirming(menu: Menu, heard: speech.Heard, confidence: float, threshold: float) -> bool:
    """Whether 'did you want ...?' comes first: an irreversible option always (speech alone
    never locks, cancels or disputes), a lone short word, or Twilio's confidence under the
    threshold."""
    option = next((o for o in menu.options if o.key == heard.key), None)
    return (option is not None and option.irreversible) or heard.weak or confidence < threshold


def leads_to_lockdown(menu: Menu, key: str) -> bool:
    """Whether `key` in `menu` opens the theft lockdown (the main and waiting menus' `3`)."""
    target = menu.target(key) or ""
    return target.rsplit(".", 1)[-1] == "lockdown"


def choose(call: Call, menu: Menu) -> VoiceResponse:
    """Act on the key pressed, or the words said, in `menu` (Twilio posts an empty Digits on
    silence, and SpeechResult when the caller spoke; what was said is never logged or kept)."""
    if call.params.get("confirm"):
        return confirmed(call, menu, call.params["confirm"])
    if call.digits == "" and call.speech and menu.speech == "options":
        return _heard_option(call, menu)
    if call.digits == "" and call.speech and menu.speech == "digits":
        number = speech.spoken_number(call.speech, call.catalogue())
        if number is None:
            call.services.events.speech(menu.name, call.language, "not_understood", "none", call.sid)
            return retry(call, menu, "speech_not_understood", example=_example(call, menu))
        call.services.events.speech(menu.name, call.language, "matched", "number", call.sid)
        call.typed = number
    return _act(call, menu, call.digits)


def _heard_option(call: Call, menu: Menu) -> VoiceResponse:
    """Words said in a single-key menu: an option, confirmed when unsure or irreversible."""
    others = {
        language: call.catalogue(language) for language in call.region.languages if language != call.language
    }
    heard = speech.match(call.speech, call.catalogue(), speech_options(menu), others)
    if heard.tie:  # never the first of them: the caller says which
        call.services.events.speech(menu.name, call.language, "confirm", heard.why(), call.sid)
        return ask_which(call, menu, heard.tied[0], heard.tied[1])
    if heard.key is None:  # nothing, a negated mention, background speech: ask again
        call.services.events.speech(menu.name, call.language, "not_understood", heard.why(), call.sid)
        call.choice(menu.name, "not-understood")
        return retry(call, menu, "speech_not_understood", example=_example(call, menu))
    if heard.key == "9" and heard.language and menu.language_switch:
        call.services.events.speech(menu.name, call.language, "matched", heard.why(), call.sid)
        call.choice(menu.name, "language")
        call.switch_language(heard.language)
        return present(call, menu)
    if needs_confirming(menu, heard, call.confidence, call.config.speech.confidence):
        call.services.events.speech(menu.name, call.language, "confirm", heard.why(), call.sid)
        return ask_to_confirm(call, menu, heard.key)
    call.services.events.speech(menu.name, call.language, "matched", heard.why(), call.sid)
    return _act(call, menu, heard.key)


def ask_to_confirm(call: Call, menu: Menu, key: str) -> VoiceResponse:
    """'Did you want to lock your wallet? Say yes or press 1.' The answer comes back to the
    menu with `confirm` (signed in the URL), so nothing acts on speech alone."""
    name = speech_options(menu).get(key, "repeat")
    label = next(iter(call.catalogue().phrases.get(name, ())), key)
    response = VoiceResponse()
    catalogue = call.catalogue()
    words = [*catalogue.phrases.get("yes", ()), *catalogue.phrases.get("no", ())]
    gather = response.gather(
        action=call.url(f"/voice/menu/{menu.name}", confirm=key),
        action_on_empty_result=True,
        num_digits=1,
        timeout=GATHER_TIMEOUT,
        **listening(call, menu, words),
    )
    call.say(gather, call.line("speech_confirm", option=label))
    return response


def ask_which(call: Call, menu: Menu, first: str, second: str) -> VoiceResponse:
    """'Which did you mean, A or B?': two options matched equally well; the answer (said or
    pressed) comes back to the menu as any other choice."""
    catalogue = call.catalogue()
    names = speech_options(menu)
    labels = [next(iter(catalogue.phrases.get(names[key], ())), key) for key in (first, second)]
    response = VoiceResponse()
    gather = response.gather(
        action=call.url(f"/voice/menu/{menu.name}", miss=call.miss or None),
        action_on_empty_result=True,
        num_digits=1,
        timeout=GATHER_TIMEOUT,
        **listening(call, menu),
    )
    line = call.line(
        "speech_which",
        first=labels[0],
        second=labels[1],
        first_key=prompts.spoken_key(catalogue, first),
        second_key=prompts.spoken_key(catalogue, second),
    )
    call.say(gather, line)
    return response


def confirmed(call: Call, menu: Menu, key: str) -> VoiceResponse:
    """The answer to 'did you want ...?': only a clear yes (or 1) acts; a no, a doubt, an
    apology, anything unclear, or a yes Twilio's confidence doubts, hears the menu again."""
    # Twilio posts SpeechResult with Confidence, "between 0.0 and 1.0": a yes it doubts is no
    # clear yes (https://www.twilio.com/docs/voice/twiml/gather#speechresult).
    answer = {"1": "yes", "2": "no"}.get(call.digits)
    why = "key"
    if answer is None and call.speech:
        answer = speech.yes_or_no(call.speech, call.catalogue())
        why = answer or "unclear"
        if answer == "yes" and call.confidence < call.config.speech.confidence:
            answer, why = None, "doubted"
    if answer == "yes":
        call.services.events.speech(menu.name, call.language, "confirmed", why, call.sid)
        return _act(call, menu, key)
    call.services.events.speech(menu.name, call.language, "declined", why, call.sid)
    return present(call, menu)


def _example(call: Call, menu: Menu) -> str:
    """Something the caller could say here: the first option's first phrase."""
    for name in speech_options(menu).values():
        found = call.catalogue().phrases.get(name)
        if found:
            return found[0]
    return ""


def _act(call: Call, menu: Menu, digits: str) -> VoiceResponse:
    """Act on a key, pressed or said."""
    steps = call.graph.steps
    if digits == "" and menu.on_empty:
        call.choice(menu.name, "none")
        return steps[menu.on_empty](call)
    if digits == "":
        call.choice(menu.name, "silence")
        return retry(call, menu, menu.silence_prompt)
    if digits == "*":
        call.choice(menu.name, "repeat")
        return present(call, menu, lead=menu.recap(call) if menu.recap else ())
    target = menu.target(digits)  # an entry menu's option is one key alone (a code is six)
    if menu.entry and target is None and not (digits == "0" and menu.agent):
        call.choice(menu.name, "typed")  # never the digits themselves
        return steps[menu.entry](call)
    if target is not None:
        call.choice(menu.name, target)
        return steps[target](call)
    if digits == "0" and menu.agent:
        call.choice(menu.name, "agent")
        return steps[menu.agent_step](call)
    if digits == "8" and menu.name != MAIN and not menu.entry:
        call.choice(menu.name, "main")
        return steps[MAIN](call)
    if digits == "9" and menu.language_switch and len(call.region.languages) > 1:
        call.choice(menu.name, "language")
        call.switch_language(call.next_language())
        return present(call, menu)
    call.choice(menu.name, "invalid")
    return retry(call, menu, "invalid_key")


def retry(call: Call, menu: Menu, reason: str, **values: str) -> VoiceResponse:
    """Say what went wrong and ask again; after MAX_MISSES in a row, move the caller on (the
    step there can read `call.last_miss` to say the right thing)."""
    misses = call.miss + 1
    if misses >= MAX_MISSES:
        call.last_miss = reason
        return call.graph.steps[menu.on_misses](call)
    return present(call, menu, lead=(call.line(reason, **values),), miss=misses)
