"""Real Twilio, not only our simulator (issue 25): TwiML held to Twilio's documented rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ivr.config import ConfigError, load_config
from ivr.twiml_rules import RULES, check_document
from ivr.web import webhooks
from tests.conftest import SHIPPED_CONFIG, Clock, Phone

BASE = "https://ivr.example.com/ivr"
HERE = f"{BASE}/voice/menu/main"
GOOD_DIAL = '<Dial callerId="+18885550100"><Number>+442079460001</Number></Dial>'


def broken(document: str, context: str = "call") -> set[str]:
    return {v.rule.name for v in check_document(document, HERE, base=BASE, context=context)}


# The checker: each rule, caught in a document that breaks it (and only that rule).
BREAKS = [
    ("response.root", "<Reply><Say>hi</Say></Reply>", "call"),
    (
        "verb.nesting",
        "<Response><Gather><Dial callerId='+18885550100'>+442079460001</Dial></Gather></Response>",
        "call",
    ),
    ("verb.unknown", "<Response><Sing>la</Sing></Response>", "call"),
    ("attribute.unknown", "<Response><Gather numberOfDigits='1'/></Response>", "call"),
    ("attribute.value", "<Response><Gather numDigits='0'/></Response>", "call"),
    ("attribute.value", "<Response><Gather finishOnKey='##'/></Response>", "call"),
    (
        "attribute.value",
        "<Response><Dial callerId='+18885550100' timeout='2'><Number>+442079460001</Number></Dial>"
        "</Response>",
        "call",
    ),
    ("attribute.value", "<Response><Record maxLength='0'/></Response>", "call"),
    (
        "gather.speech_timeout_with_model",
        "<Response><Gather input='dtmf speech' speechModel='default' speechTimeout='auto'/></Response>",
        "call",
    ),
    ("gather.speech_without_speech_input", "<Response><Gather hints='agent'/></Response>", "call"),
    ("gather.hints", "<Response><Gather input='speech' hints='" + "x" * 101 + "'/></Response>", "call"),
    ("dial.caller_id", "<Response><Dial><Number>+442079460001</Number></Dial></Response>", "call"),
    (
        "dial.caller_id",
        "<Response><Dial callerId='anonymous'><Number>+442079460001</Number></Dial></Response>",
        "call",
    ),
    (
        "number.e164",
        "<Response><Dial callerId='+18885550100'><Number>0207 946 0001</Number></Dial></Response>",
        "call",
    ),
    (
        "dial.numbers",
        "<Response><Dial callerId='+18885550100'>"
        + "<Number>+442079460001</Number>" * 11
        + "</Dial></Response>",
        "call",
    ),
    ("queue.name", "<Response><Enqueue>" + "q" * 65 + "</Enqueue></Response>", "call"),
    ("context.wait_url", f"<Response>{GOOD_DIAL}</Response>", "wait"),
    ("context.whisper", f"<Response>{GOOD_DIAL}</Response>", "whisper"),
    ("leave.in_queue", "<Response><Leave/></Response>", "call"),
    (
        "say.voice_language",
        "<Response><Say voice='Polly.Amy-Neural' language='cmn-CN'>你好</Say></Response>",
        "call",
    ),
    ("url.resolves", "<Response><Redirect>/voice/menu/main</Redirect></Response>", "call"),
    ("url.resolves", "<Response><Gather action='https://elsewhere.example/voice'/></Response>", "call"),
    (
        "play.fetchable",
        "<Response><Play>https://com.twilio.sounds.music.s3.amazonaws.com/x.mp3</Play></Response>",
        "call",
    ),
]


@pytest.mark.parametrize(("rule", "document", "context"), BREAKS)
def test_the_checker_catches_each_rule(rule: str, document: str, context: str) -> None:
    assert broken(document, context) == {rule}


def test_every_twiml_rule_has_a_document_that_breaks_it_and_a_twilio_source() -> None:
    rest = {"calls.request", "messages.sender"}  # REST rules: test_rest_requests_are_checked
    assert {rule for rule, _, _ in BREAKS} | rest == set(RULES)
    assert all(r.source.startswith("https://") for r in RULES.values())


def test_documents_twilio_accepts_pass() -> None:
    good = (
        "<Response><Gather action='menu/x?n=2' input='dtmf speech' language='en-US' speechTimeout='auto'"
        " hints='agent, main menu' numDigits='1' timeout='6' actionOnEmptyResult='true'>"
        "<Say voice='Polly.Joanna-Neural' language='en-US'>Hi <break time='1s'/> there</Say>"
        "<Play>http://com.twilio.sounds.music.s3.amazonaws.com/x.mp3</Play><Pause length='1'/></Gather>"
        f"{GOOD_DIAL}<Redirect>{BASE}/voice/step/x</Redirect></Response>"
    )
    assert broken(good) == set()
    assert broken("<Response><Play>music.wav</Play><Leave/><Hangup/></Response>", "wait") == set()


def test_rest_requests_are_checked() -> None:
    from ivr.twiml_rules import check_rest_request

    calls = "/2010-04-01/Accounts/AC1/Calls.json"
    leg = {"To": "+442079460000", "From": "+442038089999", "Url": "https://x/a", "FallbackUrl": "https://x/f"}
    assert check_rest_request(calls, leg) == []
    assert [v.rule.name for v in check_rest_request(calls, {**leg, "FallbackUrl": ""})] == ["calls.request"]
    texts = "/2010-04-01/Accounts/AC1/Messages.json"
    for sender in ("+442038089999", "OKWallet", "MG" + "a" * 32):
        assert check_rest_request(texts, {"To": "+447400123456", "From": sender}) == []
    for sender in ("", "OK-Wallet!", "TwelveLetter", "12345"):
        assert [v.rule.name for v in check_rest_request(texts, {"From": sender})] == ["messages.sender"]


# 1. Speech: no speechModel unless configured; then seconds, never `auto` (warning 13335).


def test_menus_send_no_speech_model_by_default(phone: Phone) -> None:
    gather = phone.call().first("Gather")
    assert gather.get("speechTimeout") == "auto" and "speechModel" not in gather.attrib


def test_a_configured_model_sends_a_timeout_in_seconds(
    app_factory: Callable[..., Flask], config_dir: Path
) -> None:
    regions = config_dir / "regions.yaml"
    regions.write_text(
        regions.read_text().replace("speech: {confidence: 0.5}", "speech: {model: phone_call, timeout: 2}")
    )
    gather = Phone(app_factory().test_client()).call().first("Gather")
    assert gather.get("speechModel") == "phone_call" and gather.get("speechTimeout") == "2"


def test_ivr_check_refuses_a_model_with_auto(config_dir: Path) -> None:
    regions = config_dir / "regions.yaml"
    text = regions.read_text().replace(
        "speech: {confidence: 0.5}", "speech: {model: default, confidence: 0.5}"
    )
    regions.write_text(text)
    line = 1 + text.splitlines().index("speech: {model: default, confidence: 0.5}")
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    assert any(e.startswith(f"{regions}:{line}: speech") and "13335" in e for e in caught.value.errors), (
        caught.value.errors
    )


# 2. Every <Dial> carries a valid callerId, whatever the caller sent.

WITHHELD = ["anonymous", "+266696687", "", "client:alice", "restricted", "+1234"]


@pytest.mark.parametrize("caller", WITHHELD)
@pytest.mark.parametrize(
    ("dialed", "own"),
    [("+864001234567", "+864001234567"), ("+18005550100", "+18005550100"), ("+19999999999", "+18885550100")],
)
def test_a_withheld_caller_reaches_the_fraud_desk_with_our_number_as_caller_id(
    phone: Phone, caller: str, dialed: str, own: str
) -> None:
    victim = Phone(phone.client, caller=caller, dialed=dialed)
    theft = victim.keys("3", "1")
    while theft.root.find(".//Dial") is None:
        theft = victim.follow()
    dial = theft.first("Dial")
    assert theft.dialed == ["+442079460001"] and dial.get("callerId") == own


def test_a_valid_caller_is_shown_as_themselves(phone: Phone) -> None:
    dial = phone.keys("0").first("Dial")
    assert phone.last is not None and phone.last.dialed == ["+864008200000"]
    assert dial.get("callerId") == "+8613800138000"


def test_a_configured_caller_id_is_used_for_a_withheld_caller(
    app_factory: Callable[..., Flask], config_dir: Path
) -> None:
    regions = config_dir / "regions.yaml"
    ours = '    numbers: ["+864001234567"]\n'
    regions.write_text(regions.read_text().replace(ours, ours + '    caller_id: "+864001234568"\n'))
    withheld = Phone(app_factory().test_client(), caller="anonymous", dialed="+864001234567")
    dial = withheld.keys("0").first("Dial")
    assert withheld.last is not None and withheld.last.dialed == ["+864008200000"]
    assert dial.get("callerId") == "+864001234568"


@pytest.mark.parametrize(
    ("dialed", "caller_id"),
    [("+864001234567", "+864001234567"), ("", "+18885550100"), ("anonymous", "+18885550100")],
)
def test_the_fallback_dials_with_the_number_dialed_or_a_fixed_one(
    phone: Phone, dialed: str, caller_id: str
) -> None:
    fallback = Phone(phone.client, caller="anonymous", dialed=dialed).twiml("/voice/fallback")
    assert (
        fallback.dialed == [webhooks.FALLBACK_HOTLINE] and fallback.first("Dial").get("callerId") == caller_id
    )


def test_the_fallback_caller_id_is_the_shipped_default_regions_number() -> None:
    config = load_config(SHIPPED_CONFIG)
    assert webhooks.FALLBACK_CALLER_ID in config.default.numbers


@pytest.mark.faults
def test_the_apology_dials_with_a_valid_caller_id(
    phone: Phone, hotline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_menu(*_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("ivr.flows.choose", broken_menu)
    withheld = Phone(phone.client, caller="anonymous", dialed="+442038089999", faults=True)
    withheld.call()
    sorry = withheld.press("1")
    assert sorry.dialed == ["+442079460000"] and sorry.first("Dial").get("callerId") == "+442038089999"


# 4. Hold music Twilio can fetch, per region.


def test_queue_music_is_fetchable_and_configurable(
    app_factory: Callable[..., Flask], config_dir: Path, clock: Clock
) -> None:
    clock.set("2026-11-23T10:00:00+08:00")
    hk = Phone(app_factory().test_client(), caller="+85291234567", dialed="+85230011234")
    wait = hk.twiml(hk.keys("0").first("Enqueue").get("waitUrl", ""), QueuePosition="1")
    assert [p.text for p in wait.all("Play")] == [
        "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
    ]
    regions = config_dir / "regions.yaml"
    regions.write_text(
        regions.read_text().replace(
            "    queue: hk-support",
            "    music: https://media.okwallet.example/hold.wav\n    queue: hk-support",
        )
    )
    hk = Phone(app_factory().test_client(), caller="+85291234567", dialed="+85230011234")
    wait = hk.twiml(hk.keys("0").first("Enqueue").get("waitUrl", ""), QueuePosition="1")
    assert [p.text for p in wait.all("Play")] == ["https://media.okwallet.example/hold.wav"]


def test_ivr_check_refuses_music_twilio_cannot_fetch(config_dir: Path) -> None:
    regions = config_dir / "regions.yaml"
    regions.write_text(
        regions.read_text().replace(
            "    queue: hk-support",
            "    music: https://com.twilio.sounds.music.s3.amazonaws.com/x.mp3\n    queue: hk-support",
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    assert any(re.search(r"regions\.yaml:\d+: regions\.hk\.music: .*dots", e) for e in caught.value.errors)


# 6. Every URL resolves under IVR_PUBLIC_URL, its path included.


@pytest.mark.parametrize(
    ("caller", "dialed", "keys"),
    [
        ("+8613800138000", "+864001234567", ("3", "1")),  # lockdown, then the fraud desk
        ("+447400123456", "+442038089999", ("1", "2")),  # recovery
        ("+447400123456", "+442038089999", ("0",)),  # the agents
        ("+8613800138000", "+864001234567", ("2",)),  # transactions: the code
    ],
)
def test_journeys_under_a_path_prefix_stay_under_it(
    app_factory: Callable[..., Flask], caller: str, dialed: str, keys: tuple[str, ...]
) -> None:
    app = app_factory(PUBLIC_URL=BASE)
    phone = Phone(app.test_client(), caller=caller, dialed=dialed, base=BASE)
    phone.keys(*keys)
    links = [
        value
        for twiml in phone.history
        for element in twiml.root.iter()
        for name, value in [*element.attrib.items(), ("text", (element.text or "").strip())]
        if name in ("action", "waitUrl", "url", "recordingStatusCallback")
        or (element.tag == "Redirect" and name == "text")
    ]
    assert links and all(link.startswith(BASE + "/voice/") for link in links), links
    assert len(phone.history) == 1 + len(keys) or phone.history  # every step was signed and answered


def test_a_queue_wait_under_a_prefix(app_factory: Callable[..., Flask], clock: Clock) -> None:
    clock.set("2026-11-23T10:00:00+08:00")
    app = app_factory(PUBLIC_URL=BASE)
    hk = Phone(app.test_client(), caller="+85291234567", dialed="+85230011234", base=BASE)
    enqueue = hk.keys("0").first("Enqueue")
    assert enqueue.get("waitUrl", "").startswith(BASE + "/voice/step/queue-wait?")
    wait = hk.twiml(enqueue.get("waitUrl", ""), QueuePosition="2")
    assert wait.first("Gather").get("action", "").startswith(BASE + "/voice/menu/queue?")


# 5. A hold moved by a REST redirect is answered so the caller goes on, whichever TwiML runs.


def test_queue_result_redirected_sends_the_caller_on_not_to_a_hang_up(
    app_factory: Callable[..., Flask], clock: Clock
) -> None:
    clock.set("2026-11-23T10:00:00+08:00")
    hk = Phone(app_factory().test_client(), caller="+85291234567", dialed="+85230011234")
    enqueue = hk.keys("0").first("Enqueue")
    moved = hk.twiml(enqueue.get("action", ""), QueueResult="redirected", QueueTime="40")
    assert not moved.all("Hangup") and moved.root.find("Redirect") is not None
    assert moved.next_url is not None and moved.next_url.startswith("/voice/step/main?")
    main = hk.follow()
    assert main.gather_action.startswith("/voice/menu/main?")


# 8. The server banner's form of the public URL is accepted.


def test_twilio_setup_takes_the_voice_url_the_banner_prints() -> None:
    from click.testing import CliRunner

    from ivr.tools.cli import main

    for given in ("https://abc.ngrok.app/voice", "https://abc.ngrok.app/", "https://abc.ngrok.app"):
        out = CliRunner().invoke(main, ["twilio-setup", "--public-url", given]).output
        assert "--voice-url https://abc.ngrok.app/voice --voice-method POST" in out, out
        assert "/voice/voice" not in out and "--status-callback https://abc.ngrok.app/voice/status" in out


# 9. Confirmations read as a fluent speaker would say them, for every option they can name.

ENGLISH_VERBS = {"lock", "recover", "get", "use", "check", "cancel", "open", "leave", "hear", "speak", "go"}


def spoken_names() -> set[str]:
    """Every phrase name a confirmation can name: each menu's options and the shared words."""
    from ivr.flows import GRAPH

    return {o.target for m in GRAPH.menus.values() if m.speech == "options" for o in m.options} | {
        "agent",
        "repeat",
        "main",
    }


@pytest.mark.parametrize("language", ["en-US", "en-GB", "zh-CN", "zh-HK"])
def test_every_confirmation_names_its_option_in_a_whole_sentence(language: str) -> None:
    catalogue = load_config(SHIPPED_CONFIG).prompts[language]
    for name in sorted(spoken_names() & set(catalogue.phrases)):  # speech matches only these
        label = catalogue.phrases[name][0]  # what ask_to_confirm names the option by
        sentence = catalogue.text("speech_confirm", option=label)
        if language.startswith("en"):
            assert sentence.startswith(f"Did you want to {label}? "), sentence
            assert label.split()[0] in ENGLISH_VERBS, f"{name}: {sentence}"
        else:  # a verb phrase after 您是要 / 你係咪想, never a bare noun such as 应用打不开
            assert label not in {"应用打不开", "App開唔到", "主菜单", "主選單", "交易服务", "交易服務"}, (
                sentence
            )


def test_a_low_confidence_agent_asks_a_whole_question(
    app_factory: Callable[..., Flask], clock: Clock
) -> None:
    clock.set("2026-11-23T12:00:00+00:00")
    uk = Phone(app_factory().test_client(), caller="+447400123456", dialed="+442038089999")
    uk.call()
    asked = uk.press("", SpeechResult="agent", Confidence="0.3")
    assert asked.text.startswith("Did you want to speak to an agent? Say yes or press 1.")


# 3. Texts have a sender Twilio accepts, per region; `ivr check` says when one is missing.


def test_ivr_check_warns_of_regions_without_an_sms_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from ivr.tools.cli import main

    monkeypatch.setenv("IVR_CONFIG_DIR", str(SHIPPED_CONFIG))
    monkeypatch.delenv("IVR_SMS_FROM", raising=False)
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    assert "sms_from" not in CliRunner().invoke(main, ["check"]).output  # the outbox only: nothing to warn
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "5" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    result = CliRunner().invoke(main, ["check"])
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert result.exit_code == 0 and len(warnings) == 6
    text = (SHIPPED_CONFIG / "regions.yaml").read_text().splitlines()
    line = 1 + text.index("  hk:")
    assert (
        f"warning: {SHIPPED_CONFIG / 'regions.yaml'}:{line}: regions.hk.sms_from: texts go through Twilio"
        in result.output
    )
    monkeypatch.setenv("IVR_SMS_FROM", "OKWallet")
    assert "warning" not in CliRunner().invoke(main, ["check"]).output


def test_a_regions_sms_sender_is_used_and_ivr_sms_from_is_the_fallback(
    app_factory: Callable[..., Flask], config_dir: Path
) -> None:
    from tests.test_sms import ACCOUNT_SID, FakeTwilioHttp

    regions = config_dir / "regions.yaml"
    service = "MG" + "6" * 32
    cn = '    numbers: ["+864001234567"]\n'
    regions.write_text(regions.read_text().replace(cn, cn + f"    sms_from: {service}\n"))
    http = FakeTwilioHttp()
    app = app_factory(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=http, SMS_FROM="OKWallet")
    hotline = app.extensions["ivr"]
    Phone(app.test_client()).keys("3", "1")  # li.hua's phone is in cn
    Phone(app.test_client(), caller="+447400123456", dialed="+442038089999", sid="CA2").keys("3", "1")
    assert hotline.sms.drain(hotline.now())["sent"] == 2
    senders = [
        (r["data"]["To"], r["data"].get("MessagingServiceSid"), r["data"].get("From")) for r in http.requests
    ]
    assert senders == [("+8613800138000", service, None), ("+447400123456", None, "OKWallet")]


def test_ivr_check_refuses_a_sender_twilio_rejects(config_dir: Path) -> None:
    regions = config_dir / "regions.yaml"
    cn = '    numbers: ["+864001234567"]\n'
    regions.write_text(regions.read_text().replace(cn, cn + "    sms_from: OK-Wallet!\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    assert any("regions.cn.sms_from" in e and "not an SMS sender" in e for e in caught.value.errors)
