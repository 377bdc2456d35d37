"""The throughput baseline: a bare Flask app answering fixed TwiML, nothing else."""

from flask import Flask, Response

app = Flask(__name__)
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/voice/menu/main" numDigits="1">'
    "<Say>Welcome.</Say></Gather></Response>"
)


@app.post("/voice")
def voice() -> Response:
    return Response(TWIML, mimetype="text/xml")


@app.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")
