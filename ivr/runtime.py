"""The composition root: builds the config source, store, wallet, texts and the call journal
once, and hands each webhook's `Call` only the services it names (`ivr.services`).

The web layer and the CLI both start here (`build_runtime`); flows never see this object.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import phonenumbers
from sqlalchemy.engine import Connection

from ivr.agentline import AgentLine
from ivr.config import Config, ConfigError, Region, load_config
from ivr.flows import GRAPH, PHRASE_KEYS, PROMPT_KEYS
from ivr.flows.call import CARRIED, Call
from ivr.keypad import count
from ivr.routing.hours import Emergency, Status, status_at
from ivr.routing.regions import Route, mask, route_call
from ivr.services import CallStates, Cases, Codes, Digest, Limits, Services
from ivr.settings import Settings, StartupError
from ivr.sms import SmsSender
from ivr.store import Store, closures, steps
from ivr.store.calls import Journal, call_record, end_call
from ivr.wallet import Wallet

log = logging.getLogger("ivr")

Clock = Callable[[], datetime]
CONFIG_FILES = ("regions.yaml", "hours.yaml")
# One overall deadline on each request to Twilio's REST API (ivr.twilio_api): a webhook's
# (the agents' leg, moving a call) keeps the caller's answer well inside Twilio's 15 s; the
# outbox sender, off every webhook's path, may wait longer for a slow reply.
WEBHOOK_API_SECONDS = 1.5
SENDER_API_SECONDS = 10.0
CLOSURE_TTL = 1.0  # seconds a server trusts its last read of the emergency closures


def system_clock() -> datetime:
    return datetime.now(UTC)


def rehearsal_clock(value: str) -> Clock:
    """IVR_CLOCK: a staging server that answers every call as if at that instant (rehearsals)."""
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise StartupError(f"IVR_CLOCK={value!r} is not an ISO-8601 instant") from None
    if instant.tzinfo is None:
        raise StartupError(f"IVR_CLOCK={value!r} needs its UTC offset")
    log.warning("IVR_CLOCK is set: every call is answered as if at %s", instant.isoformat())
    return lambda: instant


@dataclass(frozen=True)
class RouteAnswer:
    """`ivr route`'s answer: the contract's JSON fields."""

    route: Route
    status: Status
    language: str

    def as_json(self) -> dict[str, Any]:
        return {
            "region": self.route.region.code,
            "matched_by": self.route.matched_by,
            "open": self.status.open,
            "reason": self.status.reason,
            "detail": self.status.detail,
            "next_open": self.status.next_open.isoformat() if self.status.next_open else None,
            "hotline": self.route.region.hotline,
            "queue": self.route.region.queue,
            "language": self.language,
        }


class ConfigSource:
    """The config in force, reloaded when its files change or on SIGHUP; an invalid edit never
    replaces a good config, and the last good one is kept for workers started later."""

    def __init__(self, directory: Path, snapshot_dir: Path | None) -> None:
        self.directory = directory
        self.snapshot_dir = snapshot_dir
        self.config: Config = load_config(directory, PROMPT_KEYS, PHRASE_KEYS)
        self._stamp = self._read_stamp()
        self._checked_at = time.monotonic()
        self._reload_requested = False
        self._lock = threading.Lock()
        self.on_reload: list[Callable[[], None]] = []
        self._save_snapshot()

    def _read_stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for name in CONFIG_FILES:
            try:
                info = (self.directory / name).stat()
                stamps.append((info.st_mtime_ns, info.st_size))
            except OSError:
                stamps.append((0, 0))
        prompts = self.directory / "prompts"
        if prompts.is_dir():
            for path in sorted(prompts.glob("*.yaml")):
                info = path.stat()
                stamps.append((info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    def request_reload(self) -> None:
        """SIGHUP: re-read the config at the next webhook."""
        self._reload_requested = True

    def refresh(self, every: float = 1.0) -> bool:
        """Reload the config if its files changed (checked at most every `every` seconds)."""
        now = time.monotonic()
        if not self._reload_requested and now - self._checked_at < every:
            return False
        if not self._lock.acquire(blocking=False):
            return False  # another thread is reading it; this webhook keeps the config it has
        try:
            self._checked_at = now
            stamp = self._read_stamp()
            if stamp == self._stamp and not self._reload_requested:
                return False
            self._reload_requested, self._stamp = False, stamp
            try:
                config = load_config(self.directory, PROMPT_KEYS, PHRASE_KEYS)
            except ConfigError as exc:
                log.error(
                    "config edit refused, the last good config keeps serving:\n%s", "\n".join(exc.errors)
                )
                return False
            except Exception as exc:  # a bug in a check must not end reloading for good
                log.error("config edit refused (%s), the last good config keeps serving", type(exc).__name__)
                return False
            self.config = config  # swapped in whole
            for hook in self.on_reload:
                hook()
            self._save_snapshot()
            log.info("config reloaded from %s", self.directory)
            return True
        finally:
            self._lock.release()

    def refresh_soon(self, every: float = 1.0) -> threading.Thread | None:
        """From a webhook: notice a change cheaply (a few stat calls, at most every `every`
        seconds) and parse it on a background thread; this webhook, and every one until the new
        config is swapped in whole, keeps the config it has."""
        now = time.monotonic()
        if not self._reload_requested and now - self._checked_at < every:
            return None
        if not self._reload_requested and self._read_stamp() == self._stamp:
            self._checked_at = now
            return None
        if self._lock.locked():
            return None  # already being read
        thread = threading.Thread(target=self.refresh, kwargs={"every": 0}, name="ivr-reload", daemon=True)
        thread.start()
        return thread

    def _save_snapshot(self) -> None:
        if self.snapshot_dir is None:
            return
        try:
            if self.snapshot_dir.exists():
                shutil.rmtree(self.snapshot_dir)
            shutil.copytree(self.directory, self.snapshot_dir, ignore=shutil.ignore_patterns(".*"))
        except OSError:
            log.warning("could not save the last good config to %s", self.snapshot_dir)


class Closures:
    """Emergency closures in force, read from the store at most once a second per server (so
    every server honours `ivr region close` within a second)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Emergency] = {}
        self._read_at = 0.0

    def for_region(self, region: Region, at: datetime) -> Emergency | None:
        emergency = self._current().get(region.code)
        return emergency if emergency is not None and emergency.covers(at) else None

    def expire(self) -> None:
        """Read the store again at the next question."""
        self._read_at = 0.0

    def _current(self) -> dict[str, Emergency]:
        now = time.monotonic()
        if now - self._read_at < CLOSURE_TTL:
            return self._cache
        self._read_at = now
        try:
            rows = self.store.run(closures.in_force)
        except Exception:
            log.warning("emergency closures unreadable (store unavailable): using the last known")
            return self._cache
        self._cache = {row["region"]: Emergency(row["reason"], row["until"], row["category"]) for row in rows}
        return self._cache

    def close(
        self, code: str, reason: str, category: str, until: datetime | None, now: datetime
    ) -> list[dict[str, Any]]:
        with self.store.begin() as connection:
            replaced = closures.close(connection, code, reason, category, until, now)
        self.expire()
        return replaced

    def reopen(self, code: str, now: datetime) -> bool:
        with self.store.begin() as connection:
            cleared = closures.reopen(connection, code, now)
        self.expire()
        return cleared


class Observer(Protocol):
    """What the runtime reports to as it works (the web layer's Prometheus metrics), handed to
    the root that builds it: never patched onto built objects afterwards."""

    def wallet_call(self, operation: str, seconds: float, ok: bool) -> None: ...

    def store_transaction(self, seconds: float) -> None: ...

    def sms_failure(self) -> None: ...


class Events:
    """What happened in calls, for metrics and each call's journey (never numbers or digits)."""

    def __init__(self, journal: Journal, metrics: Any = None) -> None:
        self.journal = journal
        self.metrics: Any = metrics  # ivr.web.metrics.Metrics, when a server observes
        self.explained: dict[str, str] | None = None  # CallSid -> the last speech `why` (simulator only)

    def choice(self, sid: str, menu: str, choice: str) -> None:
        """A key in a menu, as a category ('lockdown', 'repeat', 'invalid', 'silence', ...)."""
        if self.metrics is not None:
            self.metrics.menu_choices.labels(menu=menu, choice=choice).inc()
        self.journal.step(sid, f"{menu}:{choice}")

    def outcome(self, sid: str, region: str, outcome: str) -> None:
        """How the call went; the strongest outcome of a call is the one it keeps."""
        if self.metrics is not None:
            self.metrics.outcomes.labels(region=region, outcome=outcome).inc()
        self.journal.step(sid, f"outcome:{outcome}")
        self.journal.outcome(sid, outcome)
        log.info("outcome", extra={"call_sid": sid, "region": region, "outcome": outcome})

    def language(self, sid: str, language: str) -> None:
        """The caller switched language: the call's record keeps the one they chose."""
        self.journal.language(sid, language)

    def speech(self, menu: str, language: str, result: str, why: str | None = None, sid: str = "") -> None:
        """What speech did in a menu: matched, confirm, confirmed, declined, not_understood;
        `why` is the rule and catalogue phrase that decided it ("phrase: lost my phone"),
        never the words said: the metrics count its rule, a simulator may read it back."""
        if self.metrics is not None:
            self.metrics.child(self.metrics.speech, menu=menu, language=language, result=result).inc()
            if why is not None:
                rule = why.split(":", 1)[0]
                self.metrics.child(self.metrics.speech_rules, menu=menu, language=language, rule=rule).inc()
        if why is not None and self.explained is not None:
            self.explained[sid] = why

    def callback_attempt(self, region: str, result: str) -> None:
        """A callback attempt placed, or ended with `result` (connected, machine, busy, ...)."""
        if self.metrics is not None:
            self.metrics.child(self.metrics.callback_attempts, region=region, result=result).inc()

    def error(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.errors.labels(kind=kind).inc()


class Runtime:
    """Config, store, clock and back ends, and the questions every webhook and command asks."""

    def __init__(
        self,
        source: ConfigSource,
        store: Store,
        clock: Clock,
        *,
        wallet: Wallet,
        sms: SmsSender,
        secret: str,
        line: AgentLine,
        background_journal: bool = True,
        observer: Observer | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.clock = clock
        self.wallet = wallet
        self.sms = sms
        self.graph = GRAPH  # every menu, step and outcome the flows declare
        self.journal = Journal(store, GRAPH.outcome_ranks(), background=background_journal)
        self.closures = Closures(store)
        self.events = Events(self.journal, observer)
        self.digest = Digest(secret)
        self.states = CallStates(store)
        self._status_cache: dict[tuple[Any, ...], Status] = {}
        self._memo: dict[tuple[Any, ...], str] = {}
        source.on_reload.append(self._forget_rendered)
        self.services = Services(
            wallet=wallet,
            texts=sms,
            cases=Cases(store),
            limits=Limits(store),
            codes=Codes(store, self.digest, lambda: self.config.reset_url),
            states=self.states,
            digest=self.digest,
            events=self.events,
            line=line,
        )

    @property
    def config(self) -> Config:
        return self.source.config

    def now(self) -> datetime:
        return self.clock()

    def refresh_config(self, every: float = 1.0) -> bool:
        """Reload now if the files changed (ops tools, tests); webhooks use `refresh_soon`."""
        return self.source.refresh(every)

    def refresh_soon(self) -> threading.Thread | None:
        return self.source.refresh_soon()

    def request_reload(self) -> None:
        self.source.request_reload()

    def _forget_rendered(self) -> None:
        self._status_cache.clear()
        self._memo.clear()

    # --- hours and routing ------------------------------------------------------------------

    def status(self, region: Region, at: datetime) -> Status:
        """Open or closed; hours change on whole minutes, so one answer serves a minute."""
        emergency = self.closures.for_region(region, at)
        minute = at.astimezone(UTC).replace(second=0, microsecond=0)
        key = (region.code, minute, emergency)
        cached = self._status_cache.get(key)
        if cached is None or (cached.next_open is not None and cached.next_open <= at):
            cached = status_at(self.config.schedule_for(region), region.zone, at, emergency)
            if len(self._status_cache) > 1000:
                self._status_cache.clear()
            self._status_cache[key] = cached
        return cached

    def route(self, caller: str | None, dialed: str | None, at: datetime | None = None) -> RouteAnswer:
        at = at or self.now()
        route = route_call(self.config, caller, dialed)
        return RouteAnswer(route, self.status(route.region, at), route.region.languages[0])

    def close_region(
        self, code: str, reason: str, category: str, until: datetime | None
    ) -> list[dict[str, Any]]:
        """An emergency closure, stored: every server honours it at its next call. Returns the
        closure it replaced, if one was in force (a region has one at a time)."""
        return self.closures.close(code, reason, category, until, self.now())

    def reopen_region(self, code: str) -> bool:
        return self.closures.reopen(code, self.now())

    def memo(self, key: tuple[Any, ...], build: Callable[[], str]) -> str:
        """A rendered answer that depends only on `key` (and the config), built once."""
        found = self._memo.get(key)
        if found is None:
            found = build()
            if len(self._memo) > 1000:
                self._memo.clear()
            self._memo[key] = found
        return found

    # --- one webhook's call -----------------------------------------------------------------

    def call(self, params: Mapping[str, str], now: datetime) -> Call:
        """The flow's view of one webhook at `now`: `params` is Twilio's form plus our query."""
        answer = self.route(params.get("From"), params.get("To"), now)
        language = params.get("lang", "")
        if language not in answer.route.region.languages:
            language = answer.language
        carried = {k: params[k] for k in CARRIED if k != "lang" and params.get(k)}
        return Call(
            services=self.services,
            graph=self.graph,
            config=self.config,
            route=answer.route,
            status=answer.status,
            language=language,
            now=now,
            sid=params.get("CallSid", "")[:64],
            params=params,
            carried=carried,
        )

    def record_start(self, call: Call) -> None:
        """Keep the call's record, off the webhook's path (a store outage must not stop the call)."""
        if call.sid:
            self.journal.start_call(
                {
                    "sid": call.sid,
                    "region": call.region.code,
                    "matched_by": call.route.matched_by,
                    "language": call.language,
                    "caller_masked": mask(call.route.caller),
                    "started_at": call.now,
                    "status": "in-progress",
                    "journey": "",
                }
            )

    def record_end(self, sid: str, status: str, duration: str | None, now: datetime | None = None) -> bool:
        """The status callback: close the call's record and forget what the call proved and
        typed (numbers, the verified flag): no step needs it any more."""
        self.journal.flush()

        def end(connection: Connection) -> tuple[dict[str, Any] | None, Any]:
            # The call's row first: a step saving state waits for this, or sees the end.
            before = end_call(connection, sid, status, count(duration), now or self.now())
            leg = steps.load_state(connection, sid).get("hold_leg")
            steps.forget_state(connection, sid)
            return before, leg

        before, leg = self.store.run(end)
        if leg:  # the caller hung up on hold: the agents must not ring on, nor answer nobody
            self.services.line.hang_up(str(leg))
        if before is None:
            return False
        if before["outcome"] is None and self.events.metrics is not None:
            self.events.metrics.outcomes.labels(region=before["region"], outcome="abandoned").inc()
        return True

    def load_state(self, sid: str) -> dict[str, Any]:
        return self.states.load(sid) if sid else {}

    def call_record(self, sid: str) -> Mapping[str, Any] | None:
        self.journal.flush()
        with self.store.begin() as connection:
            return call_record(connection, sid)  # type: ignore[no-any-return]

    # --- housekeeping -----------------------------------------------------------------------

    def purge(self, batch: int = 5000) -> dict[str, int]:
        """Forget what is past keeping (`ivr.store.purge`): one batch per table."""
        from ivr.store.purge import purge

        with self.store.begin() as connection:
            return purge(connection, self.now(), batch)

    def keep_tidy(self, every: float = 600.0) -> threading.Thread:
        """Purge at a safe pace in the background: a batch every `every` seconds (jittered so
        workers do not all purge at once); a store that is away is simply tried next time."""
        import random

        def run() -> None:
            while True:
                time.sleep(every * random.uniform(0.5, 1.5))
                try:
                    counts = self.purge()
                    if any(counts.values()):
                        log.info("purged", extra={"purged": counts})
                except Exception:
                    log.warning("purge skipped: the store is unavailable")

        thread = threading.Thread(target=run, name="ivr-purge", daemon=True)
        thread.start()
        return thread

    # --- a new worker -----------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load what the first call would otherwise wait for: holiday calendars, number metadata,
        date formats, every menu's prompt, the speech phrases. Pure CPU: nothing here needs the store."""
        from ivr.flows import prompts, speech

        speech.prepare(self.config.prompts.values())  # every phrase as units and sounds
        now = self.now()
        for region in self.config.regions.values():
            status_at(self.config.schedule_for(region), region.zone, now)
            for country in region.countries:
                route_call(self.config, f"+{phonenumbers.country_code_for_region(country)}1", None)
            for language in region.languages:
                prompts.spoken_when(self.config.prompts[language], now.astimezone(region.zone), now)

    def warm_store(self, connections: int = 4) -> bool:
        """Do what the first callers of a new worker would otherwise wait for: connect (one
        connection per request thread), check the schema, seed the demo wallet, and compile the
        reads every step makes. False, and nothing else, when the store is down."""
        from contextlib import ExitStack

        from ivr.wallet.demo import DemoWallet

        if not self.store.ping():
            log.warning("store warm-up skipped: the store does not answer; the first calls will connect")
            return False
        try:
            with ExitStack() as held:  # open them all at once, so the pool keeps them all
                for _ in range(connections):
                    held.enter_context(self.store.engine.connect())
            backend = getattr(self.wallet, "wallet", self.wallet)
            if isinstance(backend, DemoWallet):
                backend.seed()
            self.load_state("warm-up")
            self.closures.for_region(self.config.default, self.now())
        except Exception:
            log.warning("store warm-up failed; the first calls will connect themselves")
            return False
        return True


def build_runtime(
    settings: Settings,
    *,
    wallet: Wallet | None = None,
    sms_http_client: Any = None,
    clock: Clock | None = None,
    background_journal: bool = True,
    snapshot: bool = True,
    config_dir: Path | None = None,
    observer: Observer | None = None,
) -> Runtime:
    """The runtime from settings: config, store, wallet back end and SMS sender, built once,
    each reporting to `observer` (a server's metrics). Tests hand in fakes (a wallet, Twilio's
    HTTP client, a clock) through the same root."""
    from twilio.rest import Client

    from ivr.twilio_api import TwilioApi
    from ivr.wallet.demo import DemoWallet
    from ivr.wallet.guard import GuardedWallet
    from ivr.wallet.http import HttpWallet

    clock = clock or (rehearsal_clock(settings.clock) if settings.clock else system_clock)
    source = ConfigSource(
        config_dir or settings.config_dir,
        settings.instance_dir / "last-good-config" if snapshot else None,
    )
    store = Store(settings.store_url, on_transaction=observer.store_transaction if observer else None)
    if wallet is None and settings.wallet_url:
        wallet = HttpWallet(settings.wallet_url, settings.wallet_token)
    if wallet is None:
        wallet = DemoWallet(store, clock)
    calls = texts = None
    api: TwilioApi | None = None
    if settings.twilio_account_sid and settings.twilio_auth_token:
        sid, token, url = settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_api_url
        api = TwilioApi(url, WEBHOOK_API_SECONDS, sms_http_client)
        calls = Client(sid, token, http_client=api)
        texts = Client(sid, token, http_client=TwilioApi(url, SENDER_API_SECONDS, sms_http_client, rest=0))
    return Runtime(
        source,
        store,
        clock,
        wallet=GuardedWallet(wallet, on_call=observer.wallet_call if observer else None),
        sms=SmsSender(store, texts, settings.sms_from, on_failure=observer.sms_failure if observer else None),
        line=AgentLine(calls, api),
        secret=settings.twilio_auth_token or "",
        background_journal=background_journal,
        observer=observer,
    )
