"""The web layer: HTTP to and from the flows. Verify, read the form, ask the flow, return TwiML."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from twilio.twiml.voice_response import VoiceResponse

from ivr import flows
from ivr.flows import GRAPH
from ivr.flows.call import Call
from ivr.keypad import CALL_SID
from ivr.routing.regions import mask
from ivr.runtime import Runtime
from ivr.twiml_rules import e164
from ivr.wallet.guard import end_budget, start_budget
from ivr.web.metrics import Metrics
from ivr.web.signature import SignatureCheck

log = logging.getLogger("ivr.web")

# The default region's hotline, fixed here so the fallback needs neither config nor store.
# tests/test_webhooks.py keeps it equal to the shipped config's default region.
FALLBACK_HOTLINE = "+442079460001"
# The fallback's caller ID when the number dialed is not valid E.164: a number of ours (the
# default region's line), fixed here for the same reason; tests/test_twilio.py keeps it so.
FALLBACK_CALLER_ID = "+18885550100"
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


def signed_url(base: str, query: bytes) -> str:
    """The URL Twilio signed: `base` (the public base URL and the path when set, since a proxy
    may rewrite ours) and the query string exactly as sent (werkzeug's `url` would decode `%2A`
    back to `*`)."""
    sent = query.decode("latin-1")
    return base + (f"?{sent}" if sent else "")


def genuine(check: SignatureCheck, url: str, form: Mapping[str, str], signature: str, path: str) -> bool:
    """Signed by Twilio for `url` and carrying Twilio's kind of CallSid; says why not in the log."""
    if not signature or not check.ok(url, form, signature):
        log.warning("rejected unsigned webhook path=%s", path)
        return False
    if not CALL_SID.fullmatch(form.get("CallSid", "")):
        log.warning("rejected webhook with a malformed CallSid path=%s", path)
        return False
    return True


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
    public = app.config.get("PUBLIC_URL")
    base = public.rstrip("/") + req.path if public else req.base_url
    url, signature = signed_url(base, req.query_string), req.headers.get("X-Twilio-Signature", "")
    if not genuine(app.extensions["ivr.validator"], url, req.form, signature, req.path):
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
        call = getattr(context, "call", None)
        observe_webhook(
            current_app.extensions["ivr.metrics"],
            req.url_rule.rule if req.url_rule else "none",
            req.path,
            "-" if response.status_code == 413 else req.form.get("CallSid", ""),  # a 413's body is never read
            call.region.code if call is not None else None,
            response.status_code,
            elapsed,
            {},
        )
    return response


def observe_webhook(
    metrics: Metrics,
    endpoint: str,
    path: str,
    sid: str,
    region: str | None,
    status: int,
    elapsed: float,
    extra: Mapping[str, Any],
) -> None:
    """The histogram sample and the JSON log line every webhook gets, whatever its answer."""
    metrics.child(metrics.webhook_seconds, endpoint=endpoint).observe(elapsed)
    log.info(
        "webhook",
        extra={
            "call_sid": sid[:64],
            "step": path,
            "region": region,
            "status": status,
            "latency_ms": round(elapsed * 1000, 1),
            **extra,
        },
    )


# What our own action URLs carry (signed by Twilio with the URL): see `Call.url`.
QUERY_FLAGS = ("lang", "theft", "miss", "n", "about", "cb", "confirm", "for")


def current_call() -> Call:
    """This webhook's call, kept on `g` for the log line."""
    g.call = runtime().call(_params(), g.now)
    return g.call  # type: ignore[no-any-return]


def _params() -> dict[str, str]:
    req = request._get_current_object()  # type: ignore[attr-defined]
    base = current_app.config.get("PUBLIC_URL") or req.url_root  # the app's own prefix included
    return call_params(req.form, req.query_string, req.path, base)


def call_params(form: Mapping[str, str], query: bytes, path: str, base: str) -> dict[str, str]:
    """Twilio's form and our own query flags, as one flat mapping of short strings, with the
    request (`_request`, what a repeated webhook is known by) and the base URL Twilio calls
    (`_base`: every URL the TwiML and the REST calls carry starts with it)."""
    params = {k: v[:256] for k, v in form.items()}
    sent = query.decode("utf-8", "replace")
    if sent:
        flags = parse_qsl(sent, keep_blank_values=True)
        params.update({k: v[:64] for k, v in reversed(flags) if k in QUERY_FLAGS})  # the first of a repeat
    params["_request"] = f"{path}?{sent}"[:200]
    params["_base"] = base.rstrip("/")
    return params


def greet(core: Runtime, metrics: Metrics, call: Call) -> tuple[str, dict[str, Any]]:
    """The entry webhook (`ivr.web.entry`): the call's record started and counted, then the
    greeting as TwiML, with the fields of its log line."""
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
    return twiml(fallback_response(FALLBACK_HOTLINE, request.form.get("To")))


def fallback_response(number: str, dialed: str | None = None) -> VoiceResponse:
    """A fixed apology and a <Dial> to `number`: no config, no store. Its caller ID is the
    number the caller dialed (ours) when it is valid E.164, else a fixed one of ours: the
    caller's own ID may be withheld, and an invalid one gets the leg rejected (error 13214)."""
    response = VoiceResponse()
    for language, voice, words in FALLBACK_APOLOGY:
        response.say(words, language=language, voice=voice)
    response.dial(number, caller_id=dialed if dialed and e164(dialed) else FALLBACK_CALLER_ID)
    return response


def apology_and_dial(error: BaseException) -> Response:
    """Any unexpected failure in a webhook: say sorry and put the caller through."""
    try:
        params = _params()
    except Exception:
        params = {}
    core = current_app.extensions.get("ivr")
    return twiml(apology(core, params, request.path, g.get("now"), error))


def apology(
    core: Runtime | None, params: Mapping[str, str], path: str, now: datetime | None, error: BaseException
) -> VoiceResponse:
    """Say sorry and put the caller through to their region's hotline (a theft caller to the
    24/7 fraud desk, whatever broke); when even that fails, or nothing is loaded, the fixed
    apology."""
    number = FALLBACK_HOTLINE
    try:
        if core is None:
            raise LookupError("no config or store loaded")
        core.events.error("store" if isinstance(error, SQLAlchemyError) else "webhook")
        call = core.call(params, now or core.now())
        number = call.config.fraud_desk if call.theft or "lockdown" in path else call.region.hotline
        response = VoiceResponse()
        call.say(response, call.line("apology"))
        response.dial(number, caller_id=call.caller_id)
    except Exception:
        response = fallback_response(number, params.get("To"))
    log.error(
        "webhook failed sid=%s from=%s path=%s error=%s",
        params.get("CallSid", "-")[:64],
        mask(params.get("From")),
        path,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__),
    )
    return response


def init_app(app: Flask) -> None:
    from ivr.web import ops
    from ivr.web.entry import EntryWebhook

    app.extensions["ivr.validator"] = SignatureCheck(app.config["TWILIO_AUTH_TOKEN"])
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES  # a chunked body is cut off at the same size
    app.wsgi_app = EntryWebhook(app)  # type: ignore[method-assign]
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
