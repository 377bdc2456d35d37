"""Working cases from the ops page, behind its login (`ivr.web.ops`): a case's page, its
voicemail played through the app, and closing it with a note (a POST with a CSRF token)."""

from __future__ import annotations

import re
from typing import Any

import requests
from flask import Response, abort, current_app, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ivr.store.cases import CaseNotClosable, close_case, find_case, masked

CSRF_MAX_AGE = 12 * 3600  # a page left open for a shift still closes cases
NOTE_MAX = 2000
RECORDING_SECONDS = 10.0
# A Twilio recording's path (what its RecordingUrl holds); fetched only under TWILIO_API_URL.
RECORDING_PATH = re.compile(r"/2010-04-01/Accounts/AC[0-9a-fA-F]{32}/Recordings/RE[0-9a-fA-F]{32}")


def _signer() -> URLSafeTimedSerializer:
    secret = current_app.config["TWILIO_AUTH_TOKEN"]
    return URLSafeTimedSerializer(f"ops-csrf:{secret}", salt="ops-close-case")


def csrf_token(user: str) -> str:
    """A token for this ops user's forms: a cross-site page can send the login, not this."""
    return _signer().dumps(user)


def csrf_ok(token: str, user: str) -> bool:
    try:
        return bool(_signer().loads(token, max_age=CSRF_MAX_AGE) == user)
    except BadSignature:
        return False


def _user() -> str:
    return request.authorization.username if request.authorization else ""  # type: ignore[return-value]


def _case(reference: str) -> dict[str, Any]:
    if not reference.isdigit():
        abort(404)
    with current_app.extensions["ivr"].store.begin() as connection:
        found = find_case(connection, reference)
    if found is None:
        abort(404)
    return found


def case_page(reference: str) -> str:
    case = _case(reference)
    return render_template(
        "case.html", case=masked(case), csrf=csrf_token(_user()), error=request.args.get("error")
    )


def close(reference: str) -> Response:
    """Close the case with the note given; back to its page, saying why if it could not."""
    _case(reference)
    if not csrf_ok(request.form.get("csrf", ""), _user()):
        return Response("This form has expired or did not come from the ops page: reload it.\n", 400)
    note = request.form.get("note", "").strip()[:NOTE_MAX]
    if not note:
        return redirect(f"/ops/cases/{reference}?error=note", 303)  # type: ignore[return-value]
    runtime = current_app.extensions["ivr"]
    try:
        with runtime.store.begin() as connection:
            close_case(connection, reference, by=f"ops:{_user()}", note=note, now=runtime.now())
    except CaseNotClosable:
        return redirect(f"/ops/cases/{reference}?error=closed", 303)  # type: ignore[return-value]
    return redirect(f"/ops/cases/{reference}", 303)  # type: ignore[return-value]


def recording(reference: str) -> Response:
    """A voicemail's audio, fetched from Twilio with the account's credentials (a recording's
    URL needs them when HTTP auth on media is on) and passed to the ops user's browser."""
    case = _case(reference)
    path = re.sub(r"^https://[^/]+", "", case.get("recording_url") or "").removesuffix(".mp3")
    if case["kind"] != "voicemail" or not RECORDING_PATH.fullmatch(path):
        abort(404)
    settings = current_app.extensions["ivr.settings"]
    if not settings.twilio_account_sid:
        return Response("Recordings are fetched with TWILIO_ACCOUNT_SID, which is not set.\n", 503)
    # GET {RecordingUrl}.mp3 returns the audio as MP3
    # (https://www.twilio.com/docs/voice/api/recording#fetch-a-recording-media-file).
    try:
        fetched = requests.get(
            f"{settings.twilio_api_url.rstrip('/')}{path}.mp3",
            auth=(settings.twilio_account_sid, settings.twilio_auth_token),
            timeout=RECORDING_SECONDS,
        )
    except requests.RequestException:
        return Response("Twilio did not answer; try again in a moment.\n", 502)
    if fetched.status_code != 200:
        return Response(f"Twilio answered {fetched.status_code} for this recording.\n", 502)
    return Response(fetched.content, mimetype="audio/mpeg", headers={"Cache-Control": "private, no-store"})


def init_routes(bp: Any) -> None:
    """On the ops blueprint, so its login and throttle cover every route."""
    bp.add_url_rule("/ops/cases/<reference>", view_func=case_page, methods=["GET"])
    bp.add_url_rule("/ops/cases/<reference>/close", view_func=close, methods=["POST"])
    bp.add_url_rule("/ops/recordings/<reference>", view_func=recording, methods=["GET"])
