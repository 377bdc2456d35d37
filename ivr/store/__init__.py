"""The store: the only layer that writes SQL. One engine (`Store`), its tables (`tables`),
and one module of queries per thing kept: calls and their journal (`calls`), call state and
step replay (`steps`), cases, attempt limits, the SMS outbox (`texts`), codes and reset
tokens (`secrets`), emergency closures, the demo wallet's tables (`wallet`), reports.

SQLite by default (a file under `instance/`), PostgreSQL for scale (`DATABASE_URL`).
Tables are created on first use. Every write a caller is told about is committed before
the TwiML that tells them is returned.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError

from ivr.store.tables import UtcDateTime, metadata

_SCHEMA_LOCK = threading.Lock()
log = logging.getLogger("ivr.store")
T = TypeVar("T")


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

    def __init__(self, url: str, on_transaction: Callable[[float], None] | None = None) -> None:
        self.url = url
        check_url(url)
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
        else:
            event.listen(self.engine, "before_cursor_execute", _note_writes)
        self._ready = False
        self._down_until = 0.0
        self.on_transaction = on_transaction  # for metrics: seconds per committed transaction

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
            self._ready = False  # a table may be gone (database recreated): look again next time
            # One dropped connection (terminated, a failover) is not an outage: SQLAlchemy has
            # already thrown the pool's connections away; mark the store down only when a
            # fresh connection fails too, so other webhooks are not refused for nothing.
            dropped = bool(exc.connection_invalidated) and self.reachable()
            if not dropped and (exc.connection_invalidated or _is_connection_failure(exc)):
                self._down_until = time.monotonic() + STORE_DOWN_S
            exc.dropped_connection = dropped  # type: ignore[union-attr]  # `run` may try once more
            raise
        if self.on_transaction is not None:
            self.on_transaction(time.perf_counter() - started)

    def run(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`work(connection, *args, **kwargs)` in one transaction. When the database dropped
        the connection (pg_terminate_backend, a failover), run it once more on a fresh one,
        unless it was in fact committed: a connection lost during COMMIT leaves that unknown,
        so PostgreSQL is asked (pg_xact_status, "Transaction ID and Snapshot Information
        Functions"), and a read-only transaction has nothing to commit. `work` only talks to
        the store, so nothing outside it happens twice."""
        attempt = _Attempt()
        try:
            with self.begin() as connection:
                connection.info.pop(WROTE, None)
                result: T = work(connection, *args, **kwargs)
                attempt.done(connection, result)
            return result
        except (OperationalError, ProgrammingError) as exc:
            if not getattr(exc, "dropped_connection", False):
                raise
            if attempt.finished and (attempt.xid is None or self._committed(attempt.xid, exc)):
                log.warning("store connection dropped at the commit; the transaction had committed")
                return attempt.result  # type: ignore[no-any-return]
            log.warning(
                "store connection dropped (%s); running the transaction again", type(exc.orig).__name__
            )
        with self.begin() as connection:
            return work(connection, *args, **kwargs)

    def _committed(self, xid: str, error: BaseException) -> bool:
        """Whether the transaction `xid` committed; its connection died during COMMIT."""
        with self.begin() as connection:
            status = connection.execute(
                text("SELECT pg_xact_status(CAST(:xid AS xid8))"), {"xid": xid}
            ).scalar()
        if status not in ("committed", "aborted", None):  # "in progress": not known yet
            raise error
        return status == "committed"

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
        return self.run(lambda connection: connection.execute(statement).mappings().first())

    def all(self, statement: Any) -> list[Any]:
        return self.run(lambda connection: list(connection.execute(statement).mappings()))

    def dispose(self) -> None:
        self.engine.dispose()


class _Attempt:
    """One run of a unit of work: its result and PostgreSQL transaction id, once it finished."""

    finished = False
    result: Any = None
    xid: str | None = None

    def done(self, connection: Connection, result: Any) -> None:
        if connection.info.get(WROTE):  # PostgreSQL only; a read has nothing to commit
            self.xid = connection.execute(text("SELECT pg_current_xact_id_if_assigned()::text")).scalar()
        self.finished, self.result = True, result


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


SUPPORTED = "sqlite:///path/to/ivr.sqlite3 or postgresql+psycopg://user@host/db"


class UnsupportedStore(ArgumentError):
    """DATABASE_URL names a database or driver the store does not run on."""


def check_url(url: str) -> None:
    """Refuse, in one line, a URL for a database the store does not support or cannot load."""
    from sqlalchemy.engine import make_url

    backend = make_url(url).get_backend_name()  # an ArgumentError says "not a URL" itself
    if backend not in ("sqlite", "postgresql"):
        raise UnsupportedStore(f"{backend} is not supported; the store runs on {SUPPORTED}")
    driver = make_url(url).get_driver_name()
    if backend == "postgresql" and driver != "psycopg":
        raise UnsupportedStore(f"the driver {driver!r} is not installed; use {SUPPORTED}")


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


WROTE = "ivr.wrote"  # on a connection's info: this transaction sent more than a SELECT


def _note_writes(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if statement.lstrip()[:6].upper() != "SELECT":
        connection.info[WROTE] = True


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


__all__ = ["Store", "StoreUnavailable", "UtcDateTime", "metadata"]
