"""Migration 0005 both ways: a lockdown's old status becomes its outcome, and back."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from ivr.store import _SCHEMA_LOCK, Store, _alembic_config, metadata
from tests.test_store import database_url  # noqa: F401  (the sqlite/postgresql fixture)

ROW = (
    "INSERT INTO cases (reference, kind, region, language, status, priority, note, created_at, updated_at)"
    " VALUES ('12345678', 'lockdown', 'cn', 'zh-CN', 'locked', true, '', :at, :at)"
)


def migrate(store: Store, revision: str, down: bool = False) -> None:
    with _SCHEMA_LOCK, store.engine.begin() as connection:
        (command.downgrade if down else command.upgrade)(_alembic_config(connection), revision)


def test_0005_moves_a_lockdowns_outcome_out_of_its_status_and_back(database_url: str) -> None:  # noqa: F811
    store = Store(database_url)
    metadata.drop_all(store.engine)  # an empty database, migrated to the schema before 0005
    with store.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate(store, "0003")
    with store.engine.begin() as connection:
        connection.execute(text(ROW), {"at": datetime(2026, 11, 23, tzinfo=UTC)})
    migrate(store, "0005")
    with store.engine.connect() as connection:
        row = connection.execute(text("SELECT status, outcome, attempts FROM cases")).one()
    assert tuple(row) == ("open", "locked", "[]")
    migrate(store, "0003", down=True)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT status FROM cases")).scalar_one() == "locked"
    migrate(store, "head")
    store.dispose()
