"""The ops status page, `/ops`: server-rendered HTML behind basic auth (off when unset)."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque

from flask import Blueprint, Response, abort, current_app, render_template, request

from ivr.reports import ops_snapshot
from ivr.web import casework

bp = Blueprint("ops", __name__)
log = logging.getLogger("ivr.ops")

# Failed logins a client may make in a window before it is told to wait (per server process).
LOGIN_FAILURES_ALLOWED = 5
LOGIN_WINDOW_SECONDS = 60.0


class LoginThrottle:
    """Failed basic-auth logins per client address, in a sliding window."""

    def __init__(self, allowed: int = LOGIN_FAILURES_ALLOWED, window: float = LOGIN_WINDOW_SECONDS) -> None:
        self.allowed, self.window = allowed, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, client: str, now: float) -> float:
        """0 when `client` may try again, else how long until it may."""
        with self._lock:
            recent = self._recent(client, now)
            if len(recent) < self.allowed:
                return 0.0
            return recent[0] + self.window - now

    def failed(self, client: str, now: float) -> int:
        with self._lock:
            recent = self._recent(client, now)
            recent.append(now)
            if len(self._failures) > 10_000:  # a flood of addresses: forget the quiet ones
                self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - self.window}
            return len(recent)

    def _recent(self, client: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent


def _credentials() -> tuple[str, str] | None:
    user, password = current_app.config.get("OPS_USER"), current_app.config.get("OPS_PASSWORD")
    return (user, password) if user and password else None


@bp.before_request
def require_login() -> Response | None:
    credentials = _credentials()
    if credentials is None:
        abort(404)  # no password configured: the page does not exist
    throttle: LoginThrottle = current_app.extensions.setdefault("ivr.ops_throttle", LoginThrottle())
    client, now = request.remote_addr or "-", time.monotonic()
    wait = throttle.wait_seconds(client, now)
    if wait > 0:
        return Response(
            "Too many failed logins; try again later\n", 429, {"Retry-After": str(max(1, round(wait)))}
        )
    given = request.authorization
    if (
        given is None
        or given.type != "basic"
        or not hmac.compare_digest((given.username or "").encode(), credentials[0].encode())
        or not hmac.compare_digest((given.password or "").encode(), credentials[1].encode())
    ):
        if given is not None:  # a browser's first unauthenticated request is not a guess
            failures = throttle.failed(client, now)
            log.warning("ops login failed client=%s failures_in_window=%d", client, failures)
        return Response(
            "Login required\n", 401, {"WWW-Authenticate": 'Basic realm="IVR ops", charset="UTF-8"'}
        )
    return None


@bp.get("/ops")
def page() -> str:
    runtime = current_app.extensions["ivr"]
    return render_template("ops.html", **ops_snapshot(runtime, runtime.now()))


casework.init_routes(bp)
