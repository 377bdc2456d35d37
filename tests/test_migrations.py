"""Alembic migrations: a database built by migrations matches the code's tables exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect

from ivr.store import _SCHEMA_LOCK, Store, _alembic_config, _head_revision, metadata
from ivr.tools.cli import main
from tests.test_store import database_url  # noqa: F401  (the sqlite/postgresql fixture)


def test_migrations_build_exactly_the_tables_the_code_uses(database_url: str) -> None:  # noqa: F811
    store = Store(database_url)
    with _SCHEMA_LOCK, store.engine.begin() as connection:  # Alembic's context is process-global
        command.upgrade(_alembic_config(connection), "head")
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    store.dispose()


def test_ivr_db_upgrade_on_an_empty_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"database at {_head_revision()} (was empty)"
    again = CliRunner().invoke(main, ["db", "upgrade"])
    assert again.output.strip() == f"database at {_head_revision()}"
    store = Store(database_url)
    with store.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == _head_revision()
        assert {"cases", "calls", "sms_outbox", "wallet_accounts"} <= set(
            inspect(connection).get_table_names()
        )
    store.dispose()


def test_first_use_creates_and_stamps_the_schema(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert store.ping()
    with store.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == _head_revision()
    store.dispose()
