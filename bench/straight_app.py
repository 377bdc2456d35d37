"""A straightforward IVR entry webhook, the way a capable developer writes it in 30 lines:
signature, `phonenumbers` routing, `holidays` hours, a `VoiceResponse` greeting. The bench's
yardstick for what the real IVR's `/voice` does on top (call record, JSON log, metrics)."""

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

app = Flask(__name__)
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
PUBLIC = os.environ["IVR_PUBLIC_URL"].rstrip("/")
REGIONS = {"CN": ("Asia/Shanghai", "CN"), "HK": ("Asia/Hong_Kong", "HK"), "GB": ("Europe/London", "GB")}
CALENDARS = {country: holidays.country_holidays(country) for _, country in REGIONS.values()}


@app.post("/voice")
def voice() -> Response:
    if validator.compute_signature(PUBLIC + request.path, request.form) != request.headers.get(
        "X-Twilio-Signature", ""
    ):
        abort(403)
    try:
        number = phonenumbers.parse(request.form.get("From", ""), None)
        country = (
            phonenumbers.region_code_for_number(number) if phonenumbers.is_valid_number(number) else None
        )
    except phonenumbers.NumberParseException:
        country = None
    zone, calendar = REGIONS.get(country or "", ("UTC", None)) if country in REGIONS else ("UTC", None)
    now = datetime.now(ZoneInfo(zone))
    is_open = (
        9 <= now.hour < 18 and now.weekday() < 5 and not (calendar and now.date() in CALENDARS[calendar])
    )
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action="/voice/menu/main")
    gather.say("Welcome. " + ("Agents are here." if is_open else "Agents are away."))
    return Response(str(response), mimetype="text/xml")


@app.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")
