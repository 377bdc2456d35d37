"""Webhooks through Flask's test client with real Twilio signatures; TwiML parsed and asserted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.config import load_config
from ivr.web.webhooks import FALLBACK_HOTLINE
from tests.conftest import Clock, Phone, sign

BEIJING_NOON = "2026-11-23T12:00:00+08:00"  # a Monday
SPRING_FESTIVAL = "2026-02-17T12:00:00+08:00"


def test_beijing_weekday_noon_hears_mandarin_and_0_dials_the_cn_hotline(phone: Phone) -> None:
    answer = phone.call()
    assert answer.languages[0] == "cmn-CN"
    assert answer.first("Say").get("voice") == "Polly.Zhiyu-Neural"
    assert "您好，这里是OK钱包" in answer.text and "人工客服现在可以为您服务" in answer.text
    gather = answer.first("Gather")
    assert gather.get("numDigits") == "1" and gather.get("input") == "dtmf speech"  # keys and speech
    assert gather.get("language") == "cmn-Hans-CN" and "被盗" in gather.get("hints", "")
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.get("action", "").startswith("http://localhost/voice/menu/main?lang=zh-CN")
    # The lockdown option comes first, so a theft victim hears it soonest.
    assert answer.text.index("请按3") < answer.text.index("人工客服现在") < answer.text.index("请按1")
    agent = phone.press("0")
    assert agent.dialed == ["+864008200000"]
    dial = agent.first("Dial")
    assert dial.get("action", "").startswith("http://localhost/voice/step/dial-result")
    assert dial.get("callerId") == "+8613800138000"
    assert dial.get("timeout") == "25"


def test_spring_festival_says_when_agents_return_and_dials_nobody(phone: Phone, clock: Clock) -> None:
    clock.set(SPRING_FESTIVAL)
    answer = phone.call()
    assert "今天是法定节假日" in answer.text
    assert "2月24日星期二上午9点" in answer.text
    assert "人工服务，请按0" not in answer.text
    after_zero = phone.press("0")
    assert after_zero.dialed == []
    assert "将于2月24日星期二上午9点恢复服务" in after_zero.text
    assert "如需通过短信获取我们的电子邮箱和在线客服入口，请按4" in after_zero.text  # texted, not spelled
    assert "需要我们给您回电，请按1。给我们留言，请按2。" in after_zero.text
    assert after_zero.gather_action.startswith("/voice/menu/offer")


def test_hong_kong_caller_hears_cantonese_and_0_enqueues(phone: Phone, clock: Clock) -> None:
    phone.caller, phone.dialed = "+85291234567", "+85230011234"
    clock.set("2026-11-23T10:00:00+08:00")
    answer = phone.call()
    assert answer.languages[0] == "yue-CN"
    assert "你好，呢度係OK錢包" in answer.text
    queued = phone.press("0")
    enqueue = queued.first("Enqueue")
    assert (enqueue.text or "").strip() == "hk-support"
    assert enqueue.get("waitUrl", "").startswith("http://localhost/voice/step/queue-wait")
    assert queued.dialed == []


@pytest.mark.parametrize(
    ("caller", "dialed", "at", "say_language", "closed_words"),
    [
        (
            "+447400123456",
            "+442038089999",
            "2026-11-23T21:00:00+00:00",
            "en-GB",
            "will be back tomorrow at 8 am",
        ),
        (
            "+14155550123",
            "+18005550100",
            "2026-11-26T12:00:00-05:00",
            "en-US",
            "off today for a public holiday and will be back tomorrow at 7 AM",
        ),
        (
            "+6591234567",
            "+6531251234",
            "2026-11-28T12:00:00+08:00",
            "en-US",
            "will be back on Monday, November 30 at 9 AM",
        ),
    ],
)
def test_out_of_hours_in_each_language(
    phone: Phone, clock: Clock, caller: str, dialed: str, at: str, say_language: str, closed_words: str
) -> None:
    phone.caller, phone.dialed = caller, dialed
    clock.set(at)
    answer = phone.call()
    assert answer.languages[0] == say_language
    assert closed_words in answer.text


def test_9_switches_to_the_regions_next_language_and_keeps_it(phone: Phone) -> None:
    answer = phone.call()
    offer = answer.all("Say")[1]
    assert offer.get("language") == "en-US" and offer.text == "For English, press 9."
    english = phone.press("9")
    assert english.languages[0] == "en-US"
    assert english.text.startswith("Lost or stolen? Press 3.")
    assert "lang=en-US" in english.gather_action
    back = phone.press("9")
    assert back.languages[0] == "cmn-CN"


def test_star_repeats_the_menu(phone: Phone) -> None:
    phone.call()
    repeated = phone.press("*")
    assert "手机丢了或被盗，请按3" in repeated.text
    assert repeated.gather_action == "/voice/menu/main?lang=zh-CN&n=2"  # its own place in the call


def test_no_input_and_wrong_keys_retry_then_reach_an_agent_when_open(phone: Phone) -> None:
    phone.call()
    first = phone.press("")
    assert first.text.startswith("抱歉，没有听到您的选择")
    assert "miss=1" in first.gather_action
    second = phone.press("7")
    assert second.text.startswith("抱歉，您按的键不在选项中")
    assert "miss=2" in second.gather_action
    third = phone.press("8")
    assert third.dialed == ["+864008200000"]


def test_a_good_key_resets_the_miss_count(phone: Phone) -> None:
    phone.call()
    phone.press("")
    phone.press("")
    assert "miss=2" in phone.last.gather_action  # type: ignore[union-attr]
    again = phone.press("*")
    assert "miss" not in again.gather_action


def test_three_misses_when_closed_reach_no_agent(phone: Phone, clock: Clock) -> None:
    clock.set(SPRING_FESTIVAL)
    phone.call()
    phone.press("")
    phone.press("")
    final = phone.press("")
    assert final.dialed == []
    assert "2月24日星期二上午9点" in final.text


def test_unsigned_and_wrongly_signed_webhooks_get_403(phone: Phone) -> None:
    assert phone.post("/voice", signed=False).status_code == 403
    phone.token = "not-the-token"
    assert phone.post("/voice").status_code == 403
    assert phone.post("/voice/status").status_code == 403
    assert phone.post("/voice/fallback").status_code == 403


def behind_proxy(app: Flask, path: str, form: dict[str, str], signature: str) -> int:
    """A webhook as the proxy hands it on: plain HTTP to an internal host and port."""
    response = app.test_client().post(
        path, data=form, base_url="http://10.0.0.7:8000", headers={"X-Twilio-Signature": signature}
    )
    return int(response.status_code)


def test_signature_is_checked_against_the_public_url_behind_a_proxy(
    app_factory: Callable[..., Flask],
) -> None:
    app = app_factory(PUBLIC_URL="https://ivr.example.com")
    form = {"CallSid": "CA00000000000000000000000000000001", "From": "+8613800138000", "To": "+864001234567"}
    signature = sign("https://ivr.example.com/voice/menu/main?lang=zh-CN", form)  # what Twilio signs
    assert behind_proxy(app, "/voice/menu/main?lang=zh-CN", form, signature) == 200
    assert behind_proxy(app, "/voice/menu/main?lang=en-US", form, signature) == 403  # query changed
    internal = sign("http://10.0.0.7:8000/voice/menu/main?lang=zh-CN", form)
    assert behind_proxy(app, "/voice/menu/main?lang=zh-CN", form, internal) == 403


def test_a_signature_over_the_url_with_its_default_port_is_accepted_too(
    app_factory: Callable[..., Flask],
) -> None:
    """Twilio signs some URLs with ':443' and some without: both must pass, nothing else."""
    app = app_factory(PUBLIC_URL="https://ivr.example.com")
    form = {"CallSid": "CA00000000000000000000000000000001", "From": "+8613800138000", "To": "+864001234567"}
    assert behind_proxy(app, "/voice", form, sign("https://ivr.example.com/voice", form)) == 200
    assert behind_proxy(app, "/voice", form, sign("https://ivr.example.com:443/voice", form)) == 200
    assert behind_proxy(app, "/voice", form, sign("https://ivr.example.com:8443/voice", form)) == 403
    other = sign("https://ivr.example.com/voice", {**form, "From": "+447400123456"})
    assert behind_proxy(app, "/voice", form, other) == 403
    assert behind_proxy(app, "/voice", form, "ünïcode-signature") == 403


def test_fallback_apologises_and_dials_the_default_hotline(phone: Phone) -> None:
    answer = phone.twiml("/voice/fallback")
    assert answer.dialed == [FALLBACK_HOTLINE]
    assert answer.languages == ["en-US", "cmn-CN"]


def test_fallback_number_is_the_shipped_default_regions_hotline() -> None:
    config = load_config(Path(__file__).resolve().parent.parent / "config")
    assert config.default.hotline == FALLBACK_HOTLINE


def test_fallback_works_without_config_or_store(app: Flask, phone: Phone) -> None:
    del app.extensions["ivr"]
    assert phone.twiml("/voice/fallback").dialed == [FALLBACK_HOTLINE]


@pytest.mark.faults
def test_an_unexpected_failure_apologises_and_dials_the_callers_hotline(
    app: Flask,
    phone: Phone,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ivr.flows import GRAPH

    def broken(call: object) -> None:
        raise RuntimeError("wallet exploded")

    monkeypatch.setitem(
        GRAPH.steps,  # type: ignore[arg-type]
        "recovery",
        broken,
    )
    phone.caller, phone.dialed = "+447400123456", "+442038089999"
    phone.call()
    answer = phone.press("1")
    assert answer.dialed == ["+442079460000"]
    assert answer.languages == ["en-GB"] and "something went wrong" in answer.text
    logged = caplog.text
    assert "+447400123456" not in logged and "+44******3456" in logged
    assert "CA00000000000000000000000000000001" in logged


@pytest.mark.faults
def test_a_failure_during_lockdown_still_reaches_the_fraud_desk(
    phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivr.flows import GRAPH

    def broken(call: object) -> None:
        raise RuntimeError("store gone")

    monkeypatch.setitem(
        GRAPH.steps,  # type: ignore[arg-type]
        "lockdown.other",
        broken,
    )
    phone.keys("3")
    assert phone.press("2").dialed == ["+442079460001"]


def test_status_callback_ends_the_calls_record(app: Flask, phone: Phone) -> None:
    phone.call()
    ended = phone.twiml("/voice/status", CallStatus="completed", CallDuration="42")
    assert ended.raw.endswith("<Response />")
    record = app.extensions["ivr"].call_record(phone.sid)
    assert (record["region"], record["status"], record["duration"]) == ("cn", "completed", 42)
    assert record["caller_masked"] == "+86*******8000"


def test_health_readiness_and_metrics(app: Flask, phone: Phone) -> None:
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    phone.call()
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'ivr_calls_total{matched_by="caller",region="cn"} 1.0' in metrics
    assert "ivr_webhook_seconds_bucket" in metrics


def test_readyz_is_503_when_the_store_is_unreachable(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert app.test_client().get("/readyz").status_code == 503


WEBHOOK_PATHS = [
    "/voice",
    "/voice/menu/main",
    "/voice/menu/nope",
    "/voice/step/agent",
    "/voice/step/dial-result",
    "/voice/step/../../etc",
    "/voice/status",
    "/voice/fallback",
    "/voice/menu/main?lang=xx&miss=abc",
]
text = st.text(max_size=40)
form_values = st.one_of(
    text, st.sampled_from(["", "anonymous", "+8613800138000", "sip:x@y", "*", "#", "0", "9", "1234567890123"])
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(WEBHOOK_PATHS),
    form=st.dictionaries(
        st.sampled_from(
            ["From", "To", "Digits", "CallSid", "CallStatus", "DialCallStatus", "CallDuration", "lang", "x"]
        ),
        form_values,
        max_size=8,
    ),
)
def test_random_signed_forms_never_produce_a_server_error(
    app: Flask,
    path: str,
    form: dict[str, str],
) -> None:
    url = "http://localhost" + path
    response = app.test_client().post(path, data=form, headers={"X-Twilio-Signature": sign(url, form)})
    assert response.status_code in (200, 403, 404)
    if response.status_code == 200:
        assert response.mimetype == "text/xml"
        assert response.get_data(as_text=True).startswith("<?xml")
