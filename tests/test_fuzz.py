"""Hostile input: random signed forms to every webhook and every action URL the flows produce.

Always a 200 with TwiML (or 403 unsigned), never a 5xx, and a repeated request stores nothing
twice.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ivr.flows import GRAPH
from ivr.store.tables import call_state, calls
from tests.conftest import internal_errors, sign, stored_cases

PATHS = (
    ["/voice", "/voice/fallback", "/voice/status"]
    + [f"/voice/menu/{name}" for name in sorted(GRAPH.menus)]
    + [f"/voice/step/{name}" for name in sorted(GRAPH.steps)]
    + ["/voice/menu/nope", "/voice/step/nope"]
)
FIELDS = [
    "From",
    "To",
    "Digits",
    "CallSid",
    "CallStatus",
    "CallDuration",
    "DialCallStatus",
    "QueueResult",
    "QueuePosition",
    "AvgQueueTime",
    "RecordingUrl",
    "RecordingDuration",
    "RecordingStatus",
    "RecordingSid",
    "SpeechResult",
    "Confidence",
]
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "anonymous",
            "+8613800138000",
            "+447400123456",
            "+85291234567",
            "sip:a@b",
            "client:x",
            "1",
            "2",
            "3",
            "0",
            "9",
            "*",
            "#",
            "70010002",
            "8613800138000",
            "2468",
            "completed",
            "busy",
            "leave",
            "bridged",
            "queue-full",
            "12",
            "-1",
            "99999999999999999999",
            "\x00",
            "🙂",
            "我的钱包被偷了",
            "lock my wallet",
            "yes",
            "不是",
            "四四七四零零一二三四五六",
            "0.12",
            "1.0",
            "NaN",
        ]
    ),
)
QUERIES = st.fixed_dictionaries(
    {},
    optional={
        "lang": st.sampled_from(["zh-CN", "zh-HK", "en-US", "en-GB", "xx", "", "zh-CN\n"]),
        "miss": st.sampled_from(["0", "1", "2", "3", "-5", "abc", "999999"]),
        "theft": st.sampled_from(["1", "0", ""]),
        "confirm": st.sampled_from(["1", "3", "9", "*", "x", ""]),
        "n": st.sampled_from(["1", "7", "1e3", "-1", "99999999999"]),
    },
)
VALID_SIDS = st.sampled_from(["CA" + "0" * 31 + "f", "CA" + "ab" * 16, "CA" + "F" * 32])
FORMS = st.tuples(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=10), VALID_SIDS).map(
    lambda pair: {**pair[0], "CallSid": pair[1]}
)
HOSTILE_SIDS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "CA\x00poison", "CA" + "0" * 31, "CA" + "0" * 33, "CA" + "g" * 32, "XX" + "0" * 32]),
)


def post(app: Flask, path: str, query: dict[str, str], form: dict[str, str]) -> Any:
    url = path + (f"?{urlencode(query)}" if query else "")
    return app.test_client().post(
        url, data=form, headers={"X-Twilio-Signature": sign("http://localhost" + url, form)}
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), query=QUERIES, form=FORMS)
def test_every_webhook_survives_hostile_input_and_replays_store_nothing_twice(
    app: Flask, hotline: Any, path: str, query: dict[str, str], form: dict[str, str]
) -> None:
    first = post(app, path, query, form)
    assert first.status_code == 200, first.data
    assert first.mimetype == "text/xml"
    assert ET.fromstring(first.get_data(as_text=True)).tag == "Response"  # well-formed TwiML
    assert internal_errors(app) == 0, "the apology path ran: an internal error"
    stored = (len(stored_cases(hotline)), len(hotline.sms.outbox()))
    second = post(app, path, query, form)
    assert second.status_code == first.status_code
    assert (len(stored_cases(hotline)), len(hotline.sms.outbox())) == stored
    assert internal_errors(app) == 0, "the apology path ran: an internal error"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), form=FORMS, sid=HOSTILE_SIDS)
def test_a_callsid_not_in_twilios_format_is_refused_and_stored_nowhere(
    app: Flask, hotline: Any, path: str, form: dict[str, str], sid: str
) -> None:
    import re

    if re.fullmatch(r"CA[0-9a-fA-F]{32}", sid):
        return
    response = post(app, path, {}, {**form, "CallSid": sid})
    assert response.status_code == 403
    hotline.journal.flush()
    assert hotline.store.all(select(calls)) == [] and hotline.store.all(select(call_state)) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(PATHS),
    form=FORMS,
    signature=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40),
)
def test_forged_signatures_are_refused_everywhere(
    app: Flask, path: str, form: dict[str, str], signature: str
) -> None:
    response = app.test_client().post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
