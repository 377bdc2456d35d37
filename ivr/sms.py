"""Text messages: always recorded in the outbox; sent through Twilio, off the webhooks' path,
when it is configured.

Only `send_to_account` exists: a message can only go to the number registered on an account,
never to a number a caller typed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from ivr.routing.regions import mask
from ivr.store import Store, texts
from ivr.twilio_api import TwilioDeadline
from ivr.twiml_rules import MESSAGING_SERVICE
from ivr.wallet import Account

log = logging.getLogger("ivr.sms")
REDACTED = "[redacted]"


MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(seconds=30)  # then doubling: 30 s, 1 min, 2 min, 4 min


class SmsSender:
    """The outbox, plus Twilio's Messages API when `client` is given.

    A webhook only writes the text to the outbox (`queued`): no caller waits on Twilio, and
    the webhook takes the same time whether or not a text goes out. `drain` sends what is
    queued or due for a retry, off every webhook's path: a thread in each server process
    (`start`) and `ivr sms retry`. Each text is claimed before it is sent, so two senders
    never send it twice; a reply that leaves its fate unknown (no answer in time, or a
    success that is not JSON) marks it `unconfirmed` and it is never sent again, since a
    second one-time code or lockdown text would be a second effect of one step.
    """

    def __init__(
        self,
        store: Store,
        client: Client | None = None,
        from_number: str | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.from_number = from_number  # IVR_SMS_FROM, for regions that set no sms_from
        self.on_failure = on_failure  # for metrics: a text Twilio would not take
        self._wake = threading.Event()

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
        """Queue a text to the account's registered phone from `sender` (the region's
        sms_from; default IVR_SMS_FROM); returns the outbox status.

        `secrets` (codes, links) are kept out of the stored copy; the full text waits in
        `pending_body` until it is sent or `lifetime` has passed.
        """
        to = account.phone
        if self.client is None:
            self._insert(to=to, body=body, status="outbox", created_at=now, attempts=0)
            return "outbox"
        stored = body
        for secret in secrets:
            stored = stored.replace(secret, REDACTED)
        self._insert(
            to=to,
            body=stored,
            status="queued",
            created_at=now,
            attempts=0,
            sender=sender or self.from_number,
            pending_body=body,
            expires_at=now + lifetime,
            next_try_at=now,
        )
        self._wake.set()
        return "queued"

    def _deliver(self, to: str, body: str, sender: str | None) -> tuple[str, str | None]:
        """Hand one message to Twilio: ("sent", sid), ("failed", error) when Twilio surely did
        not take it, or ("unconfirmed", error) when it may have."""
        assert self.client is not None
        if not sender:
            return "failed", "no SMS sender: set sms_from in regions.yaml or IVR_SMS_FROM"
        # A Messaging Service picks the sender itself (https://www.twilio.com/docs/messaging/api/message-resource).
        source = (
            {"messaging_service_sid": sender} if MESSAGING_SERVICE.fullmatch(sender) else {"from_": sender}
        )
        try:
            message = self.client.messages.create(to=to, body=body, **source)
        except TwilioRestException as exc:  # Twilio answered with an error status: not sent
            outcome = "failed", f"{type(exc).__name__} {exc.status}"
        except TwilioDeadline as exc:
            outcome = "unconfirmed", type(exc).__name__
        except (TwilioException, OSError) as exc:  # no connection: not sent
            outcome = "failed", type(exc).__name__
        except ValueError as exc:  # a 2xx whose body is not JSON (an HTML page): taken or not
            outcome = "unconfirmed", type(exc).__name__
        else:
            return "sent", str(message.sid)
        log.warning("sms not sent to=%s result=%s error=%s", mask(to), outcome[0], outcome[1])
        if self.on_failure:
            self.on_failure()
        return outcome

    def _insert(self, **values: Any) -> None:
        self.store.run(texts.record, **values)

    def drain(self, now: datetime) -> dict[str, int]:
        """Send every queued text, and every failed one whose next try has come; counts by
        result."""
        counts = {"sent": 0, "failed": 0, "expired": 0, "unconfirmed": 0}
        if self.client is None:
            return counts
        with self.store.begin() as connection:
            due = texts.due_for_retry(connection, now)
        for row in due:
            with self.store.begin() as connection:
                if not texts.claim(connection, row["id"], row["status"]):
                    continue  # another sender has it
            values: dict[str, Any]
            if row["expires_at"] <= now or row["attempts"] >= MAX_ATTEMPTS:
                values = {
                    "status": "failed",
                    "pending_body": None,
                    "error": "gave up: expired or too many attempts",
                }
                counts["expired"] += 1
            else:
                result, detail = self._deliver(
                    row["to_number"], row["pending_body"], row["sender"] or self.from_number
                )
                values = {"status": result, "attempts": row["attempts"] + 1}
                if result == "sent":
                    values.update(pending_body=None, error=None, provider_sid=detail)
                elif result == "unconfirmed":
                    values.update(pending_body=None, error=detail)
                else:
                    values.update(error=detail, next_try_at=now + FIRST_RETRY * 2 ** row["attempts"])
                counts[result] += 1
            with self.store.begin() as connection:
                texts.update_text(connection, row["id"], **values)
        return counts

    retry_due = drain  # `ivr sms retry`: the same pass

    def start(self, clock: Callable[[], datetime], every: float = 2.0) -> threading.Thread | None:
        """Drain in the background: at once when a webhook queues a text, else every `every`
        seconds (retries); a store that is away is tried at the next pass."""
        if self.client is None:
            return None

        def run() -> None:
            while True:
                self._wake.wait(every)
                self._wake.clear()
                try:
                    self.drain(clock())
                except Exception:
                    log.warning("sms sender pass skipped: the store is unavailable")

        thread = threading.Thread(target=run, name="ivr-sms-sender", daemon=True)
        thread.start()
        return thread

    def outbox(self, limit: int | None = None, since: datetime | None = None) -> list[dict[str, Any]]:
        return self.store.run(texts.listing, limit=limit, since=since)
