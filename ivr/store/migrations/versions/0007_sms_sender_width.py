"""an SMS sender may be a Messaging Service SID (MG and 32 hex digits): room for 34 characters

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sms_outbox") as table:
        table.alter_column("sender", type_=sa.String(40), existing_type=sa.String(20))


def downgrade() -> None:
    with op.batch_alter_table("sms_outbox") as table:
        table.alter_column("sender", type_=sa.String(20), existing_type=sa.String(40))
