"""The web layer: HTTP to and from the flows. Verify, read the form, ask the flow, return TwiML."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from flask import Blueprint, Flask, Request, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from twilio.twiml.voice_response import VoiceResponse

from ivr import flows
from ivr.flows import GRAPH
from ivr.flows.call import Call
from ivr.keypad import CALL_SID
from ivr.routing.regions import mask
from ivr.runtime import Runtime
from ivr.wallet.guard import end_budget, start_budget
from ivr.web.metrics import Metrics
from ivr.web.signature import SignatureCheck

log = logging.getLogger("ivr.web")

# The default region's hotline, fixed here so the fallback needs neither config nor store.
# tests/test_webhooks.py keeps it equal to the shipped config's default region.
FALLBACK_HOTLINE = "+442079460001"
FALLBACK_APOLOGY = (
    (
        "en-US",
        "Polly.Joanna-Neural",
        "We're sorry, our phone system is having trouble. Please hold while we connect you.",
    ),
    ("cmn-CN", "Polly.Zhiyu-Neural", "非常抱歉，电话系统暂时出现故障，正在为您转接客服人员。"),
)

# Bodies over this are refused (413) before a byte is read: Twilio's forms are ~2 KiB.
MAX_BODY_BYTES = 64 * 1024

bp = Blueprint("voice", __name__)


def runtime() -> Runtime:
    return current_app.extensions["ivr"]  # type: ignore[no-any-return]


def twiml(response: VoiceResponse, status: int = 200) -> Response:
    """The one way a webhook answers: TwiML as text/xml."""
    return Response(str(response), status=status, mimetype="text/xml")


def _signed_url(req: Request, public: str | None) -> str:
    """The URL Twilio signed: the public base URL when set, since a proxy may rewrite ours, and
    the query string exactly as sent (werkzeug's `url` would decode `%2A` back to `*`)."""
    query = req.query_string.decode("latin-1")
    base = public.rstrip("/") + req.path if public else req.base_url
    return base + (f"?{query}" if query else "")


@bp.before_request
def verify_signature() -> None:
    """Refuse an oversized body unread (413), then any webhook without a valid
    X-Twilio-Signature or with a CallSid that is not Twilio's (403)."""
    g.started = time.perf_counter()
    g.wallet_budget = start_budget()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    core: Runtime = app.extensions["ivr"]
    g.now = core.now()  # this webhook's instant, for everything it stores
    req = request._get_current_object()  # type: ignore[attr-defined]
    if req.content_length is not None and req.content_length > MAX_BODY_BYTES:
        log.warning("refused oversized webhook path=%s bytes=%s", req.path, req.content_length)
        abort(413)
    check: SignatureCheck = app.extensions["ivr.validator"]
    signature = req.headers.get("X-Twilio-Signature", "")
    if not signature or not check.ok(_signed_url(req, app.config.get("PUBLIC_URL")), req.form, signature):
        log.warning("rejected unsigned webhook path=%s", req.path)
        abort(403)
    if not CALL_SID.fullmatch(req.form.get("CallSid", "")):
        log.warning("rejected webhook with a malformed CallSid path=%s", req.path)
        abort(403)
    core.refresh_soon()  # a config edit is parsed off this request and swapped in whole


@bp.teardown_request
def end_wallet_budget(_error: BaseException | None) -> None:
    if "wallet_budget" in g:
        end_budget(g.wallet_budget)


@bp.after_request
def observe(response: Response) -> Response:
    """One histogram sample and one JSON log line per webhook (numbers never in either)."""
    context = g._get_current_object()
    started = getattr(context, "started", None)
    if started is not None:
        elapsed = time.perf_counter() - started
        req = request._get_current_object()  # type: ignore[attr-defined]
        metrics: Metrics = current_app.extensions["ivr.metrics"]
        endpoint = req.url_rule.rule if req.url_rule else "none"
        metrics.child(metrics.webhook_seconds, endpoint=endpoint).observe(elapsed)
        call = getattr(context, "call", None)
        oversized = response.status_code == 413  # its body is never read, not even here
        log.info(
            "webhook",
            extra={
                "call_sid": "-" if oversized else req.form.get("CallSid", "")[:64],
                "step": req.path,
                "region": call.region.code if call is not None else None,
                "status": response.status_code,
                "latency_ms": round(elapsed * 1000, 1),
                **getattr(context, "log_extra", {}),
            },
        )
    return response


# What our own action URLs carry (signed by Twilio with the URL): see `Call.url`.
QUERY_FLAGS = ("lang", "theft", "miss", "n", "about", "cb", "confirm", "for")


def current_call() -> Call:
    """This webhook's call, kept on `g` for the log line."""
    g.call = runtime().call(_params(), g.now)
    return g.call  # type: ignore[no-any-return]


def _params() -> dict[str, str]:
    """Twilio's form and our own query flags, as one flat mapping of short strings."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    params = {k: v[:256] for k, v in req.form.items()}
    if req.query_string:
        params.update({k: v[:64] for k, v in req.args.items() if k in QUERY_FLAGS})
    params["_request"] = req.full_path[:200]
    params["_base"] = (current_app.config.get("PUBLIC_URL") or req.host_url).rstrip("/")  # for the REST API
    return params


@bp.post("/voice")
def voice() -> Response:
    call = current_call()
    core = runtime()
    core.record_start(call)
    route = call.route
    metrics: Metrics = current_app.extensions["ivr.metrics"]
    metrics.child(metrics.calls, region=call.region.code, matched_by=route.matched_by).inc()
    g.log_extra = {
        "caller": mask(call.params.get("From")),
        "matched_by": route.matched_by,
        "open": call.status.open,
    }
    # The greeting depends only on the region, language and hours: render it once a minute.
    status = call.status
    hint = flows.main.local_number(call)  # a caller who dialed another region's line hears theirs
    key = ("answer", call.region.code, call.language, status.open, status.reason, status.next_open, hint)
    xml = core.memo(key, lambda: str(flows.answer(call)))
    return Response(xml, mimetype="text/xml")


@bp.post("/voice/menu/<name>")
def menu(name: str) -> Response:
    call = current_call()
    if name not in GRAPH.menus:
        return twiml(GRAPH.steps["main"](call))
    return twiml(flows.choose(call, GRAPH.menus[name]))


@bp.post("/voice/step/<name>")
def run_step(name: str) -> Response:
    call = current_call()
    return twiml(GRAPH.steps.get(name, GRAPH.steps["main"])(call))


@bp.post("/voice/status")
def call_status() -> Response:
    form = request.form
    sid = form.get("CallSid", "")[:64]
    if sid:
        runtime().record_end(sid, form.get("CallStatus", "completed"), form.get("CallDuration"), g.now)
    return twiml(VoiceResponse())


@bp.post("/voice/fallback")
def fallback() -> Response:
    return twiml(fallback_response(FALLBACK_HOTLINE))


def fallback_response(number: str) -> VoiceResponse:
    """A fixed apology and a <Dial> to `number`: no config, no store."""
    response = VoiceResponse()
    for language, voice, words in FALLBACK_APOLOGY:
        response.say(words, language=language, voice=voice)
    response.dial(number)
    return response


def apology_and_dial(error: BaseException) -> Response:
    """Any unexpected failure: say sorry and put the caller through to their region's hotline."""
    number = FALLBACK_HOTLINE
    sid = request.form.get("CallSid", "-")[:64]
    try:
        runtime().events.error("store" if isinstance(error, SQLAlchemyError) else "webhook")
        call = runtime().call(_params(), g.get("now") or runtime().now())
        # A theft caller must still reach the 24/7 fraud desk, whatever broke.
        number = call.config.fraud_desk if call.theft or "lockdown" in request.path else call.region.hotline
        response = VoiceResponse()
        call.say(response, call.line("apology"))
        response.dial(number)
    except Exception:
        response = fallback_response(number)
    log.error(
        "webhook failed sid=%s from=%s path=%s error=%s",
        sid,
        mask(request.form.get("From")),
        request.path,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__),
    )
    return twiml(response)


def init_app(app: Flask) -> None:
    from ivr.web import ops

    app.extensions["ivr.validator"] = SignatureCheck(app.config["TWILIO_AUTH_TOKEN"])
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES  # a chunked body is cut off at the same size
    app.register_blueprint(bp)
    app.register_blueprint(ops.bp)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        from werkzeug.exceptions import HTTPException

        if isinstance(error, HTTPException):
            return error
        if request.path.startswith("/voice"):
            return apology_and_dial(error)
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


def bearer_ok(header: str, token: str) -> bool:
    """`Authorization: Bearer <token>`, as Prometheus' `authorization` setting sends it."""
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
