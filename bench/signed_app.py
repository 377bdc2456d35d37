"""A floor for every IVR webhook: the bare app plus only what every webhook must do before
anything else: parse the form and check Twilio's signature once over the URL Twilio called,
query string included (RequestValidator.compute_signature), then fixed TwiML."""

import os

from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator

from bench.bare_app import TWIML

app = Flask(__name__)
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
PUBLIC = os.environ["IVR_PUBLIC_URL"].rstrip("/")


@app.post("/voice")
@app.post("/voice/<path:_step>")
def voice(_step: str = "") -> Response:
    signature = request.headers.get("X-Twilio-Signature", "")
    query = request.query_string.decode("latin-1")
    url = PUBLIC + request.path + (f"?{query}" if query else "")
    if not signature or validator.compute_signature(url, request.form) != signature:
        abort(403)
    return Response(TWIML, mimetype="text/xml")


@app.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")
