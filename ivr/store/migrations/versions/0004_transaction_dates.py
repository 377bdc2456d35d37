"""demo wallet transactions say when they were made (a caller hears the latest three)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ivr.store

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wallet_transactions") as batch_op:
        batch_op.add_column(sa.Column("created_at", ivr.store.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wallet_transactions") as batch_op:
        batch_op.drop_column("created_at")
