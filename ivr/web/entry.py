"""POST /voice, the webhook every call starts with, answered in front of Flask.

Every new call meets this webhook first, so it takes the shortest way through the server:
a WSGI handler set as the app's `wsgi_app` (Flask's place for middleware), reading the body
with werkzeug's input stream and Python's `parse_qsl`, answering TwiML straight to the server.
Flask's request context, its hooks and werkzeug's form parser cost more than all of the IVR's
own work for this webhook (README, "Throughput"). In every other way it is the blueprint's
webhook: the same 413 unread, signature and CallSid checks, answer, log line, histogram and
apology, from the same functions in `ivr.web.webhooks`. Every other request goes on to Flask.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import Forbidden, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_current_url, get_input_stream

from ivr.wallet.guard import end_budget, start_budget
from ivr.web import webhooks

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from flask import Flask

    from ivr.runtime import Runtime

PATH = "/voice"
FORM = "application/x-www-form-urlencoded"
log = logging.getLogger("ivr.web")


class EntryWebhook:
    """The app's WSGI callable: POST /voice here, everything else to Flask's own."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.flask = app.wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.flask(environ, start_response)
        try:
            response = self.answer(environ)
        except Exception:  # past the apology itself: the fixed one, which needs nothing
            log.exception("entry webhook failed")
            response = str(webhooks.fallback_response(webhooks.FALLBACK_HOTLINE, None))
        if isinstance(response, str):
            return send_twiml(response, start_response)
        return response(environ, start_response)

    def answer(self, environ: WSGIEnvironment) -> Response | str:
        """TwiML, or werkzeug's answer for a request that gets none (403, 405, 413)."""
        if environ.get("REQUEST_METHOD") != "POST":
            return MethodNotAllowed(valid_methods=["POST"]).get_response(environ)
        started = time.perf_counter()
        extensions = self.app.extensions
        core: Runtime = extensions["ivr"]
        now = core.now()  # this webhook's instant, for everything it stores
        sid, region, extra = "-", None, dict[str, Any]()
        budget = start_budget()
        try:
            form = read_form(environ)
            sid = form.get("CallSid", "")
            public = self.app.config.get("PUBLIC_URL")
            base = public.rstrip("/") + PATH if public else get_current_url(environ, strip_querystring=True)
            query = environ.get("QUERY_STRING", "").encode("latin-1")
            url, signature = webhooks.signed_url(base, query), environ.get("HTTP_X_TWILIO_SIGNATURE", "")
            if not webhooks.genuine(extensions["ivr.validator"], url, form, signature, PATH):
                response: Response | str = Forbidden().get_response(environ)
            else:
                core.refresh_soon()  # a config edit is parsed off this request and swapped in whole
                host = public or get_current_url(environ, root_only=True)
                params = webhooks.call_params(form, query, PATH, host)
                try:
                    call = core.call(params, now)
                    region = call.region.code
                    xml, extra = webhooks.greet(core, extensions["ivr.metrics"], call)
                except Exception as error:
                    xml = str(webhooks.apology(core, params, PATH, now, error))
                response = xml
        except RequestEntityTooLarge as refused:
            log.warning("refused oversized webhook path=%s bytes=%s", PATH, environ.get("CONTENT_LENGTH"))
            sid, response = "-", refused.get_response(environ)  # a 413's body is never read
        finally:
            end_budget(budget)
        elapsed = time.perf_counter() - started
        status = 200 if isinstance(response, str) else response.status_code
        webhooks.observe_webhook(extensions["ivr.metrics"], PATH, PATH, sid, region, status, elapsed, extra)
        return response


def read_form(environ: WSGIEnvironment) -> Mapping[str, str]:
    """The posted form, as werkzeug reads it: over 64 KiB is refused before a byte is read
    (RequestEntityTooLarge), a body that is not a form or not UTF-8 is an empty form. A
    field that comes twice keeps every value (a MultiDict), as the signature needs."""
    stream = get_input_stream(environ, max_content_length=webhooks.MAX_BODY_BYTES)
    if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != FORM:
        return {}
    try:
        pairs = parse_qsl(stream.read().decode(), keep_blank_values=True, errors="werkzeug.url_quote")
    except ValueError:
        return {}
    form = dict(pairs)
    return form if len(form) == len(pairs) else MultiDict(pairs)


def send_twiml(xml: str, start_response: StartResponse) -> list[bytes]:
    """200 and TwiML, with the headers werkzeug's `Response(xml, mimetype="text/xml")` sends
    (without building one: that took a tenth of this webhook's time)."""
    body = xml.encode()
    start_response(
        "200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


__all__ = ["EntryWebhook", "read_form"]
