"""A floor for the IVR's entry webhook: the bare app plus only what every webhook must do
before anything else: parse the form and check Twilio's signature once
(RequestValidator.compute_signature), then fixed TwiML."""

import os

from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator

from bench.bare_app import TWIML

app = Flask(__name__)
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
PUBLIC = os.environ["IVR_PUBLIC_URL"].rstrip("/")


@app.post("/voice")
def voice() -> Response:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or validator.compute_signature(PUBLIC + request.path, request.form) != signature:
        abort(403)
    return Response(TWIML, mimetype="text/xml")


@app.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")
