"""Text messages: always recorded in the outbox; sent through Twilio when it is configured.

Only `send_to_account` exists: a message can only go to the number registered on an account,
never to a number a caller typed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from ivr.routing.regions import mask
from ivr.store import Store, texts
from ivr.wallet import Account

log = logging.getLogger("ivr.sms")
REDACTED = "[redacted]"


MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(seconds=30)  # then doubling: 30 s, 1 min, 2 min, 4 min


class SmsSender:
    """The outbox, plus Twilio's Messages API when `client` is given."""

    def __init__(
        self,
        store: Store,
        client: Client | None = None,
        from_number: str | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.from_number = from_number
        self.on_failure = on_failure  # for metrics: a text Twilio would not take

    def send_to_account(
        self,
        account: Account,
        body: str,
        now: datetime,
        *,
        secrets: tuple[str, ...] = (),
        sender: str | None = None,
        lifetime: timedelta = timedelta(hours=24),
    ) -> str:
        """Text the account's registered phone; returns the outbox status.

        `secrets` (codes, links) are kept out of the stored copy once Twilio has the message.
        A failed message is retried with backoff (`retry_due`) until `lifetime` has passed.
        """
        to = account.phone
        if self.client is None:
            self._insert(to=to, body=body, status="outbox", created_at=now, attempts=0)
            return "outbox"
        stored = body
        for secret in secrets:
            stored = stored.replace(secret, REDACTED)
        source = self.from_number or sender
        error = self._deliver(to, body, source)
        if error is None:
            self._insert(to=to, body=stored, status="sent", created_at=now, attempts=1, sender=source)
            return "sent"
        self._insert(
            to=to,
            body=stored,
            status="failed",
            created_at=now,
            attempts=1,
            error=error,
            sender=source,
            pending_body=body,
            expires_at=now + lifetime,
            next_try_at=now + FIRST_RETRY,
        )
        return "failed"

    def _deliver(self, to: str, body: str, sender: str | None) -> str | None:
        """Hand one message to Twilio; the error's name, or None when accepted."""
        assert self.client is not None
        try:
            self.client.messages.create(to=to, from_=sender, body=body)
        except (TwilioException, OSError) as exc:
            log.warning("sms failed to=%s error=%s", mask(to), type(exc).__name__)
            if self.on_failure:
                self.on_failure()
            return type(exc).__name__
        return None

    def _insert(self, **values: Any) -> None:
        self.store.run(texts.record, **values)

    def retry_due(self, now: datetime) -> dict[str, int]:
        """Send again every failed message whose next try has come; counts by result."""
        counts = {"sent": 0, "failed": 0, "expired": 0}
        if self.client is None:
            return counts
        with self.store.begin() as connection:
            due = texts.due_for_retry(connection, now)
        for row in due:
            values: dict[str, Any]
            if row["expires_at"] <= now or row["attempts"] >= MAX_ATTEMPTS:
                values = {"pending_body": None, "error": "gave up: expired or too many attempts"}
                counts["expired"] += 1
            elif (error := self._deliver(row["to_number"], row["pending_body"], row["sender"])) is None:
                values = {
                    "status": "sent",
                    "pending_body": None,
                    "attempts": row["attempts"] + 1,
                    "error": None,
                }
                counts["sent"] += 1
            else:
                values = {
                    "attempts": row["attempts"] + 1,
                    "error": error,
                    "next_try_at": now + FIRST_RETRY * 2 ** row["attempts"],
                }
                counts["failed"] += 1
            with self.store.begin() as connection:
                texts.update_text(connection, row["id"], **values)
        return counts

    def outbox(self, limit: int | None = None, since: datetime | None = None) -> list[dict[str, Any]]:
        return self.store.run(texts.listing, limit=limit, since=since)
