"""Rehearsing the callback dialer in-process: `ivr callbacks run --once --at`, and scenarios.

The dialer places its legs through the simulator's Twilio (`LocalTwilio`); each leg is then
played as Twilio would: its webhooks signed, the agent pressing 1, the caller answering (a
person) and pressing 1. Every attempt and what each side hears is printed. It runs on a
scratch store: nothing real is dialed or changed.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.agentline import AgentLine
from ivr.callbacks import Dialer
from ivr.tools.simulator import LocalTwilio, Transport

BASE = "http://localhost"  # the in-process app's base URL (what the simulator signs)


def rehearse_pass(runtime: Any, transport: Transport, at: datetime, echo: Callable[[str], None]) -> list[Any]:
    """One dialer pass at `at`, every leg it placed played to its end; the attempts."""
    from twilio.rest import Client

    from ivr import DEV_TOKEN

    twilio = LocalTwilio()
    client = Client(LocalTwilio.ACCOUNT, DEV_TOKEN, http_client=twilio)
    attempts = Dialer(runtime, BASE, line=AgentLine(client)).run_once(at)
    for attempt, placed in zip(attempts, twilio.placed, strict=False):
        echo(attempt.line())
        for line in play_leg(transport, placed):
            echo(f"  {line}")
    return attempts


def play_leg(transport: Transport, placed: dict[str, Any]) -> list[str]:
    """Answer a leg the dialer placed and follow its TwiML: what each side hears and does."""
    identity = {
        "CallSid": placed["Sid"],
        "AccountSid": LocalTwilio.ACCOUNT,
        "From": placed["From"],
        "To": placed["To"],
        "Direction": "outbound-api",
        "CallStatus": "in-progress",
    }
    if placed.get("MachineDetection"):
        identity["AnsweredBy"] = "human"
    who = "caller" if placed.get("MachineDetection") else "agent"
    lines: list[str] = []

    def post(url: str, form: dict[str, str]) -> ET.Element:
        status, body = transport(url, form)
        if status != 200:
            raise RuntimeError(f"POST {url} answered HTTP {status}")
        return ET.fromstring(body) if body.strip() else ET.Element("Response")

    document: ET.Element | None = post(placed["Url"], identity)
    while document is not None:
        following = None
        for verb in document:
            if verb.tag == "Say":
                lines.append(f"{who} hears: {(verb.text or '').strip()}")
            elif verb.tag == "Gather":
                lines += [f"{who} hears: {(say.text or '').strip()}" for say in verb.iter("Say")]
                lines.append(f"{who} presses 1")
                following = post(verb.get("action", ""), {**identity, "Digits": "1"})
                break
            elif verb.tag == "Dial":
                following = _dial(post, identity, verb, lines)
                break
            elif verb.tag == "Enqueue":
                lines.append(f"caller joins the queue {(verb.text or verb.get('workflowSid') or '').strip()}")
                break
            elif verb.tag == "Hangup":
                break
        document = following
    post(placed["StatusCallback"], {**identity, "CallStatus": "completed"})
    return lines


def _dial(
    post: Callable[[str, dict[str, str]], ET.Element],
    identity: dict[str, str],
    verb: ET.Element,
    lines: list[str],
) -> ET.Element:
    """The agent's <Dial> to the caller: the caller answers (their leg's <Number url>)."""
    number = verb.find("Number")
    dialed = (number.text or "").strip() if number is not None else ""
    lines.append(f"agent dials the caller, caller ID {verb.get('callerId')}")
    if number is not None and number.get("url"):
        leg = {
            **identity,
            "CallSid": "CA" + secrets.token_hex(16),
            "From": verb.get("callerId", ""),
            "To": dialed,
        }
        leg["Direction"] = "outbound-dial"
        for say in post(number.get("url", ""), leg).iter("Say"):
            lines.append(f"caller hears: {(say.text or '').strip()}")
    return post(verb.get("action", ""), {**identity, "DialCallStatus": "completed", "DialCallDuration": "60"})


def rehearse(config_dir: Any, store_url: str, at: datetime, echo: Callable[[str], None]) -> int:
    """`ivr callbacks run --once --at`: the callbacks waiting in the store at `store_url`,
    copied to a scratch store, dialed in one pass at `at`; how many attempts were made."""
    import tempfile

    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    from ivr import DEV_TOKEN
    from ivr.store.callbacks import copy_waiting
    from ivr.tools.simulator import scratch_app, signed_transport

    with tempfile.TemporaryDirectory(prefix="ivr-callbacks-") as scratch:
        app = scratch_app(config_dir, scratch, lambda: at)
        runtime = app.extensions["ivr"]
        copied = 0
        database = make_url(store_url).database
        if not store_url.startswith("sqlite") or (database and Path(database).exists()):
            engine = create_engine(store_url)  # read only: the real store is never migrated
            try:
                with engine.connect() as source, runtime.store.begin() as target:
                    if inspect(source).has_table("cases"):
                        copied = copy_waiting(source, target)
            finally:
                engine.dispose()
        echo(f"rehearsal at {at.isoformat()}: {copied} callback(s) waiting, copied to a scratch store")
        client = app.test_client()

        def send(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
            response = client.post(url.removeprefix(BASE), data=form, headers=headers, base_url=BASE)
            return response.status_code, response.get_data(as_text=True)

        try:
            attempts = rehearse_pass(runtime, signed_transport(BASE, DEV_TOKEN, send), at, echo)
        finally:
            runtime.store.dispose()
    echo(f"{len(attempts)} attempt(s); nothing was dialed for real")
    return len(attempts)
