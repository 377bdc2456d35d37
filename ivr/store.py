"""The store: SQLAlchemy Core tables and the few queries the IVR needs.

SQLite by default (a file under `instance/`), PostgreSQL for scale (`DATABASE_URL`).
Tables are created on first use. Every write a caller is told about is committed before
the TwiML that tells them is returned.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

metadata = MetaData()
# INSERT ... ON CONFLICT, by dialect (the two databases the store supports).
UPSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_SCHEMA_LOCK = threading.Lock()


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC on every database (SQLite would drop the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store keeps aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


calls = Table(
    "calls",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("region", String(32), nullable=False),
    Column("matched_by", String(16), nullable=False),
    Column("language", String(8), nullable=False),
    Column("caller_masked", String(32), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime()),
    Column("status", String(24), nullable=False, default="in-progress"),
    Column("duration", Integer),
    Column("outcome", String(24)),
    Column("journey", Text, nullable=False, default=""),
)

# One row per (call, step) that has an effect: a Twilio retry finds it and replays the answer.
call_steps = Table(
    "call_steps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_sid", String(64), nullable=False),
    Column("step", String(255), nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("call_sid", "step", name="uq_call_step"),
)

# What a call has proved and chosen so far (account, verified, typed number): any server can
# take the next step.
call_state = Table(
    "call_state",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(16), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # lockdown | dispute | callback | voicemail
    Column("account", String(32)),
    Column("region", String(32), nullable=False),
    Column("language", String(8), nullable=False),
    Column("status", String(24), nullable=False),
    Column("priority", Boolean, nullable=False, default=False),  # theft: agents see it first
    Column("call_sid", String(64)),
    Column("transaction", String(32)),
    Column("callback_number", String(20)),
    Column("recording_url", String(512)),
    Column("recording_seconds", Integer),
    Column("note", Text, nullable=False, default=""),
    Column("requested_at", UtcDateTime()),  # callbacks: when the caller first asked (place in line)
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # One open callback per number, enforced by the database itself.
    Index(
        "uq_open_callback",
        "callback_number",
        unique=True,
        sqlite_where=text("kind = 'callback' AND status = 'open'"),
        postgresql_where=text("kind = 'callback' AND status = 'open'"),
    ),
)

sms_outbox = Table(
    "sms_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("to_number", String(20), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # queued | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("provider_sid", String(64)),
    Column("error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_try_at", UtcDateTime()),
    # A failed message keeps its full text here, for retries, until sent or expired.
    Column("pending_body", Text),
    Column("sender", String(20)),
    Column("expires_at", UtcDateTime()),
)

one_time_codes = Table(
    "one_time_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account", String(32), nullable=False, index=True),
    Column("call_sid", String(64), nullable=False, index=True),
    Column("code_hash", String(128), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("tries", Integer, nullable=False, default=0),
    Column("used", Boolean, nullable=False, default=False),
)

# Counted events for attempt limits: wrong PINs, recovery SMS, codes sent.
attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

reset_tokens = Table(
    "reset_tokens",
    metadata,
    Column("token_hash", String(128), primary_key=True),
    Column("account", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
)

emergency_closures = Table(
    "emergency_closures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("region", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("category", String(16), nullable=False, default="other"),
    Column("until", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("cleared_at", UtcDateTime()),
)

wallet_accounts = Table(
    "wallet_accounts",
    metadata,
    Column("account", String(32), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("phone", String(20), nullable=False, unique=True),
    Column("pin_hash", String(128), nullable=False),
    Column("locked", Boolean, nullable=False, default=False),
    Column("locked_at", UtcDateTime()),
)

wallet_transactions = Table(
    "wallet_transactions",
    metadata,
    Column("reference", String(32), primary_key=True),
    Column("account", String(32), ForeignKey("wallet_accounts.account"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount", String(32), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("disputed", Boolean, nullable=False, default=False),
)


def default_url(instance: Path | None = None) -> str:
    """A SQLite file under `instance/`, created on first use."""
    folder = instance or Path.cwd() / "instance"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'ivr.sqlite3'}"


def utcnow() -> datetime:
    return datetime.now(UTC)


# PostgreSQL: how long one webhook may wait for the store before it gives up (the caller then
# hears the apology and is put through to a person). Twilio gives up on a webhook at 15 s.
CONNECT_TIMEOUT_S = 2  # the whole connection attempt
POOL_TIMEOUT_S = 1  # waiting for a free pooled connection
STATEMENT_TIMEOUT_MS = 2000  # one statement on the server
TCP_USER_TIMEOUT_MS = 2000  # unacknowledged data on a connection the network lost
STORE_DOWN_S = 2.0  # after a connection failure, fail at once for this long (no pile-up)


class StoreUnavailable(OperationalError):
    """The store failed moments ago: fail fast instead of waiting out another timeout."""

    def __init__(self) -> None:
        super().__init__("store marked unavailable", None, Exception("recent connection failure"))


class Store:
    """One engine, its tables, and a transaction helper."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or os.environ.get("DATABASE_URL") or default_url()
        # Never log bound parameters: they hold phone numbers.
        options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
        if self.url.startswith("sqlite"):
            options["connect_args"] = {"check_same_thread": False, "timeout": 15}
        else:
            options.update(pool_size=5, max_overflow=5, pool_timeout=POOL_TIMEOUT_S, pool_recycle=1800)
            options["connect_args"] = {
                "connect_timeout": CONNECT_TIMEOUT_S,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} "
                f"-c lock_timeout={STATEMENT_TIMEOUT_MS}",
                "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 2,
            }
        self.engine: Engine = create_engine(self.url, **options)
        if self.url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._ready = False
        self._down_until = 0.0
        self.on_transaction: Any = None  # metrics hook: seconds per committed transaction

    def ensure_schema(self) -> None:
        """Bring the schema to the newest migration (idempotent; one server at a time)."""
        if self._ready:
            return
        with _SCHEMA_LOCK, self._file_lock():  # one migration per process, and per SQLite file
            for attempt in range(3):
                try:
                    self._migrate()
                    break
                except OperationalError:
                    # Another process created the tables between our look and our create
                    # (SQLite has no advisory lock): look again.
                    if attempt == 2:
                        raise
                    time.sleep(0.05)
            self._ready = True

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """SQLite has no advisory lock: servers sharing a file take turns through a lock file."""
        database = self.engine.url.database if self.url.startswith("sqlite") else None
        if not database or database == ":memory:" or not Path(database).parent.is_dir():
            yield  # no folder: the connection fails with the store's own error
            return
        import fcntl

        with open(f"{database}.migrate-lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _migrate(self) -> None:
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(7243001)"))
            current = MigrationContext.configure(connection).get_current_revision()
            config = _alembic_config(connection)
            if current is None and not inspect(connection).has_table("calls"):
                metadata.create_all(connection)  # a new database: create, then mark as current
                command.stamp(config, "head")
            elif current != _head_revision():
                command.upgrade(config, "head")

    def upgrade(self) -> tuple[str | None, str]:
        """`ivr db upgrade`: run pending migrations; returns (before, after) revisions."""
        with self.engine.begin() as connection:
            before = MigrationContext.configure(connection).get_current_revision()
        self.ensure_schema()
        return before, _head_revision()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction committed on exit."""
        if time.monotonic() < self._down_until:
            raise StoreUnavailable()
        started = time.perf_counter()
        try:
            self.ensure_schema()
            with self.engine.begin() as connection:
                yield connection
        except (OperationalError, ProgrammingError) as exc:
            if isinstance(exc, ProgrammingError) or not isinstance(exc, StoreUnavailable):
                self._ready = False  # a table gone (database recreated): look again next time
            if exc.connection_invalidated or _is_connection_failure(exc):
                self._down_until = time.monotonic() + STORE_DOWN_S
            raise
        if self.on_transaction is not None:
            self.on_transaction(time.perf_counter() - started)

    def reachable(self) -> bool:
        """False while the store is marked down after a connection failure, or does not answer."""
        if time.monotonic() < self._down_until:
            return False
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def ping(self) -> bool:
        """True when the database answers and holds the newest schema (checked every time:
        a database dropped and recreated empty is migrated again, or reported not ready)."""
        self._down_until = 0.0
        try:
            with self.engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
            if current != _head_revision():
                self._ready = False
                self.ensure_schema()
            return True
        except Exception:
            return False

    def one(self, statement: Any) -> Any:
        with self.begin() as connection:
            return connection.execute(statement).mappings().first()

    def all(self, statement: Any) -> list[Any]:
        with self.begin() as connection:
            return list(connection.execute(statement).mappings())

    def dispose(self) -> None:
        self.engine.dispose()


def _alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _head_revision() -> str:
    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "no migrations"
    return head


def _is_connection_failure(exc: DBAPIError) -> bool:
    """A failure to reach the database at all (not a constraint or a lock wait)."""
    text_ = str(exc.orig).lower() if exc.orig is not None else ""
    return any(
        sign in text_
        for sign in (
            "connection",
            "timeout expired",
            "could not connect",
            "server closed",
            "timed out",
            "unable to open database",
        )
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


__all__ = ["Store", "select", "utcnow"]
