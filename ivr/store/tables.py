"""The store's tables (SQLAlchemy Core): what each keeps is said beside it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

metadata = MetaData()
# INSERT ... ON CONFLICT, by dialect (the two databases the store supports).
UPSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


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

WAITING_CALLBACK = "kind = 'callback' AND status IN ('open', 'calling')"
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
    # Callbacks (migration 0005): each attempt as JSON `[{"at", "result", "call_sids"}]`, when the
    # next may be made, and the lease of the worker dialing it now (expired: it died; retry).
    Column("outcome", String(24)),  # a lockdown's: locked | no_wallet | lock_failed | not_verified
    Column("topic", String(16)),  # what the caller was doing when they asked (the agent's whisper)
    Column("attempts", Text, nullable=False, server_default="[]"),
    Column("next_attempt_at", UtcDateTime()),
    Column("lease_until", UtcDateTime()),
    # Every kind: who closed it and when (the note is `note`).
    Column("closed_at", UtcDateTime()),
    Column("closed_by", String(64)),
    # One waiting callback per number (waiting or being dialed), enforced by the database itself:
    # a closed or failed one never blocks a new request.
    Index(
        "uq_open_callback",
        "callback_number",
        unique=True,
        sqlite_where=text(WAITING_CALLBACK),
        postgresql_where=text(WAITING_CALLBACK),
    ),
)

sms_outbox = Table(
    "sms_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("to_number", String(20), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # outbox | queued | sending | sent | failed | unconfirmed
    Column("attempts", Integer, nullable=False, default=0),
    Column("provider_sid", String(64)),
    Column("error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_try_at", UtcDateTime()),
    # A failed message keeps its full text here, for retries, until sent or expired.
    Column("pending_body", Text),
    Column("sender", String(40)),  # a number, an alphanumeric ID or an MG... Messaging Service
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
    Column("created_at", UtcDateTime()),  # when the transfer was made (migration 0004)
)


# Every query that history would otherwise slow down has its index (migration 0003).
Index("ix_attempts_kind_subject_at", attempts.c.kind, attempts.c.subject, attempts.c.at)
Index("ix_calls_started_at", calls.c.started_at)
Index("ix_cases_kind_status", cases.c.kind, cases.c.status)
Index("ix_cases_created_at", cases.c.created_at)
Index("ix_cases_call_sid", cases.c.call_sid)
Index("ix_cases_status_next_attempt_at", cases.c.status, cases.c.next_attempt_at)
Index("ix_call_steps_created_at", call_steps.c.created_at)
Index("ix_call_state_updated_at", call_state.c.updated_at)
Index("ix_sms_outbox_status_next_try_at", sms_outbox.c.status, sms_outbox.c.next_try_at)
Index("ix_sms_outbox_created_at", sms_outbox.c.created_at)
Index("ix_one_time_codes_expires_at", one_time_codes.c.expires_at)
Index("ix_reset_tokens_expires_at", reset_tokens.c.expires_at)
