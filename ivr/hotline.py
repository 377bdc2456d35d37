"""The hotline's core, shared by the web layer and the CLI: config, store, clock, routing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from twilio.twiml.voice_response import VoiceResponse

from ivr.config import Config, ConfigError, Region, load_config
from ivr.flows.call import CARRIED, Call
from ivr.journal import Journal
from ivr.keypad import count
from ivr.routing.hours import Emergency, Status, status_at
from ivr.routing.regions import Route, mask, route_call
from ivr.sms import SmsSender
from ivr.store import UPSERTS, Store, call_state, call_steps, calls, emergency_closures, utcnow
from ivr.wallet import Wallet

log = logging.getLogger("ivr")

Clock = Callable[[], datetime]
CONFIG_FILES = ("regions.yaml", "hours.yaml")
CLOSURE_TTL = 1.0  # seconds a server trusts its last read of the emergency closures


def system_clock() -> datetime:
    return datetime.now(UTC)


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


class StoredTwiml(VoiceResponse):  # type: ignore[misc]
    """A TwiML answer replayed from the store for a webhook Twilio sent twice."""

    def __init__(self, xml: str) -> None:
        super().__init__()
        self._xml = xml

    def to_xml(self, xml_declaration: bool = True) -> str:
        return self._xml


class Hotline:
    """Config, store, clock and back ends, and the questions every webhook and command asks."""

    def __init__(
        self,
        config_dir: str | Path,
        store: Store,
        clock: Clock = system_clock,
        *,
        wallet: Wallet | None = None,
        sms: SmsSender | None = None,
        secret: str = "",
        snapshot_dir: Path | None = None,
        background_journal: bool = True,
    ) -> None:
        from ivr.wallet.demo import DemoWallet

        self.config_dir = Path(config_dir)
        self.config: Config = load_config(self.config_dir)
        self.snapshot_dir = snapshot_dir
        self._config_stamp = self._stamp()
        self._checked_at = time.monotonic()
        self._reload_requested = False
        self._save_snapshot()
        self.journal = Journal(store, background=background_journal)
        self._status_cache: dict[tuple[Any, ...], Status] = {}
        self._closures_cache: dict[str, Emergency] = {}
        self._closures_read_at = 0.0
        self.metrics: Any = None  # set by the web layer: ivr.metrics.Metrics
        self._memo: dict[tuple[Any, ...], str] = {}
        self.store = store
        self.clock = clock
        self.wallet: Wallet = wallet or DemoWallet(store)
        self.sms = sms or SmsSender(store)
        self._secret = hashlib.sha256(f"okwallet-ivr:{secret}".encode()).digest()

    # --- config reload: on file change or SIGHUP; an invalid edit never replaces a good config

    def _stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for name in CONFIG_FILES:
            try:
                info = (self.config_dir / name).stat()
                stamps.append((info.st_mtime_ns, info.st_size))
            except OSError:
                stamps.append((0, 0))
        return tuple(stamps)

    def request_reload(self) -> None:
        """SIGHUP: re-read the config at the next webhook."""
        self._reload_requested = True

    def refresh_config(self, every: float = 1.0) -> bool:
        """Reload the config if its files changed (checked at most every `every` seconds)."""
        now = time.monotonic()
        if not self._reload_requested and now - self._checked_at < every:
            return False
        self._checked_at = now
        stamp = self._stamp()
        if stamp == self._config_stamp and not self._reload_requested:
            return False
        self._reload_requested, self._config_stamp = False, stamp
        try:
            config = load_config(self.config_dir)
        except ConfigError as exc:
            log.error("config edit refused, the last good config keeps serving:\n%s", "\n".join(exc.errors))
            return False
        self.config = config
        self._status_cache.clear()
        self._memo.clear()
        self._save_snapshot()
        log.info("config reloaded from %s", self.config_dir)
        return True

    def _save_snapshot(self) -> None:
        """Keep a copy of the config that last loaded, for workers restarted by a reload."""
        if self.snapshot_dir is None:
            return
        try:
            self.snapshot_dir.mkdir(parents=True, exist_ok=True)
            for name in CONFIG_FILES:
                shutil.copyfile(self.config_dir / name, self.snapshot_dir / name)
        except OSError:
            log.warning("could not save the last good config to %s", self.snapshot_dir)

    def digest(self, *parts: str) -> str:
        """A keyed hash for codes and tokens: useless to whoever copies the table."""
        return hmac.new(self._secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()

    def now(self) -> datetime:
        return self.clock()

    def emergency_for(self, region: Region, at: datetime) -> Emergency | None:
        """An ops closure of `region` in force at `at`, read from the store at most once a second
        per server (so every server honours `ivr region close` within a second)."""
        closures = self._closures()
        emergency = closures.get(region.code)
        return emergency if emergency is not None and emergency.covers(at) else None

    def _closures(self) -> dict[str, Emergency]:
        now = time.monotonic()
        if now - self._closures_read_at < CLOSURE_TTL:
            return self._closures_cache
        self._closures_read_at = now
        try:
            rows = self.store.all(
                select(emergency_closures)
                .where(emergency_closures.c.cleared_at.is_(None))
                .order_by(emergency_closures.c.id)
            )
        except Exception:
            log.warning("emergency closures unreadable (store unavailable): using the last known")
            return self._closures_cache
        self._closures_cache = {
            row["region"]: Emergency(row["reason"], row["until"], row["category"]) for row in rows
        }
        return self._closures_cache

    def close_region(self, code: str, reason: str, category: str, until: datetime | None) -> None:
        """An emergency closure, stored: every server honours it at its next call."""
        with self.store.begin() as connection:
            connection.execute(
                update(emergency_closures)
                .where(emergency_closures.c.region == code, emergency_closures.c.cleared_at.is_(None))
                .values(cleared_at=self.now())
            )
            connection.execute(
                insert(emergency_closures).values(
                    region=code, reason=reason, category=category, until=until, created_at=self.now()
                )
            )
        self._closures_read_at = 0.0

    def reopen_region(self, code: str) -> bool:
        with self.store.begin() as connection:
            cleared = connection.execute(
                update(emergency_closures)
                .where(emergency_closures.c.region == code, emergency_closures.c.cleared_at.is_(None))
                .values(cleared_at=self.now())
            ).rowcount
        self._closures_read_at = 0.0
        return bool(cleared)

    # --- what happened in calls: metrics and journeys (never numbers, PINs or digits) ---------

    def choice(self, call: Call, menu: str, choice: str) -> None:
        """A key in a menu, as a category ('lockdown', 'repeat', 'invalid', 'silence', ...)."""
        if self.metrics is not None:
            self.metrics.menu_choices.labels(menu=menu, choice=choice).inc()
        self.journal.step(call.sid, f"{menu}:{choice}")

    def outcome(self, call: Call, outcome: str) -> None:
        """How the call went; the strongest outcome of a call is the one it keeps."""
        if self.metrics is not None:
            self.metrics.outcomes.labels(region=call.region.code, outcome=outcome).inc()
        self.journal.step(call.sid, f"outcome:{outcome}")
        self.journal.outcome(call.sid, outcome)
        log.info("outcome", extra={"call_sid": call.sid, "region": call.region.code, "outcome": outcome})

    def error(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.errors.labels(kind=kind).inc()

    def status(self, region: Region, at: datetime) -> Status:
        """Open or closed; hours change on whole minutes, so one answer serves a minute."""
        emergency = self.emergency_for(region, at)
        minute = at.astimezone(UTC).replace(second=0, microsecond=0)
        key = (region.code, minute, emergency)
        cached = self._status_cache.get(key)
        if cached is None or (cached.next_open is not None and cached.next_open <= at):
            cached = status_at(self.config.schedule_for(region), region.zone, at, emergency)
            if len(self._status_cache) > 1000:
                self._status_cache.clear()
            self._status_cache[key] = cached
        return cached

    def warm_up(self) -> None:
        """Load what the first call would otherwise wait for: holiday calendars, number metadata,
        date formats, every menu's prompt. Pure CPU: nothing here needs the store."""
        from ivr.flows import prompts

        now = self.now()
        for region in self.config.regions.values():
            status_at(self.config.schedule_for(region), region.zone, now)
            for country in region.countries:
                route_call(self.config, f"+{phonenumbers.country_code_for_region(country)}1", None)
            for language in region.languages:
                prompts.spoken_when(language, now.astimezone(region.zone), now)

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
            self._closures()
        except Exception:
            log.warning("store warm-up failed; the first calls will connect themselves")
            return False
        return True

    def memo(self, key: tuple[Any, ...], build: Callable[[], str]) -> str:
        """A rendered answer that depends only on `key` (and the config), built once."""
        found = self._memo.get(key)
        if found is None:
            found = build()
            if len(self._memo) > 1000:
                self._memo.clear()
            self._memo[key] = found
        return found

    def route(self, caller: str | None, dialed: str | None, at: datetime | None = None) -> RouteAnswer:
        at = at or self.now()
        route = route_call(self.config, caller, dialed)
        return RouteAnswer(route, self.status(route.region, at), route.region.languages[0])

    def call(self, params: Mapping[str, str]) -> Call:
        """The flow's view of one webhook: `params` is Twilio's form plus our query string."""
        now = self.now()
        answer = self.route(params.get("From"), params.get("To"), now)
        language = params.get("lang", "")
        if language not in answer.route.region.languages:
            language = answer.language
        carried = {k: params[k] for k in CARRIED if k != "lang" and params.get(k)}
        return Call(
            self, answer.route, answer.status, language, now, params.get("CallSid", "")[:64], params, carried
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

    def record_end(self, sid: str, status: str, duration: str | None) -> bool:
        """The status callback: close the call's record (a call with no outcome was abandoned)
        and forget what the call proved and typed (numbers, the verified flag): no step needs
        it any more."""
        self.journal.flush()
        seconds = count(duration)
        with self.store.begin() as connection:
            connection.execute(delete(call_state).where(call_state.c.sid == sid))
            record = connection.execute(
                select(calls.c.region, calls.c.outcome).where(calls.c.sid == sid)
            ).first()
            if record is None:
                return False
            connection.execute(
                update(calls)
                .where(calls.c.sid == sid)
                .values(
                    status=status[:24],
                    duration=seconds,
                    ended_at=utcnow(),
                    outcome=record.outcome or "abandoned",
                )
            )
        if record.outcome is None and self.metrics is not None:
            self.metrics.outcomes.labels(region=record.region, outcome="abandoned").inc()
        return True

    def load_state(self, sid: str) -> dict[str, Any]:
        row = self.store.one(select(call_state.c.data).where(call_state.c.sid == sid)) if sid else None
        return dict(json.loads(row["data"])) if row else {}

    def save_state(self, sid: str, data: Mapping[str, Any]) -> None:
        """One upsert: duplicate webhooks of one step race here, and the last write wins whole."""
        if not sid:
            return
        encoded, now = json.dumps(dict(data), sort_keys=True), self.now()
        with self.store.begin() as connection:
            values = {"data": encoded, "updated_at": now}
            upsert = UPSERTS[connection.dialect.name](call_state).values(sid=sid, **values)
            connection.execute(upsert.on_conflict_do_update(index_elements=["sid"], set_=values))

    def once(self, sid: str, key: str, produce: Callable[[], VoiceResponse]) -> VoiceResponse:
        """Run `produce` once per (call, step); a repeat of the same webhook replays its answer."""
        if not sid:
            return produce()
        try:
            with self.store.begin() as connection:
                connection.execute(
                    insert(call_steps).values(call_sid=sid, step=key[:255], response="", created_at=utcnow())
                )
        except IntegrityError:
            return self._replay(sid, key[:255])
        try:
            response = produce()
        except BaseException:
            with self.store.begin() as connection:
                connection.execute(
                    delete(call_steps).where(call_steps.c.call_sid == sid, call_steps.c.step == key[:255])
                )
            raise
        with self.store.begin() as connection:
            connection.execute(
                update(call_steps)
                .where(call_steps.c.call_sid == sid, call_steps.c.step == key[:255])
                .values(response=str(response))
            )
        return response

    def _replay(self, sid: str, key: str, wait_seconds: float = 5.0) -> VoiceResponse:
        """The first copy's answer, waiting briefly while it is still being produced."""
        deadline = time.monotonic() + wait_seconds
        while True:
            row = self.store.one(
                select(call_steps.c.response).where(call_steps.c.call_sid == sid, call_steps.c.step == key)
            )
            if row and row["response"]:
                return StoredTwiml(row["response"])
            if time.monotonic() > deadline:
                raise RuntimeError("duplicate webhook: first copy still running")
            time.sleep(0.05)

    def call_record(self, sid: str) -> Mapping[str, Any] | None:
        self.journal.flush()
        return self.store.one(select(calls).where(calls.c.sid == sid))  # type: ignore[no-any-return]
