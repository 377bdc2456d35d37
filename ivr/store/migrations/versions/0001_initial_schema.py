"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ivr.store

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "call_state",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )
    op.create_table(
        "call_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=255), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid", "step", name="uq_call_step"),
    )
    op.create_table(
        "calls",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("matched_by", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("caller_masked", sa.String(length=32), nullable=False),
        sa.Column("started_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", ivr.store.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("journey", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=True),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("transaction", sa.String(length=32), nullable=True),
        sa.Column("callback_number", sa.String(length=20), nullable=True),
        sa.Column("recording_url", sa.String(length=512), nullable=True),
        sa.Column("recording_seconds", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_at", ivr.store.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "uq_open_callback",
            ["callback_number"],
            unique=True,
            sqlite_where=sa.text("kind = 'callback' AND status = 'open'"),
            postgresql_where=sa.text("kind = 'callback' AND status = 'open'"),
        )

    op.create_table(
        "emergency_closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", ivr.store.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", ivr.store.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "one_time_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_one_time_codes_account"), ["account"], unique=False)
        batch_op.create_index(batch_op.f("ix_one_time_codes_call_sid"), ["call_sid"], unique=False)

    op.create_table(
        "reset_tokens",
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("created_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", ivr.store.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_number", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", ivr.store.UtcDateTime(timezone=True), nullable=False),
        sa.Column("next_try_at", ivr.store.UtcDateTime(timezone=True), nullable=True),
        sa.Column("pending_body", sa.Text(), nullable=True),
        sa.Column("sender", sa.String(length=20), nullable=True),
        sa.Column("expires_at", ivr.store.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "wallet_accounts",
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("pin_hash", sa.String(length=128), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("locked_at", ivr.store.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account"),
        sa.UniqueConstraint("phone"),
    )
    op.create_table(
        "wallet_transactions",
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account"],
            ["wallet_accounts.account"],
        ),
        sa.PrimaryKeyConstraint("reference"),
    )


def downgrade() -> None:
    op.drop_table("wallet_transactions")
    op.drop_table("wallet_accounts")
    op.drop_table("sms_outbox")
    op.drop_table("reset_tokens")
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_one_time_codes_call_sid"))
        batch_op.drop_index(batch_op.f("ix_one_time_codes_account"))

    op.drop_table("one_time_codes")
    op.drop_table("emergency_closures")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_open_callback",
            sqlite_where=sa.text("kind = 'callback' AND status = 'open'"),
            postgresql_where=sa.text("kind = 'callback' AND status = 'open'"),
        )

    op.drop_table("cases")
    op.drop_table("calls")
    op.drop_table("call_steps")
    op.drop_table("call_state")
    op.drop_table("attempts")
