"""On hold for a dialing region's agents (TWILIO_ACCOUNT_SID set): the caller waits in a queue
of their own with music and the waiting menu (`3` locks a stolen wallet) while the IVR rings
the hotline through Twilio's Calls API; the agent who answers hears the whisper and is
bridged to that caller. Twilio's REST API is a fake HTTP client here, never the network."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from twilio.http import HttpClient
from twilio.http.response import Response

from tests.conftest import BASE, Clock, Phone, Twiml, twilio_sid
from tests.test_sms import ACCOUNT_SID

LEG = "CA" + "7" * 32  # the agents' leg the fake API creates
CALLS = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Calls"
OPEN_MONDAY = "2026-11-23T10:00:00+00:00"


class FakeCallsApi(HttpClient):  # type: ignore[misc]
    """Records requests and answers like Twilio's Calls API (or refuses with `status`)."""

    def __init__(self, status: int = 201) -> None:
        super().__init__(logging.getLogger("fake-twilio"), False)
        self.status = status
        self.requests: list[tuple[str, dict[str, str]]] = []

    def request(self, method: str, uri: str, params: Any = None, data: Any = None, **_: Any) -> Response:
        self.requests.append((uri, dict(data or {})))
        if self.status >= 400:
            refusal = {"code": 21215, "message": "refused", "status": self.status}
            return Response(self.status, json.dumps(refusal))
        placed = uri == CALLS + ".json"
        sid = LEG if placed else uri.rsplit("/", 1)[1].removesuffix(".json")
        return Response(201 if placed else 200, json.dumps({"sid": sid, "status": "queued"}))

    def updates(self, sid: str) -> list[dict[str, str]]:
        return [data for uri, data in self.requests if uri == f"{CALLS}/{sid}.json"]


@pytest.fixture
def api() -> FakeCallsApi:
    return FakeCallsApi()


@pytest.fixture
def held_app(app_factory: Any, api: FakeCallsApi, clock: Clock) -> Flask:
    clock.set(OPEN_MONDAY)
    return app_factory(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=api, SMS_FROM="OKWallet")


def uk_caller(app: Flask, label: str = "uk-caller") -> Phone:
    return Phone(app.test_client(), caller="+447400123456", dialed="+442038089999", sid=label)


def agents_leg(app: Flask, url: str, **extra: str) -> Twiml:
    """Twilio running the agents' leg: our own number calling the hotline."""
    leg = Phone(app.test_client(), caller="+442038089999", dialed="+442079460000", sid=LEG)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE  # an absolute URL, as the REST API needs
    return leg.twiml(f"{parts.path}?{parts.query}", Direction="outbound-api", **extra)


def test_0_puts_the_caller_on_hold_and_rings_the_hotline_itself(held_app: Flask, api: FakeCallsApi) -> None:
    caller = uk_caller(held_app)
    held = caller.keys("0")
    assert held.text == "Please hold while I connect you to an agent."
    enqueue = held.first("Enqueue")
    assert (enqueue.text or "").strip() == f"hold-{caller.sid}"  # a queue of their own
    assert held.dialed == []
    [(uri, placed)] = api.requests
    assert uri == CALLS + ".json"
    assert (placed["To"], placed["From"], placed["Timeout"]) == ("+442079460000", "+442038089999", 25)
    answer = parse_qs(urlsplit(placed["Url"]).query)
    assert answer["for"] == [caller.sid] and answer["about"] == ["none..0"]
    assert urlsplit(placed["StatusCallback"]).path == "/voice/step/hold-status"
    assert "447400123456" not in json.dumps(placed)  # the caller's number goes nowhere

    wait = caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="1", QueueTime="0")
    assert "If your phone was lost or stolen, press 3 to lock your wallet now." in wait.text
    assert "press 1" in wait.text  # a callback instead of waiting
    assert wait.first("Gather").find("Play") is not None  # music, and the reminder each time round


def test_the_agent_hears_why_then_is_bridged_to_that_caller(held_app: Flask, api: FakeCallsApi) -> None:
    caller = uk_caller(held_app)
    caller.keys("1", "1")  # a username reminder first: the agent hears the topic
    caller.twiml("/voice/step/agent")
    placed = api.requests[-1][1]
    agent = agents_leg(held_app, placed["Url"])
    assert agent.text == "OK Wallet caller. Account recovery. Not verified. Speaks English."
    assert agent.first("Dial").find("Queue").text == f"hold-{caller.sid}"  # type: ignore[union-attr]
    assert "447400123456" not in agent.raw


def test_3_while_on_hold_locks_and_stops_the_ringing(held_app: Flask, api: FakeCallsApi) -> None:
    caller = uk_caller(held_app)
    enqueue = caller.keys("0").first("Enqueue")
    caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="1")
    assert caller.press("3").all("Leave")
    lockdown = caller.twiml(enqueue.get("action", ""), QueueResult="leave", QueueTime="12")
    assert "press 1" in lockdown.text and "lock" in lockdown.text.lower()
    assert api.updates(LEG) == [{"Status": "completed"}]  # the agents stop ringing for nobody
    placed = api.requests[0][1]
    late = agents_leg(held_app, placed["Url"])  # an agent picks up just after
    assert late.text == "The caller has already left the line. Thank you."
    assert late.all("Hangup") and not late.all("Dial")


def test_a_caller_who_hangs_up_on_hold_stops_the_ringing(held_app: Flask, api: FakeCallsApi) -> None:
    caller = uk_caller(held_app)
    enqueue = caller.keys("0").first("Enqueue")
    gone = caller.twiml(enqueue.get("action", ""), QueueResult="hangup")
    assert gone.raw.endswith("<Response />")
    assert api.updates(LEG) == [{"Status": "completed"}]


@pytest.mark.parametrize(
    ("status", "heard"),
    [
        ("no-answer", "none of our agents could answer just now"),
        ("busy", "busy"),
        ("failed", "i couldn't put you through to an agent"),
    ],
)
def test_an_unanswered_hotline_takes_the_caller_from_the_music_to_the_offer(
    held_app: Flask, api: FakeCallsApi, status: str, heard: str
) -> None:
    caller = uk_caller(held_app)
    enqueue = caller.keys("0").first("Enqueue")
    caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="1")
    caller.press("")  # silence: the music goes on
    placed = api.requests[0][1]
    for _ in range(2):  # Twilio may send the status callback twice: one redirect
        agents_leg(held_app, placed["StatusCallback"], CallStatus=status)
    [moved] = api.updates(caller.sid)
    assert moved["Method"] == "POST" and urlsplit(moved["Url"]).path == "/voice/step/hold-missed"
    offer = caller.twiml(moved["Url"].removeprefix(BASE))
    assert heard in offer.text.lower()
    assert "press 1" in offer.text and "press 3 to lock" in offer.text


def test_an_answered_leg_ending_leaves_the_caller_alone(held_app: Flask, api: FakeCallsApi) -> None:
    caller = uk_caller(held_app)
    caller.keys("0")
    agents_leg(held_app, api.requests[0][1]["StatusCallback"], CallStatus="completed")
    assert api.updates(caller.sid) == []


def test_when_twilio_refuses_the_leg_the_caller_is_dialed_through_as_before(
    app_factory: Any, clock: Clock
) -> None:
    clock.set(OPEN_MONDAY)
    api = FakeCallsApi(status=400)
    app = app_factory(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_HTTP_CLIENT=api)
    answer = uk_caller(app).keys("0")
    assert answer.dialed == ["+442079460000"] and not answer.all("Enqueue")
    assert len(api.requests) == 1


def test_without_the_account_sid_agents_are_dialed(phone: Phone, clock: Clock) -> None:
    clock.set(OPEN_MONDAY)
    phone.caller, phone.dialed = "+447400123456", "+442038089999"
    assert phone.keys("0").dialed == ["+442079460000"]


@pytest.mark.parametrize("hostile", ["", "CA123", "x" * 40, "CA" + "f" * 32, "../../etc"])
def test_a_leg_for_no_waiting_caller_only_says_so(held_app: Flask, api: FakeCallsApi, hostile: str) -> None:
    answer = agents_leg(held_app, f"{BASE}/voice/step/hold-answer?for={hostile}&about=none..0&n=1")
    assert answer.text == "The caller has already left the line. Thank you." and not answer.all("Dial")
    agents_leg(held_app, f"{BASE}/voice/step/hold-status?for={hostile}&n=1", CallStatus="no-answer")
    assert api.requests == []


def test_the_fraud_desk_is_still_dialed_after_a_lockdown(held_app: Flask, api: FakeCallsApi) -> None:
    answer = uk_caller(held_app, twilio_sid("theft")).keys("3", "1")
    assert answer.dialed == ["+442079460001"]
    assert not any(uri.endswith("Messages.json") for uri, *_ in api.requests)  # not from the webhook
    hotline = held_app.extensions["ivr"]
    assert hotline.sms.drain(hotline.now())["sent"] == 1 and api.requests[-1][0].endswith("Messages.json")


def test_a_retried_0_rings_the_agents_once(held_app: Flask, api: FakeCallsApi) -> None:
    caller = uk_caller(held_app)
    first = caller.keys("0")
    again = caller.retry()  # Twilio sends the same webhook again
    assert again.raw == first.raw and len(api.requests) == 1


def test_back_to_the_main_menu_and_0_again_rings_a_new_leg_after_ending_the_first(
    held_app: Flask, api: FakeCallsApi
) -> None:
    caller = uk_caller(held_app)
    enqueue = caller.keys("0").first("Enqueue")
    caller.twiml(enqueue.get("waitUrl", ""), QueuePosition="1")
    caller.press("8")
    menu = caller.twiml(enqueue.get("action", ""), QueueResult="leave")
    assert "press 0" in menu.text
    assert api.updates(LEG) == [{"Status": "completed"}]
    caller.press("0")
    assert [uri for uri, _ in api.requests].count(CALLS + ".json") == 2
