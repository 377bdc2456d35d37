"""emergency closures say what callers are told they are about

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("emergency_closures") as batch_op:
        batch_op.add_column(
            sa.Column("category", sa.String(length=16), nullable=False, server_default="other")
        )


def downgrade() -> None:
    with op.batch_alter_table("emergency_closures") as batch_op:
        batch_op.drop_column("category")
