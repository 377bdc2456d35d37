"""When a caller who books a callback should expect it: a promise that is true when it is made.

Pure: the region's status now (hours, holidays, closures), the instant, how many callbacks
wait ahead, and (open, but the backlog runs past closing) when agents open next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ivr.routing.hours import Status

# What one callback takes of the agents' time: the dialer calls one after another, and each is
# an agent's call. Kept on the safe side, so "within the hour" is a promise we can keep.
MINUTES_PER_CALLBACK = 10
WITHIN_THE_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class CallbackPromise:
    """What to tell the caller: `kind` names the prompt; `at` the opening for `when_open`."""

    kind: str  # within_hour | today | when_open | no_time
    at: datetime | None = None


def callback_promise(
    status: Status, now: datetime, waiting: int, next_opening: datetime | None = None
) -> CallbackPromise:
    """Open with room before closing: within the hour, else later today; closed (or the backlog
    past closing): when agents next open (`status.next_open`, or `next_opening` after today's
    close); an emergency closure with no end: no time at all."""
    if status.open:
        done_by = now + timedelta(minutes=MINUTES_PER_CALLBACK * (waiting + 1))
        closes = status.closes_at
        if closes is None or done_by <= closes:
            return CallbackPromise("within_hour" if done_by - now <= WITHIN_THE_HOUR else "today")
        return CallbackPromise("when_open", next_opening) if next_opening else CallbackPromise("no_time")
    if status.next_open is None:
        return CallbackPromise("no_time")
    return CallbackPromise("when_open", status.next_open)
