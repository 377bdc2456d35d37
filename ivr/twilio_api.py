"""Twilio's REST API as the IVR reaches it: at TWILIO_API_URL, each request within one overall
deadline.

twilio-python's own client bounds only the gap between bytes (requests' read timeout), so a
reply dripping a byte a second, or headers that never end, holds the caller's webhook for as
long as the drip lasts (Twilio gives a webhook 15 s: https://www.twilio.com/docs/api/errors/11205).
Here the request runs on a worker thread and the webhook waits at most `deadline`; a request
still running then is left to finish on its own, and a call it placed after all is hung up
(a late leg must not ring the agents for a caller already put through another way). After a
deadline or a connection failure the API counts as down for `rest` seconds, so the callers
behind it are served the way that needs no REST call at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

log = logging.getLogger("ivr.twilio")
TWILIO_API = "https://api.twilio.com"


class TwilioDeadline(TimeoutError):
    """Twilio's API did not answer in time: the request may or may not have had its effect."""


class TwilioApi(HttpClient):  # type: ignore[misc]
    """twilio-python's HTTP seam: TWILIO_API_URL in place of api.twilio.com, one deadline."""

    def __init__(
        self, base_url: str = TWILIO_API, deadline: float = 2.0, inner: Any = None, rest: float = 30.0
    ) -> None:
        super().__init__(logging.getLogger("ivr.twilio.http"), False)
        self.base_url = base_url.rstrip("/")
        self.deadline = deadline
        self.rest = rest
        self.inner = inner or TwilioHttpClient(timeout=deadline)  # also bounds each gap between bytes
        self._down_until = 0.0

    @property
    def up(self) -> bool:
        """False for a while after the API missed a deadline or refused a connection."""
        return time.monotonic() >= self._down_until

    def request(self, method: str, uri: str, *args: Any, **kwargs: Any) -> Response:
        if uri.startswith(TWILIO_API):
            uri = self.base_url + uri[len(TWILIO_API) :]
        outcome: dict[str, Any] = {}
        late = threading.Event()

        def run() -> None:
            try:
                outcome["response"] = self.inner.request(method, uri, *args, **kwargs)
            except BaseException as exc:  # handed to the waiting thread, or logged if it left
                outcome["error"] = exc
            if late.is_set():
                self._after_deadline(method, uri, outcome.get("response"))

        worker = threading.Thread(target=run, name="ivr-twilio-api", daemon=True)
        worker.start()
        worker.join(self.deadline)
        if worker.is_alive():
            late.set()
            self._down_until = time.monotonic() + self.rest
            raise TwilioDeadline(f"{method} {uri.rsplit('/', 1)[-1]}: no answer within {self.deadline:g} s")
        if "error" in outcome:
            if isinstance(outcome["error"], OSError):
                self._down_until = time.monotonic() + self.rest
            raise outcome["error"]
        return outcome["response"]

    def _after_deadline(self, method: str, uri: str, response: Response | None) -> None:
        """A request answered after the caller was served without it: undo a call it placed."""
        if (
            method != "POST"
            or not uri.endswith("/Calls.json")
            or response is None
            or response.status_code >= 300
        ):
            return
        try:
            sid = json.loads(response.text)["sid"]
        except (ValueError, KeyError, TypeError):
            return
        log.warning("a call placed after its deadline is hung up sid=%s", sid)
        try:
            self.inner.request(
                "POST", uri.removesuffix(".json") + f"/{sid}.json", data={"Status": "completed"}
            )
        except Exception:
            log.warning("could not hang up the late call sid=%s", sid)
