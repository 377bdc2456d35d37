"""Calls the IVR places itself, through Twilio's Calls API: the agents' leg for a caller on
hold, and moving or ending a call.

Twilio plays only a ring tone during a <Dial>, so a caller waiting for a dialing region's
agents would hear nothing of the lockdown while the hotline rings. With TWILIO_ACCOUNT_SID
set, the IVR instead puts the caller on hold (a queue of their own, with music and the
waiting menu) and rings the hotline itself; the agent who answers hears the whisper and is
bridged to that caller. Without it, `available` is False and the caller gets the <Dial>.
Every failure is logged (numbers masked) and answered with None or False: the caller is then
put through the old way, or offered a callback.
"""

from __future__ import annotations

import logging
from typing import Any

from twilio.base.exceptions import TwilioException

from ivr.routing.regions import mask

log = logging.getLogger("ivr.agentline")


class AgentLine:
    """Twilio's Calls API, when a REST `client` is configured."""

    def __init__(self, client: Any = None, api: Any = None) -> None:
        self.client = client
        self.api = api  # ivr.twilio_api.TwilioApi: its deadline, and whether the API is up

    @property
    def available(self) -> bool:
        """A REST client, and an API that has not just missed a deadline (then the caller is
        put through the way that needs no REST call at once)."""
        return self.client is not None and (self.api is None or self.api.up)

    def ring(
        self,
        to: str,
        from_: str,
        url: str,
        fallback_url: str,
        status_callback: str,
        timeout: int,
        **extra: str,
    ) -> str | None:
        """Place a call to `to` that runs `url` when answered (`fallback_url` when that fails:
        https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource); its Call
        SID, or None. `extra`: more of the Calls API's parameters (the dialer's
        `machine_detection`)."""
        if self.client is None:
            return None
        try:
            placed = self.client.calls.create(
                to=to,
                from_=from_,
                url=url,
                method="POST",
                fallback_url=fallback_url,
                fallback_method="POST",
                status_callback=status_callback,
                status_callback_method="POST",
                timeout=timeout,
                **extra,
            )
        except (TwilioException, OSError, ValueError) as exc:  # ValueError: a reply that is not JSON
            log.warning("agent leg not placed to=%s error=%s", mask(to), type(exc).__name__)
            return None
        return str(placed.sid)

    def redirect(self, sid: str, url: str) -> bool:
        """Make the live call `sid` run `url` now (it leaves any queue it waits in)."""
        return self._update(sid, url=url, method="POST")

    def hang_up(self, sid: str) -> bool:
        """End `sid`, ringing or answered."""
        return self._update(sid, status="completed")

    def _update(self, sid: str, **changes: str) -> bool:
        if self.client is None:
            return False
        try:
            self.client.calls(sid).update(**changes)
        except (TwilioException, OSError, ValueError) as exc:  # the call may have ended meanwhile
            log.info("call not updated sid=%s error=%s", sid, type(exc).__name__)
            return False
        return True
