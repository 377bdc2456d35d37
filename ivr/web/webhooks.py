"""The web layer's routes: every Twilio webhook declared once (its URL rule and its handler,
served by the one pipeline in `ivr.web.pipeline`), and the app's own pages (health, readiness,
metrics). A handler only asks the flow: the pipeline has verified, parsed and will observe."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST
from twilio.twiml.voice_response import VoiceResponse

from ivr import flows
from ivr.flows.call import Call
from ivr.routing.regions import mask
from ivr.runtime import Runtime
from ivr.web.metrics import Metrics
from ivr.web.pipeline import (
    FALLBACK_CALLER_ID,
    FALLBACK_HOTLINE,
    MAX_BODY_BYTES,
    Answer,
    Handler,
    Turn,
    Webhooks,
    fallback_response,
    serve,
)
from ivr.web.signature import SignatureCheck

log = logging.getLogger("ivr.web")
__all__ = [
    "FALLBACK_CALLER_ID",
    "FALLBACK_HOTLINE",
    "MAX_BODY_BYTES",
    "WEBHOOKS",
    "fallback_response",
    "init_app",
]


def runtime() -> Runtime:
    return current_app.extensions["ivr"]  # type: ignore[no-any-return]


def greet(core: Runtime, metrics: Metrics, call: Call) -> tuple[str, dict[str, Any]]:
    """The call's record started and counted, then the greeting as TwiML, with the fields of
    its log line."""
    core.record_start(call)
    route = call.route
    metrics.child(metrics.calls, region=call.region.code, matched_by=route.matched_by).inc()
    # The greeting depends only on the region, language and hours: render it once a minute.
    status = call.status
    hint = flows.main.local_number(call)  # a caller who dialed another region's line hears theirs
    key = (
        "answer",
        call.params.get("_base"),
        call.region.code,
        call.language,
        status.open,
        status.reason,
        status.next_open,
        hint,
    )
    xml = core.memo(key, lambda: str(flows.answer(call)))
    extra = {"caller": mask(call.params.get("From")), "matched_by": route.matched_by, "open": status.open}
    return xml, extra


def voice(turn: Turn) -> Answer:
    """POST /voice, the number's Voice URL: every call starts here."""
    call = turn.core.call(turn.params, turn.now)
    xml, extra = greet(turn.core, turn.core.events.metrics, call)
    return Answer(xml, call.region.code, extra)


def menu(turn: Turn) -> Answer:
    """A menu's <Gather> action: the key pressed or the words said."""
    call = turn.core.call(turn.params, turn.now)
    graph = turn.core.graph
    found = graph.menus.get(turn.args["name"])
    response = flows.choose(call, found) if found is not None else graph.steps["main"](call)
    return Answer(str(response), call.region.code)


def step(turn: Turn) -> Answer:
    """A step's own URL (a redirect, a <Dial> action, the agent's whisper)."""
    call = turn.core.call(turn.params, turn.now)
    steps = turn.core.graph.steps
    return Answer(str(steps.get(turn.args["name"], steps["main"])(call)), call.region.code)


def call_status(turn: Turn) -> Answer:
    """The call status callback: ends the call's record."""
    sid = turn.params.get("CallSid", "")[:64]
    if sid:
        turn.core.record_end(
            sid, turn.params.get("CallStatus", "completed"), turn.params.get("CallDuration"), turn.now
        )
    return Answer(str(VoiceResponse()))


def fallback(turn: Turn) -> Answer:
    """The number's Voice Fallback URL: a fixed apology and a <Dial>, needing no config or store."""
    return Answer(str(fallback_response(FALLBACK_HOTLINE, turn.params.get("To"))))


# Every Twilio webhook: its URL rule and handler, each served by `ivr.web.pipeline`.
WEBHOOKS: dict[str, tuple[str, Handler]] = {
    "voice.entry": ("/voice", voice),
    "voice.menu": ("/voice/menu/<name>", menu),
    "voice.step": ("/voice/step/<name>", step),
    "voice.status": ("/voice/status", call_status),
    "voice.fallback": ("/voice/fallback", fallback),
}


def init_app(app: Flask) -> None:
    from ivr.web import ops

    app.extensions["ivr.validator"] = SignatureCheck(app.config["TWILIO_AUTH_TOKEN"])
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES  # a chunked body is cut off at the same size
    for endpoint, (rule, handler) in WEBHOOKS.items():  # listed in the URL map, served in front
        app.add_url_rule(
            rule, endpoint, _flask_view(app, handler), methods=["POST"], provide_automatic_options=False
        )
    app.wsgi_app = Webhooks(  # type: ignore[method-assign]
        app.wsgi_app,
        app.url_map,
        {endpoint: handler for endpoint, (_, handler) in WEBHOOKS.items()},
        app.extensions,
        app.config.get("PUBLIC_URL"),
    )
    app.register_blueprint(ops.bp)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        from werkzeug.exceptions import HTTPException

        if isinstance(error, HTTPException):
            return error
        log.exception("request failed path=%s", request.path)
        return Response("internal error\n", status=500, mimetype="text/plain")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.get("/readyz")
    def readyz() -> Response:
        ready = "ivr" in app.extensions and runtime().store.ping()
        return Response(
            "ready\n" if ready else "not ready\n", status=200 if ready else 503, mimetype="text/plain"
        )

    @app.get("/metrics")
    def metrics() -> Response:
        token = app.config.get("METRICS_TOKEN")
        if token and not bearer_ok(request.headers.get("Authorization", ""), token):
            return Response(
                "bearer token required\n", 401, {"WWW-Authenticate": 'Bearer realm="ivr metrics"'}
            )
        return Response(app.extensions["ivr.metrics"].exposition(), mimetype=CONTENT_TYPE_LATEST)


def _flask_view(app: Flask, handler: Handler) -> Callable[..., Any]:
    """The same webhook reached through Flask (a request Flask dispatches itself, as in a
    request context): the pipeline, as a thin adapter."""

    def view(**args: str) -> Any:
        hooks = app.wsgi_app
        assert isinstance(hooks, Webhooks)
        rule = request.url_rule.rule if request.url_rule else request.path
        return serve(hooks, request.environ, rule, handler, args)

    return view


def bearer_ok(header: str, token: str) -> bool:
    """`Authorization: Bearer <token>`, as Prometheus' `authorization` setting sends it."""
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
