"""The ops status page, `/ops`: server-rendered HTML behind basic auth (off when unset)."""

from __future__ import annotations

import hmac
import os

from flask import Blueprint, Response, abort, current_app, render_template, request

from ivr.reports import ops_snapshot

bp = Blueprint("ops", __name__)


def _credentials() -> tuple[str, str] | None:
    user, password = os.environ.get("IVR_OPS_USER"), os.environ.get("IVR_OPS_PASSWORD")
    configured = current_app.config.get("OPS_USER"), current_app.config.get("OPS_PASSWORD")
    user, password = configured[0] or user, configured[1] or password
    return (user, password) if user and password else None


@bp.before_request
def require_login() -> Response | None:
    credentials = _credentials()
    if credentials is None:
        abort(404)  # no password configured: the page does not exist
    given = request.authorization
    if (
        given is None
        or given.type != "basic"
        or not hmac.compare_digest((given.username or "").encode(), credentials[0].encode())
        or not hmac.compare_digest((given.password or "").encode(), credentials[1].encode())
    ):
        return Response(
            "Login required\n", 401, {"WWW-Authenticate": 'Basic realm="IVR ops", charset="UTF-8"'}
        )
    return None


@bp.get("/ops")
def page() -> str:
    hotline = current_app.extensions["ivr"]
    return render_template("ops.html", **ops_snapshot(hotline, hotline.now()))
