"""One webhook's view of a call: where it is routed, whether agents are open, what to say, and
the few services a step may use (wallet, cases, texts, limits, codes, the call's state)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

from babel import Locale
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse

from ivr.config import Catalogue, Config, Region, Voice
from ivr.flows import prompts
from ivr.keypad import count
from ivr.routing.hours import Status
from ivr.routing.regions import Route, own_number, route_call
from ivr.services import Services
from ivr.wallet import Account, Wallet, WalletError

# Query parameters a flow carries from step to step (the signature covers them, so callers
# cannot forge them). Everything else about the call is recomputed from Twilio's fields.
CARRIED = ("lang", "theft")
# A catalogue may name another language its own way ("language_zh-HK: Cantonese"); without
# one, Babel's name for the language in the catalogue's locale: a new language needs no line
# in every other catalogue.
LANGUAGE_NAME = "language_"
CONFIDENCE = re.compile(r"0(\.[0-9]{1,8})?|1(\.0{1,8})?")


class Steps(Protocol):
    """What a call follows from one step to the next (the flow graph, `ivr.flows.graph.Graph`:
    named here by what it offers, so this module imports none of the modules built on it)."""

    @property
    def steps(self) -> Mapping[str, Callable[[Call], VoiceResponse]]: ...


@dataclass
class Call:
    """Everything a flow step needs, and nothing from the web framework or the runtime."""

    services: Services
    graph: Steps  # every step, to follow an option or a miss
    config: Config
    route: Route
    status: Status
    language: str
    now: datetime  # the webhook's instant, taken once in the web layer
    sid: str
    params: Mapping[str, str]
    carried: dict[str, str] = field(default_factory=dict)
    last_miss: str | None = None  # why the menu just gave up on the caller (a menu's on_misses)
    typed: str | None = None  # digits the caller said rather than typed (a spoken number)
    _state: dict[str, Any] | None = None

    # --- services ---------------------------------------------------------------------------

    @property
    def wallet(self) -> Wallet:
        return self.services.wallet  # type: ignore[no-any-return]

    @property
    def state(self) -> dict[str, Any]:
        """What this call has proved and chosen so far, kept in the store."""
        if self._state is None:
            self._state = self.services.states.load(self.sid) if self.sid else {}
        return self._state

    def remember(self, **values: Any) -> bool:
        """Keep `values` for the call's next steps; False when the call has ended meanwhile."""
        self.state.update(values)
        return not self.sid or self.services.states.save(self.sid, self.state, self.now)

    def choice(self, menu: str, choice: str) -> None:
        """A key (or phrase) chosen in `menu`, as a category: never the digits themselves."""
        self.services.events.choice(self.sid, menu, choice)

    def outcome(self, outcome: str) -> None:
        """How the call went (one of the outcomes its flow declares)."""
        self.services.events.outcome(self.sid, self.region.code, outcome)

    def open_case(self, kind: str, *, status: str = "open", **fields: Any) -> str:
        """Store a case for this call (its region, language, time and theft mark); its reference."""
        fields.setdefault("priority", self.theft)
        return self.services.cases.open(
            kind=kind,
            region=self.region.code,
            language=self.language,
            status=status,
            now=self.now,
            call_sid=self.sid,
            **fields,
        )

    def claim_text(self, kind: str, account: Account | None, phone: str | None) -> bool:
        """Count one text of `kind` to `account` against its hourly cap; True when it may go.

        With no account, the same claim is made against the number's hash and nothing is
        sent: the webhook does the same work either way, so its timing tells no one whether the
        number is registered.
        """
        claimed = self.services.limits.claim(kind, self.limit_subject(account, phone), self.now)
        return account is not None and claimed is not None

    def limit_subject(self, account: Account | None, phone: str | None) -> str:
        """Whom an attempt limit counts: the account, or (none registered) the number's hash."""
        if account is not None:
            return account.account
        return "unregistered:" + self.services.digest("phone", phone or "")[:24]

    def text_account(
        self,
        account: Account,
        prompt: str,
        values: Mapping[str, str] | None = None,
        *,
        secrets: tuple[str, ...] = (),
        lifetime: timedelta = timedelta(hours=24),
        opens_wallet: bool = False,
    ) -> None:
        """Text the phone registered on `account` (never a number the caller typed), in its
        reader's language: the caller's choice when it is the phone they call from, else the
        first language of the region that phone belongs to; every text names the number to call
        in that region. `opens_wallet` (a username, a reset link, a code): never while the
        wallet is locked, since whoever holds a stolen phone would read it."""
        if opens_wallet and account.locked:
            return
        home = route_call(self.config, account.phone, None).region
        own_phone = account.phone == self.route.caller and home.code == self.region.code
        language = self.language if own_phone else home.languages[0]
        number = home.numbers[0] if home.numbers else home.hotline
        body = self.line(prompt, language, number=number, **(values or {}))
        self.services.texts.send_to_account(
            account, body, self.now, secrets=secrets, sender=home.sms_from, lifetime=lifetime
        )

    def text_caller(self, kind: str, prompt: str, **values: str) -> None:
        """Text the calling number, only if an account is registered to it (within the cap of
        `kind`); the caller hears the same words either way, so say "if it is registered"."""
        phone = self.route.caller
        try:
            account = self.wallet.find_by_phone(phone) if phone else None
        except WalletError:
            account = None
        if self.claim_text(kind, account, phone) and account is not None:
            self.text_account(account, prompt, values)

    # --- the call ---------------------------------------------------------------------------

    @property
    def account_phone(self) -> str | None:
        """The number that identifies the caller's account: one they typed, else the calling number."""
        return self.state.get("phone") or self.route.caller

    @property
    def caller_id(self) -> str:
        """Every <Dial>'s callerId: the caller's number when valid E.164, else the region's own
        number; a withheld or invalid ID passed through gets the leg rejected (error 13214,
        https://www.twilio.com/docs/api/errors/13214)."""
        return self.route.caller or own_number(self.config, self.region, self.params.get("To"))

    @property
    def theft(self) -> bool:
        return self.carried.get("theft") == "1"

    @property
    def region(self) -> Region:
        return self.route.region

    @property
    def digits(self) -> str:
        if self.typed is not None:
            return self.typed
        return self.params.get("Digits", "").strip()

    @property
    def speech(self) -> str:
        """What the caller said (Twilio's SpeechResult): matched, then forgotten, never kept."""
        return self.params.get("SpeechResult", "").strip()

    @property
    def confidence(self) -> float:
        """Twilio's confidence in `speech`, 0 to 1 (0 when missing or malformed)."""
        raw = self.params.get("Confidence", "")
        return float(raw) if CONFIDENCE.fullmatch(raw) else 0.0

    @property
    def miss(self) -> int:
        """Consecutive misses (no input or a wrong key) in the current menu."""
        return min(count(self.params.get("miss"), default=0) or 0, 9)

    @property
    def sequence(self) -> int:
        """This webhook's place in the call: every action URL we hand Twilio carries the next
        one (`n`), so a retry of one webhook (same URL, same keys) replays its answer while a
        second action later in the call (a second cancel) is a new webhook that acts."""
        return count(self.params.get("n"), default=0) or 0

    def url(self, path: str, **query: Any) -> str:
        """An action URL that keeps the call's language and carried flags, on the base URL
        Twilio calls (IVR_PUBLIC_URL, its path included): a root-relative `/voice/...` would
        drop a prefix such as `https://host/ivr`, since Twilio resolves a relative URL against
        the document's own URL (https://www.twilio.com/docs/voice/twiml/gather#action)."""
        values = {"lang": self.language, **self.carried, "n": str(self.sequence + 1)}
        values.update({k: str(v) for k, v in query.items() if v is not None})
        return f"{self.params.get('_base', '')}{path}?{urlencode(values)}"

    def switch_language(self, language: str) -> None:
        """The caller chose `language`: every later prompt, text and the call's record use it."""
        self.language = language
        self.services.events.language(self.sid, language)

    def next_language(self) -> str:
        languages = self.region.languages
        index = languages.index(self.language) if self.language in languages else 0
        return languages[(index + 1) % len(languages)]

    # --- what the caller hears --------------------------------------------------------------

    def catalogue(self, language: str | None = None) -> Catalogue:
        return self.config.catalogue(self.region, language or self.language)

    def voice(self, language: str | None = None) -> Voice:
        return self.config.voices[language or self.language]

    def line(self, name: str, language: str | None = None, **values: str) -> str:
        """The prompt `name` in the call's language (or `language`), placeholders filled."""
        return self.catalogue(language).text(name, **values)

    def language_name(self, language: str, said_in: str) -> str:
        """`language` as a speaker of `said_in` names it: "Cantonese", "粤语", "French"."""
        own = self.catalogue(said_in).prompts.get(LANGUAGE_NAME + language)
        if own:
            return own
        locale = Locale.parse(self.catalogue(said_in).speaking.locale)
        return Locale.parse(self.catalogue(language).speaking.locale).get_language_name(locale) or language

    def say(self, node: TwiML, *lines: str, language: str | None = None) -> None:
        """Speak `lines` (already in `language`) with that language's voice."""
        voice = self.voice(language)
        node.say(prompts.join(lines), language=voice.say_language, voice=voice.voice)

    def when(self, moment: datetime) -> str:
        return prompts.spoken_when(self.catalogue(), moment.astimezone(self.region.zone), self.now)

    def status_lines(self) -> list[str]:
        """What to say about the agents' hours right now."""
        status = self.status
        if status.open:
            return [self.line("open_now")]
        if status.reason == "emergency":
            why = self.line(f"emergency_{status.category}")
            if status.next_open is not None:
                return [self.line("closed_emergency_until", why=why, when=self.when(status.next_open))]
            return [self.line("closed_emergency", why=why)]
        if status.next_open is None:
            return [self.line("agents_closed_no_time")]
        key = {"holiday": "closed_holiday", "closure": "closed_closure"}.get(status.reason, "closed_now")
        return [self.line(key, when=self.when(status.next_open))]
