"""The one pipeline every Twilio webhook goes through: verify, parse, hand to the flow, observe,
apologise. Framework-free (WSGI and werkzeug's parsing only), so each webhook takes the short
way through the server; `ivr.web.webhooks` declares the webhooks and lists each in the app's
URL map, and `Webhooks` (the app's `wsgi_app`) serves them here, in front of Flask, whose
request context, hooks and form parser cost more than the IVR's own work for a webhook.

Refusals come before any work, cheapest first: a method other than POST (405, whatever the
path), a body over 64 KiB (413, unread), no X-Twilio-Signature (403, unread: anyone can send
one, so it is quiet), a body the server cannot read, such as a malformed chunk (400, quiet),
then a wrong signature or a CallSid that is not Twilio's (403). Only then does the flow run;
anything it raises is the apology and a <Dial> to the caller's hotline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sqlalchemy.exc import SQLAlchemyError
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.routing import Map
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_current_url, get_input_stream

from ivr.keypad import CALL_SID
from ivr.routing.regions import mask
from ivr.services import CallOver
from ivr.twiml_rules import e164
from ivr.wallet.guard import end_budget, start_budget
from ivr.web.signature import SignatureCheck

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from ivr.runtime import Runtime
    from ivr.web.metrics import Metrics

log = logging.getLogger("ivr.web")

FORM = "application/x-www-form-urlencoded"  # Twilio posts nothing else
# Bodies over this are refused (413) before a byte is read: Twilio's forms are ~2 KiB.
MAX_BODY_BYTES = 64 * 1024
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
# What our own action URLs carry (signed by Twilio with the URL): see `Call.url`.
QUERY_FLAGS = ("lang", "theft", "miss", "n", "about", "cb", "confirm", "for", "case", "leg")


@dataclass(frozen=True)
class Turn:
    """One verified webhook, as its handler gets it."""

    core: Runtime
    params: Mapping[str, str]  # Twilio's form and our query flags (`call_params`)
    now: datetime  # the webhook's instant, taken once
    args: Mapping[str, str]  # from the URL rule (`/voice/menu/<name>`)


@dataclass(frozen=True)
class Answer:
    """A handler's TwiML, and what its log line says about the call."""

    xml: str
    region: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


Handler = Callable[[Turn], Answer]


class Webhooks:
    """The app's WSGI callable: every rule of `handlers` (each in the app's URL map) served by
    the pipeline, every other request passed on to `app` (Flask's own)."""

    def __init__(
        self,
        app: WSGIApplication,
        urls: Map,
        handlers: Mapping[str, Handler],
        extensions: Mapping[str, Any],
        public_url: str | None,
    ) -> None:
        self.app = app
        self.urls = urls
        self.handlers = handlers
        self.extensions = extensions  # the runtime, metrics and signature check, built once
        self.public = public_url.rstrip("/") if public_url else None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/voice"):
            return self.app(environ, start_response)
        try:  # matched as a POST: any other method on a webhook's path is the pipeline's 405
            rule, args = self.urls.bind_to_environ(environ).match(method="POST", return_rule=True)
        except HTTPException:
            return self.app(environ, start_response)
        handler = self.handlers.get(str(rule.endpoint))
        if handler is None:
            return self.app(environ, start_response)
        return serve(self, environ, rule.rule, handler, args)(environ, start_response)


def serve(
    hooks: Webhooks, environ: WSGIEnvironment, rule: str, handler: Handler, args: Mapping[str, str]
) -> WSGIApplication:
    """The pipeline, for one request: a WSGI response (TwiML, or werkzeug's refusal)."""
    try:
        answer = _pipeline(hooks, environ, rule, handler, args)
    except Exception:  # past the apology itself: the fixed one, which needs nothing
        log.exception("webhook failed path=%s", rule)
        answer = str(fallback_response(FALLBACK_HOTLINE))
    return twiml_response(answer) if isinstance(answer, str) else answer


def _pipeline(
    hooks: Webhooks, environ: WSGIEnvironment, rule: str, handler: Handler, args: Mapping[str, str]
) -> Response | str:
    if environ.get("REQUEST_METHOD") != "POST":  # OPTIONS too: one answer on every webhook
        return MethodNotAllowed(valid_methods=["POST"]).get_response(environ)
    started = time.perf_counter()
    path = environ.get("PATH_INFO", "")
    sid, answer = "-", Answer("")
    budget = start_budget()
    try:
        response = _refusal(hooks, environ, path)
        if isinstance(response, Response):
            reply: Response | str = response
        else:
            form = response
            sid = form.get("CallSid", "")
            core: Runtime = hooks.extensions["ivr"]
            now = core.now()
            core.refresh_soon()  # a config edit is parsed off this request and swapped in whole
            query = environ.get("QUERY_STRING", "").encode("latin-1")
            host = hooks.public or get_current_url(environ, root_only=True)  # the app's own prefix included
            params = call_params(form, query, path, host)
            try:
                answer = handler(Turn(core, params, now, args))
                reply = answer.xml
            except CallOver:  # a captured request replayed: nothing acts, nobody hears
                log.warning("refused a step of a call that is over sid=%s path=%s", sid[:64], path)
                hangup = VoiceResponse()
                hangup.hangup()
                reply = str(hangup)
            except Exception as error:
                reply = str(apology(core, params, path, now, error))
    finally:
        end_budget(budget)
    status = 200 if isinstance(reply, str) else reply.status_code
    elapsed = time.perf_counter() - started
    observe_webhook(
        hooks.extensions["ivr.metrics"], rule, path, sid, answer.region, status, elapsed, answer.extra
    )
    return reply


def _refusal(hooks: Webhooks, environ: WSGIEnvironment, path: str) -> Response | Mapping[str, str]:
    """werkzeug's refusal (413, 403, 400), or the verified form."""
    length = environ.get("CONTENT_LENGTH", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        log.warning("refused oversized webhook path=%s bytes=%s", path, length)
        return RequestEntityTooLarge().get_response(environ)  # a 413's body is never read
    signature = environ.get("HTTP_X_TWILIO_SIGNATURE", "")
    if not signature:  # the body is never read for it: anyone can send this, so no alarm
        log.warning("rejected unsigned webhook path=%s", path)
        return Forbidden().get_response(environ)
    try:
        form = read_form(environ)
    except RequestEntityTooLarge as too_large:
        log.warning("refused oversized webhook path=%s bytes=%s", path, length or "chunked")
        return too_large.get_response(environ)
    except Exception as error:  # the server's own: gunicorn's InvalidChunkSize, a reset
        log.warning("refused unreadable webhook body path=%s error=%s", path, type(error).__name__)
        unreadable = BadRequest().get_response(environ)
        unreadable.headers["Connection"] = "close"  # the stream is out of step: no keep-alive
        return unreadable
    base = hooks.public + path if hooks.public else get_current_url(environ, strip_querystring=True)
    url = signed_url(base, environ.get("QUERY_STRING", "").encode("latin-1"))
    if not genuine(hooks.extensions["ivr.validator"], url, form, signature, path):
        return Forbidden().get_response(environ)
    return form


def read_form(environ: WSGIEnvironment) -> Mapping[str, str]:
    """The posted form, as werkzeug reads it: over 64 KiB is refused before a byte is read
    (RequestEntityTooLarge), a body that is not a url-encoded form or not UTF-8 is an empty form
    (so its signature fails: a signed multipart body is refused as every webhook refuses it). A
    field that comes twice keeps every value (a MultiDict), as the signature needs."""
    stream = get_input_stream(environ, max_content_length=MAX_BODY_BYTES)
    if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != FORM:
        return {}
    body = stream.read()
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
    except ValueError:
        return {}
    form = dict(pairs)
    return form if len(form) == len(pairs) else MultiDict(pairs)


def twiml_response(xml: str) -> WSGIApplication:
    """200 and TwiML, with the headers werkzeug's `Response(xml, mimetype="text/xml")` sends
    (without building one: that took a tenth of a webhook's time)."""
    body = xml.encode()

    def send(_environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response(
            "200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return send


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


def call_params(form: Mapping[str, str], query: bytes, path: str, base: str) -> dict[str, str]:
    """Twilio's form and our own query flags, as one flat mapping of short strings, with the
    request (`_request`, what a repeated webhook is known by) and the base URL Twilio calls
    (`_base`, for the REST API)."""
    params = {k: v[:256] for k, v in form.items()}
    sent = query.decode("utf-8", "replace")
    if sent:
        flags = parse_qsl(sent, keep_blank_values=True)
        params.update({k: v[:64] for k, v in reversed(flags) if k in QUERY_FLAGS})  # the first of a repeat
    params["_request"] = f"{path}?{sent}"[:200]
    params["_base"] = base.rstrip("/")
    return params


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


def fallback_response(number: str, dialed: str | None = None) -> VoiceResponse:
    """A fixed apology and a <Dial> to `number`: no config, no store. Its caller ID is the
    number the caller dialed (ours) when it is valid E.164, else a fixed one of ours: the
    caller's own ID may be withheld, and an invalid one gets the leg rejected (error 13214)."""
    response = VoiceResponse()
    for language, voice, words in FALLBACK_APOLOGY:
        response.say(words, language=language, voice=voice)
    response.dial(number, caller_id=dialed if dialed and e164(dialed) else FALLBACK_CALLER_ID)
    return response


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


__all__ = [
    "FALLBACK_HOTLINE",
    "MAX_BODY_BYTES",
    "Answer",
    "Handler",
    "Turn",
    "Webhooks",
    "apology",
    "fallback_response",
    "read_form",
]
