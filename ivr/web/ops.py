"""The ops status page, `/ops`: server-rendered HTML behind basic auth (off when unset)."""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections import deque

from flask import Blueprint, Response, abort, current_app, g, render_template, request

from ivr.reports import ops_snapshot
from ivr.web import casework

bp = Blueprint("ops", __name__)
log = logging.getLogger("ivr.ops")

# Failed logins, in sliding windows (per server process). Per account and client address: a
# guesser is slowed at once, and only on the account it guesses, so a neighbour behind the ops
# team's NAT guessing some other name never locks the team out. Per account from anywhere: at
# most 100 failures (NIST SP 800-63B 5.2.2, "no more than 100 consecutive failed attempts").
LOGIN_FAILURES_ALLOWED = 5
LOGIN_WINDOW_SECONDS = 60.0
ACCOUNT_FAILURES_ALLOWED = 100
ACCOUNT_WINDOW_SECONDS = 3600.0


class LoginThrottle:
    """Failed basic-auth logins per key (an account, an account at an address), in a sliding window."""

    def __init__(self, allowed: int = LOGIN_FAILURES_ALLOWED, window: float = LOGIN_WINDOW_SECONDS) -> None:
        self.allowed, self.window = allowed, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, key: str, now: float) -> float:
        """0 when `key` may try again, else how long until it may."""
        with self._lock:
            recent = self._recent(key, now)
            if len(recent) < self.allowed:
                return 0.0
            return recent[0] + self.window - now

    def failed(self, key: str, now: float) -> int:
        with self._lock:
            recent = self._recent(key, now)
            recent.append(now)
            if len(self._failures) > 10_000:  # a flood of addresses or names: forget the quiet ones
                self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - self.window}
            return len(recent)

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent


class LoginThrottles:
    """Both throttles: an account at one address, and an account from everywhere."""

    def __init__(self) -> None:
        self.at_address = LoginThrottle()
        self.account = LoginThrottle(ACCOUNT_FAILURES_ALLOWED, ACCOUNT_WINDOW_SECONDS)

    def wait_seconds(self, user: str, client: str, now: float) -> float:
        return max(
            self.at_address.wait_seconds(f"{user}\x1f{client}", now), self.account.wait_seconds(user, now)
        )

    def failed(self, user: str, client: str, now: float) -> int:
        self.account.failed(user, now)
        return self.at_address.failed(f"{user}\x1f{client}", now)


# Headers on every /ops answer (https://owasp.org/www-project-secure-headers/): no framing
# (CSP frame-ancestors, and X-Frame-Options for older browsers), nothing loaded but the page's
# own style (by a nonce), no type sniffing, no referrer, and case data never kept by a browser
# or a proxy (Cache-Control: no-store, RFC 9111 5.2.2.5).
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def content_security_policy(nonce: str) -> str:
    return (
        # A case page plays its voicemail (media) and closes the case (its form posts here).
        f"default-src 'none'; style-src 'nonce-{nonce}'; media-src 'self'; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def _credentials() -> tuple[str, str] | None:
    user, password = current_app.config.get("OPS_USER"), current_app.config.get("OPS_PASSWORD")
    return (user, password) if user and password else None


@bp.before_request
def require_login() -> Response | None:
    credentials = _credentials()
    if credentials is None:
        abort(404)  # no password configured: the page does not exist
    throttle: LoginThrottles = current_app.extensions.setdefault("ivr.ops_throttle", LoginThrottles())
    given = request.authorization
    user = (given.username or "")[:128] if given is not None else ""
    client, now = request.remote_addr or "-", time.monotonic()
    wait = throttle.wait_seconds(user, client, now) if given is not None else 0.0
    if wait > 0:
        return Response(
            "Too many failed logins; try again later\n", 429, {"Retry-After": str(max(1, round(wait)))}
        )
    if (
        given is None
        or given.type != "basic"
        or not hmac.compare_digest((given.username or "").encode(), credentials[0].encode())
        or not hmac.compare_digest((given.password or "").encode(), credentials[1].encode())
    ):
        if given is not None:  # a browser's first unauthenticated request is not a guess
            failures = throttle.failed(user, client, now)
            log.warning("ops login failed client=%s failures_in_window=%d", client, failures)
        return Response(
            "Login required\n", 401, {"WWW-Authenticate": 'Basic realm="IVR ops", charset="UTF-8"'}
        )
    return None


@bp.after_request
def security_headers(response: Response) -> Response:
    """Every answer of the ops page, the 401 and 429 included."""
    nonce = g.get("csp_nonce") or secrets.token_urlsafe(16)
    response.headers["Content-Security-Policy"] = content_security_policy(nonce)
    response.headers.update(SECURITY_HEADERS)
    return response


@bp.before_request
def style_nonce() -> None:
    """A fresh nonce for this answer's inline style (its CSP allows no other)."""
    g.csp_nonce = secrets.token_urlsafe(16)


@bp.context_processor
def nonce_for_templates() -> dict[str, str]:
    return {"csp_nonce": g.csp_nonce}


@bp.get("/ops")
def page() -> str:
    runtime = current_app.extensions["ivr"]
    return render_template("ops.html", **ops_snapshot(runtime, runtime.now()))


casework.init_routes(bp)
