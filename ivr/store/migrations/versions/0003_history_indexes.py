"""indexes for every query a webhook, page or report makes, and for the purge

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_attempts_kind_subject_at": ("attempts", ["kind", "subject", "at"]),
    "ix_calls_started_at": ("calls", ["started_at"]),
    "ix_cases_kind_status": ("cases", ["kind", "status"]),
    "ix_cases_created_at": ("cases", ["created_at"]),
    "ix_cases_call_sid": ("cases", ["call_sid"]),
    "ix_call_steps_created_at": ("call_steps", ["created_at"]),
    "ix_call_state_updated_at": ("call_state", ["updated_at"]),
    "ix_sms_outbox_status_next_try_at": ("sms_outbox", ["status", "next_try_at"]),
    "ix_sms_outbox_created_at": ("sms_outbox", ["created_at"]),
    "ix_one_time_codes_expires_at": ("one_time_codes", ["expires_at"]),
    "ix_reset_tokens_expires_at": ("reset_tokens", ["expires_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
