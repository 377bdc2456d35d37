"""The throughput bench compares like with like: its floor app really checks signatures, and
every simulated call comes from a new, valid number."""

from __future__ import annotations

import importlib
import sys

import phonenumbers
import pytest
from twilio.request_validator import RequestValidator

PUBLIC = "https://ivr.example.com"


def test_the_signature_floor_app_checks_what_the_ivr_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "floor-token")
    monkeypatch.setenv("IVR_PUBLIC_URL", PUBLIC + "/")
    monkeypatch.delitem(sys.modules, "bench.signed_app", raising=False)
    signed_app = importlib.import_module("bench.signed_app")
    client = signed_app.app.test_client()
    form = {"CallSid": "CA00000000000000000000000000000001", "From": "+8613800138000", "To": "+18885550100"}
    good = RequestValidator("floor-token").compute_signature(PUBLIC + "/voice", form)
    forged = RequestValidator("other-token").compute_signature(PUBLIC + "/voice", form)

    answered = client.post("/voice", data=form, headers={"X-Twilio-Signature": good})
    assert answered.status_code == 200 and answered.mimetype == "text/xml"
    assert b"<Gather" in answered.data
    assert client.post("/voice", data=form, headers={"X-Twilio-Signature": forged}).status_code == 403
    assert client.post("/voice", data=form).status_code == 403
    tampered = {**form, "From": "+8613900139000"}
    assert client.post("/voice", data=tampered, headers={"X-Twilio-Signature": good}).status_code == 403


def test_every_bench_call_comes_from_a_new_valid_number() -> None:
    from bench.throughput import next_caller

    numbers = [next_caller() for _ in range(600)]
    assert len(set(numbers)) == 600
    regions = set()
    for raw in numbers:
        parsed = phonenumbers.parse(raw, None)
        assert phonenumbers.is_valid_number(parsed), raw
        regions.add(phonenumbers.region_code_for_number(parsed))
    assert len(regions) > 200  # callers from (nearly) every country phonenumbers supports
