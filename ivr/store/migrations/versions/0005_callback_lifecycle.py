"""callbacks are dialed and every case is closed: attempts, lease, who closed it and when

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ivr.store

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WAITING = "kind = 'callback' AND status IN ('open', 'calling')"
OPEN_ONLY = "kind = 'callback' AND status = 'open'"


def _unique_callback_index(where: str) -> None:
    op.create_index(
        "uq_open_callback",
        "cases",
        ["callback_number"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("outcome", sa.String(24)))
        batch.add_column(sa.Column("topic", sa.String(16)))
        batch.add_column(sa.Column("attempts", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("next_attempt_at", ivr.store.UtcDateTime()))
        batch.add_column(sa.Column("lease_until", ivr.store.UtcDateTime()))
        batch.add_column(sa.Column("closed_at", ivr.store.UtcDateTime()))
        batch.add_column(sa.Column("closed_by", sa.String(64)))
    # A lockdown's status was its outcome: keep that as the outcome, and the case open.
    op.execute(
        "UPDATE cases SET outcome = status, status = 'open' WHERE kind = 'lockdown' AND status <> 'closed'"
    )
    op.drop_index("uq_open_callback", table_name="cases")
    _unique_callback_index(WAITING)
    op.create_index("ix_cases_status_next_attempt_at", "cases", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_status_next_attempt_at", table_name="cases")
    op.drop_index("uq_open_callback", table_name="cases")
    _unique_callback_index(OPEN_ONLY)
    op.execute("UPDATE cases SET status = 'open' WHERE kind = 'callback' AND status = 'calling'")
    op.execute(
        "UPDATE cases SET status = outcome"
        " WHERE kind = 'lockdown' AND status = 'open' AND outcome IS NOT NULL"
    )
    with op.batch_alter_table("cases") as batch:
        for column in (
            "closed_by",
            "closed_at",
            "lease_until",
            "next_attempt_at",
            "attempts",
            "topic",
            "outcome",
        ):
            batch.drop_column(column)
