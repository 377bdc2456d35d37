"""The legs of a callback the dialer places (`ivr.callbacks`), step by step.

Agent first (dialing regions): the hotline answers `callback-agent`: the whisper (topic,
reference, when the caller asked, their language; never their number) and "press 1"; `1`
(`callback-connect`) dials the caller with the region's number as caller ID; the caller
answering (`callback-reached`, the <Number url>) is the promise kept.
Caller first (queue regions): the caller answers `callback-answer` (a machine is hung up on),
hears who is calling and why, and `1` (`callback-join`) joins the region's queue.
Every leg's status callback (`callback-status`) records an attempt that ended otherwise.
Each leg's webhook names its case (`case`): Twilio signs the URL, so it cannot be forged.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows import prompts
from ivr.flows.call import Call
from ivr.flows.speech import match, said_key, yes_or_no
from ivr.routing.regions import Route

AGENT_KEY_SECONDS = 8  # the agent has this long to press 1 after the whisper
CALLBACK_PRIORITY = 10  # a TaskRouter task's priority (its default is 0): ahead of new calls
TOPICS = ("lockdown", "recovery", "transactions", "selfhelp")
# Twilio's AnsweredBy values for a machine (answering machine detection; `unknown` and `human`
# are put through, since a person who says little is still a person).
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


def _case(call: Call) -> tuple[Call, dict[str, Any]] | None:
    """The callback this leg is for, and the call seen from its region and language; None
    when the case is unknown or no longer being dialed."""
    case = call.services.cases.find(call.params.get("case", ""))
    if case is None or case["kind"] != "callback" or case["status"] != "calling":
        return None
    region = call.config.regions.get(case["region"])
    if region is None:
        return None
    language = case["language"] if case["language"] in region.languages else region.languages[0]
    seen = dataclasses.replace(call, route=Route(region, "dialed", None), language=language)
    return seen, case


def _hang_up(call: Call, *lines: str, language: str | None = None) -> VoiceResponse:
    response = VoiceResponse()
    if lines:
        call.say(response, *lines, language=language)
    response.hangup()
    return response


def _outcome(call: Call, case: dict[str, Any], result: str, *, connected: bool) -> str | None:
    """The attempt in progress ended with `result`: stored on the case, counted once."""
    status = call.services.cases.callback_outcome(case["reference"], result, call.now, connected=connected)
    if status is not None:
        call.services.events.callback_attempt(case["region"], result)
    return status


def agent_answer(call: Call) -> VoiceResponse:
    """The hotline picked up the agent-first leg: the whisper, then 1 to call the caller."""
    found = _case(call)
    if found is None:
        return _hang_up(call)
    seen, case = found
    agents = seen.region.languages[0]
    asked = datetime.fromisoformat(case["requested_at"] or case["created_at"])
    topic = case.get("topic") or ("lockdown" if case["priority"] else "none")
    lines = [
        seen.line("callback_whisper_intro", agents),
        seen.line(f"whisper_topic_{topic if topic in TOPICS else 'none'}", agents),
        seen.line("whisper_reference", agents, digits=prompts.digits(agents, case["reference"])),
        seen.line(
            "callback_whisper_asked",
            agents,
            when=prompts.spoken_when(seen.catalogue(agents), asked.astimezone(seen.region.zone), call.now),
        ),
        seen.line("whisper_language", agents, spoken=seen.language_name(seen.language, agents)),
        seen.line("callback_whisper_press", agents),
    ]
    response = VoiceResponse()
    gather = response.gather(
        action=seen.url("/voice/step/callback-connect", case=case["reference"]),
        num_digits=1,
        timeout=AGENT_KEY_SECONDS,
        input="dtmf",  # an agent's key, not speech: the line may be noisy with colleagues
    )
    seen.say(gather, *lines, language=agents)
    response.hangup()  # no key: the status callback records the attempt, retried later
    return response


def agent_connect(call: Call) -> VoiceResponse:
    """The agent pressed a key: 1 dials the caller from the region's own number."""
    found = _case(call)
    if found is None:
        return _hang_up(call)
    seen, case = found
    agents = seen.region.languages[0]
    if call.digits != "1":
        return _hang_up(call)
    region = seen.region
    response = VoiceResponse()
    seen.say(response, seen.line("callback_agent_calling", agents), language=agents)
    dial = response.dial(
        action=seen.url("/voice/step/callback-dialed", case=case["reference"]),
        timeout=region.ring_timeout,
        caller_id=region.numbers[0] if region.numbers else region.hotline,
    )
    # <Number url>: runs on the caller's leg when they answer, before the two are connected
    # (https://www.twilio.com/docs/voice/twiml/number#url).
    dial.number(case["callback_number"], url=seen.url("/voice/step/callback-reached", case=case["reference"]))
    return response


def caller_reached(call: Call) -> VoiceResponse:
    """The caller answered the agent's <Dial>: the promise is kept; tell them who it is."""
    found = _case(call)
    if found is None:
        return VoiceResponse()
    seen, case = found
    call.services.cases.callback_leg(case["reference"], call.sid, call.now)
    _outcome(seen, case, "connected", connected=True)
    response = VoiceResponse()
    seen.say(response, seen.line("callback_caller_connecting"))
    return response


def agent_dialed(call: Call) -> VoiceResponse:
    """The agent's <Dial> to the caller ended: unanswered is an attempt to retry."""
    status = call.params.get("DialCallStatus", "")
    found = _case(call)
    if found is None or status == "completed":
        return _hang_up(call)
    seen, case = found
    _outcome(seen, case, f"caller-{status or 'failed'}", connected=False)
    agents = seen.region.languages[0]
    return _hang_up(
        seen, seen.line("callback_agent_no_answer", agents), seen.line("goodbye", agents), language=agents
    )


def caller_answer(call: Call) -> VoiceResponse:
    """The caller-first leg was answered: a machine is hung up on (tried again later); a
    person hears who is calling and presses 1 to join the queue."""
    found = _case(call)
    if found is None:
        return _hang_up(call)
    seen, case = found
    call.services.cases.callback_leg(case["reference"], call.sid, call.now)
    if call.params.get("AnsweredBy", "") in MACHINE:
        _outcome(seen, case, "machine", connected=False)
        return _hang_up(call)
    return _offer(seen, case)


def _offer(seen: Call, case: dict[str, Any], miss: int = 0) -> VoiceResponse:
    """Who is calling and why, then 1 (or "yes", "agent") to join the queue: keys and speech in
    the caller's language, as every caller menu listens (hints: the words that join)."""
    catalogue = seen.catalogue()
    hints = [p for name in ("yes", "agent", "digit_1") for p in catalogue.phrases.get(name, ())]
    response = VoiceResponse()
    gather = response.gather(
        action=seen.url("/voice/step/callback-join", case=case["reference"], miss=miss or None),
        num_digits=1,
        timeout=AGENT_KEY_SECONDS,
        input="dtmf speech",
        language=seen.voice().speech_language,
        hints=", ".join(dict.fromkeys(hints)),
        speech_timeout="auto",
        speech_model=seen.config.speech.model,
    )
    seen.say(gather, seen.line("callback_caller_offer"))
    seen.say(response, seen.line("callback_caller_later"), seen.line("goodbye"))
    response.hangup()
    return response


def _joins(call: Call) -> bool | None:
    """1, or said "yes" / "agent" / "one" clearly enough: True; nothing understood: None."""
    if call.digits:
        return call.digits == "1"
    if not call.speech or call.confidence < call.config.speech.confidence:
        return None
    catalogue = call.catalogue()
    said = call.speech
    if said_key(said, catalogue, ("1",)) or yes_or_no(said, catalogue) == "yes":
        return True
    return match(said, catalogue, {"0": "agent"}).key == "0" or None


def caller_join(call: Call) -> VoiceResponse:
    """1: into the region's queue, ahead of new calls where TaskRouter orders it by priority."""
    found = _case(call)
    if found is None:
        return _hang_up(call)
    seen, case = found
    region = seen.region
    joins = _joins(seen)
    if joins is None and seen.miss < 1:  # not understood: asked once more
        return _offer(seen, case, miss=seen.miss + 1)
    if not joins or not region.queue:
        return _hang_up(seen, seen.line("callback_caller_later"), seen.line("goodbye"))
    _outcome(seen, case, "queued", connected=True)
    response = VoiceResponse()
    seen.say(response, seen.line("callback_caller_joining"))
    queue = f"{region.queue}-priority" if case["priority"] else region.queue
    enqueue = response.enqueue(
        None if region.task_workflow else queue,
        action=seen.url("/voice/step/goodbye"),
        workflow_sid=region.task_workflow,
    )
    if region.task_workflow:
        # <Task priority>: TaskRouter offers higher-priority tasks first
        # (https://www.twilio.com/docs/voice/twiml/enqueue#task).
        context = {"topic": case.get("topic") or "none", "reference": case["reference"], "queue": queue}
        enqueue.task(
            json.dumps({**context, "callback": "1", "language": seen.language}, sort_keys=True),
            priority=CALLBACK_PRIORITY,
        )
    return response


def leg_status(call: Call) -> VoiceResponse:
    """A leg's status callback: an attempt not yet decided ends as Twilio says (busy,
    no-answer, failed, canceled; completed without connecting), to be retried."""
    found = _case(call)
    if found is not None:
        seen, case = found
        leg = "caller" if call.params.get("leg") == "caller" else "agent"
        status = call.params.get("CallStatus", "failed")
        result = f"{leg}-{'ended' if status == 'completed' else status}"
        _outcome(seen, case, result[:32], connected=False)
    return VoiceResponse()


STEPS = {
    "callback-agent": agent_answer,
    "callback-connect": agent_connect,
    "callback-reached": caller_reached,
    "callback-dialed": agent_dialed,
    "callback-answer": caller_answer,
    "callback-join": caller_join,
    "callback-status": leg_status,
}
