"""Reaching a person, and every way that can end well when nobody answers.

Open hours: `0` dials the region's hotline (or enqueues, in queue mode). With Twilio's REST
API configured, a dialing region's caller waits on hold instead (music, and the waiting
menu's reminder that `3` locks a stolen wallet) while the IVR rings the hotline itself
(`ivr.agentline`). When no agent can take the call (closed, busy, no answer, failed, a full
queue) the caller hears why and is offered a callback (`1`) or a voicemail (`2`).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from twilio.twiml.voice_response import VoiceResponse

from ivr.config import Region
from ivr.flows import prompts
from ivr.flows.call import Call
from ivr.flows.graph import Outcome, StoredTwiml, once
from ivr.flows.identify import number_entry
from ivr.flows.menu import Menu, Option, present
from ivr.keypad import CALL_SID, count
from ivr.routing.hours import status_at
from ivr.routing.promises import callback_promise
from ivr.routing.regions import callback_allowed
from ivr.services import CaseExists

VOICEMAIL_SECONDS = 120
RECORDING_AFTER_END = timedelta(hours=1)  # a recording's callback comes once it is ready
# Twilio may ring up to 5 s past a call's Timeout (the Call resource's "Timeout",
# https://www.twilio.com/docs/voice/api/call-resource); its status callback follows in seconds.
LEG_REPORT_SECONDS = 30
LOCKDOWN = "lockdown"  # the theft lockdown's first step: `3` from every waiting menu

# When no agent can answer (closed, busy, no answer): a waiting menu, so `3` still locks.
OFFER = Menu(
    name="offer",
    options=(
        Option("1", "callback", "opt_callback"),
        Option("2", "voicemail", "opt_voicemail"),
        Option("3", LOCKDOWN, "opt_lockdown_waiting"),
        Option("4", "contacts.text", "opt_contacts"),
    ),
    agent=False,
    on_misses="goodbye",
)
# Waiting in a queue (Twilio's waitUrl): said between stretches of hold music; silence lets
# the music go on, and Twilio asks the wait URL again when it ends. A key that leads out of
# the line leaves it first (<Leave>): the <Enqueue> action then takes the caller there.
QUEUE = Menu(
    name="queue",
    options=(
        Option("1", "queue.leave", "queue_leave"),
        Option("3", "queue.lockdown", "opt_lockdown_waiting"),
        Option("8", "queue.main", None, overrides=True),
    ),
    agent=False,
    timeout=1,
    silence_retries=False,
    on_misses="queue.stay",
    speech=None,  # hold music plays inside the <Gather>: keys only
)

DIAL_OUTCOMES = {
    "busy": "agents_busy",
    "no-answer": "agents_no_answer",
    "failed": "agents_failed",
    "canceled": "agents_no_answer",
}
TOPICS = ("lockdown", "recovery", "transactions", "selfhelp")


def agent(call: Call, lead: tuple[str, ...] = ()) -> VoiceResponse:
    """Put the caller through to the region's agents: its queue, or a <Dial> to its hotline
    (the agent first hears why the caller is here: `whisper`)."""
    if not call.status.open:
        return no_agent(call, lead)
    response = VoiceResponse()
    call.say(response, *lead, call.line("connecting"))
    call.outcome("agent")
    region = call.region
    if region.queue:
        call.remember(queued_at=call.now.isoformat())
        queue = f"{region.queue}-priority" if call.theft else region.queue
        enqueue = response.enqueue(
            None if region.task_workflow else queue,
            action=call.url("/voice/step/queue-result"),
            wait_url=call.url("/voice/step/queue-wait"),
            wait_url_method="POST",
            workflow_sid=region.task_workflow,
        )
        if region.task_workflow:  # TaskRouter: the agent's screen shows the context
            enqueue.task(json.dumps({**agent_context(call), "queue": queue}, sort_keys=True))
        return response
    if hold(call, response):
        return response
    dial = response.dial(
        action=call.url("/voice/step/dial-result"), timeout=region.ring_timeout, caller_id=call.caller_id
    )
    dial.number(region.hotline, url=whisper_url(call))
    return response


def hold(call: Call, response: VoiceResponse) -> bool:
    """Put the caller on hold in a queue of their own and ring the hotline through the REST
    API; False (nothing added) when that is not configured or Twilio refused the call."""
    line = call.services.line
    if not line.available:
        return False
    dialed, ours = call.params.get("To", ""), call.region.numbers
    if dialed not in ours and ours:  # the leg comes from our own number for the region
        dialed = ours[0]
    if not dialed.startswith("+"):
        return False
    for_caller = {"for": call.sid}  # `for` is a keyword: the agents' leg names its caller

    def ring() -> str:
        placed = line.ring(
            to=call.region.hotline,
            from_=dialed,
            url=call.url("/voice/step/hold-answer", about=whisper_about(call), **for_caller),
            fallback_url=call.url("/voice/step/hold-fallback", **for_caller),
            status_callback=call.url("/voice/step/hold-status", **for_caller),
            timeout=call.region.ring_timeout,
        )
        return placed or ""

    # A webhook Twilio sends twice rings the agents once (and holds the caller in the same way).
    key = f"hold|{call.params.get('_request', '')}"
    leg = call.services.states.once(call.sid, key, call.now, ring) if call.sid else ring()
    if not leg:
        return False
    held = call.remember(
        queued_at=call.now.isoformat(),
        hold_leg=leg,
        hold_region=call.region.code,
        hold_missed=call.url("/voice/step/hold-missed"),
    )
    if not held:  # the caller hung up while the agents' leg was being placed
        call.services.line.hang_up(leg)
    response.enqueue(
        hold_queue(call.sid),
        action=call.url("/voice/step/queue-result"),
        wait_url=call.url("/voice/step/queue-wait"),
        wait_url_method="POST",
    )
    return True


def hold_queue(caller_sid: str) -> str:
    """The caller's own queue: the agent's leg bridges exactly this caller."""
    return f"hold-{caller_sid}"


def _held(call: Call) -> tuple[str, dict[str, object]]:
    """For the agents' leg: the caller it is for, and what their call remembers."""
    caller = call.params.get("for", "")
    if not CALL_SID.fullmatch(caller):
        return caller, {}
    return caller, call.services.states.load(caller)


def hold_answer(call: Call) -> VoiceResponse:
    """The agents' leg was answered: the whisper, then the caller on hold; or, when the caller
    has left meanwhile (or this leg is not theirs), say so to the agent and hang up."""
    caller, held = _held(call)
    region = call.config.regions.get(str(held.get("hold_region", "")))
    if held.get("hold_leg") != call.sid or region is None:
        agents = (region or call.region).languages[0]
        response = VoiceResponse()
        call.say(response, call.line("whisper_caller_gone", agents), language=agents)
        response.hangup()
        return response
    # Answered: the wait URL must not take the caller off hold while the agent hears the whisper.
    call.services.states.save(caller, {**held, "hold_answered": True}, call.now)
    response = whisper(call, region)
    response.dial(caller_id=call.caller_id).queue(hold_queue(caller))
    return response


def hold_fallback(call: Call) -> VoiceResponse:
    """The agents' leg's FallbackUrl, when its own TwiML failed: bridge the caller it names
    without the whisper or the store (their queue's name is in the URL)."""
    caller = call.params.get("for", "")
    response = VoiceResponse()
    if not CALL_SID.fullmatch(caller):
        response.hangup()
        return response
    response.dial(caller_id=call.caller_id).queue(hold_queue(caller))
    return response


def hold_status(call: Call) -> VoiceResponse:
    """The agents' leg ended. Unanswered (busy, no answer, failed) while the caller still
    waits: take the caller from the music to the offer, saying why."""
    caller, held = _held(call)
    status = call.params.get("CallStatus", "")
    if held.get("hold_leg") == call.sid and status in DIAL_OUTCOMES:
        call.services.states.save(caller, {**held, "hold_leg": None, "hold_result": status}, call.now)
        call.services.line.redirect(caller, str(held["hold_missed"]))
    return VoiceResponse()


def hold_missed(call: Call) -> VoiceResponse:
    """Where the caller goes when the hotline did not answer their hold."""
    status = str(call.state.get("hold_result", ""))
    return no_agent(call, (call.line(DIAL_OUTCOMES.get(status, "agents_failed")),))


def end_hold(call: Call) -> None:
    """The caller left the hold (a key, or hung up): stop ringing the agents for them."""
    leg = call.state.get("hold_leg")
    if leg:
        call.remember(hold_leg=None)
        call.services.line.hang_up(str(leg))


def agent_context(call: Call) -> dict[str, str]:
    """What an agent should know before they speak: why the caller is here, the case they
    have, whether they proved who they are, their language. Never a number, PIN or code."""
    topic = call.state.get("topic", "none")
    return {
        "topic": topic if topic in TOPICS else "none",
        "reference": str(call.state.get("reference", "")),
        # "1": proved by a one-time code; "p": the wallet's PIN was right (3,2); "0": neither.
        "verified": "1" if call.state.get("verified") else ("p" if call.state.get("pin_verified") else "0"),
        "language": call.language,
    }


def whisper_about(call: Call) -> str:
    """The agent context as one short query value: topic.reference.verified."""
    context = agent_context(call)
    return ".".join(context[k] for k in ("topic", "reference", "verified"))


def whisper_url(call: Call) -> str:
    """`<Number url>`: Twilio plays this to the agent who answers, before connecting."""
    return call.url("/voice/step/whisper", about=whisper_about(call))


WHISPERED_PROOF = {"1": "whisper_verified", "p": "whisper_pin_verified"}  # agent_context's "verified"


def whisper(call: Call, region: Region | None = None) -> VoiceResponse:
    """What the agent hears on picking up, in the first language of the caller's `region`
    (the agents')."""
    topic, _, rest = call.params.get("about", "none..0").partition(".")
    reference, _, verified = rest.partition(".")
    agents = (region or call.region).languages[0]
    lines = [call.line("whisper_intro", agents)]
    lines.append(call.line(f"whisper_topic_{topic if topic in TOPICS else 'none'}", agents))
    if reference.isdigit() and len(reference) == 8:
        lines.append(call.line("whisper_reference", agents, digits=prompts.digits(agents, reference)))
    lines.append(call.line(WHISPERED_PROOF.get(verified, "whisper_unverified"), agents))
    spoken = call.language_name(call.language, agents)
    lines.append(call.line("whisper_language", agents, spoken=spoken))
    response = VoiceResponse()
    call.say(response, *lines, language=agents)
    return response


def agent_step(call: Call) -> VoiceResponse:
    return agent(call)


def escalate(call: Call) -> VoiceResponse:
    """After three misses in a row: a person when agents are open, else the callback offer."""
    return agent(call)


def no_agent(call: Call, lead: tuple[str, ...] = ()) -> VoiceResponse:
    """Nobody can answer: why (and when agents are back), then the offer."""
    lines = list(lead)
    if not call.status.open:
        lines += call.status_lines()
    return present(call, OFFER, lead=tuple(lines))


def no_agent_step(call: Call) -> VoiceResponse:
    return no_agent(call)


def offer(call: Call) -> VoiceResponse:
    return present(call, OFFER)


def hang_up(call: Call, *lines: str) -> VoiceResponse:
    """Say `lines` and goodbye, then end the call."""
    response = VoiceResponse()
    call.say(response, *lines, call.line("goodbye"))
    response.hangup()
    return response


def goodbye(call: Call) -> VoiceResponse:
    return hang_up(call)


def dial_result(call: Call) -> VoiceResponse:
    """Where the agent <Dial> ends: a finished call says goodbye, anything else gets the offer."""
    status = call.params.get("DialCallStatus", "")
    if status == "completed":
        return goodbye(call)
    return no_agent(call, (call.line(DIAL_OUTCOMES.get(status, "agents_failed")),))


FRAUD_DESK_RESULT = "lockdown.desk-result"  # where the fraud desk's <Dial> ends (ivr.flows.lockdown)
KEY_PAUSE = 2  # seconds after the words in which a key still counts, before the desk rings


def fraud_desk(call: Call, *lines: str, keys_to: str | None = None) -> VoiceResponse:
    """Say `lines`, then put the caller through to the 24/7 fraud desk, marked as a theft call;
    the desk hears what happened first (the lockdown's reference), so it can act at once.

    `keys_to`: the words are said inside a one-key <Gather> posting there, so a key pressed
    while they play acts; with no key Twilio goes on to the <Dial> (a <Gather> without
    actionOnEmptyResult runs the next verb on silence: twilio.com/docs/voice/twiml/gather)."""
    call.carried["theft"] = "1"
    response = VoiceResponse()
    words = (*lines, call.line("to_fraud_desk"))
    if keys_to:
        gather = response.gather(action=keys_to, input="dtmf", num_digits=1, timeout=KEY_PAUSE)
        call.say(gather, *words)
    else:
        call.say(response, *words)
    dial = response.dial(
        action=call.url(f"/voice/step/{FRAUD_DESK_RESULT}"),
        timeout=call.region.ring_timeout,
        caller_id=call.caller_id,
    )
    dial.number(call.config.fraud_desk, url=whisper_url(call))
    return response


def backend_down(call: Call) -> VoiceResponse:
    """The wallet failed: say so and offer a person."""
    return agent(call, lead=(call.line("backend_down"),))


# --- callbacks -----------------------------------------------------------------------------

# A number to call back: a fixed-line or mobile number in a country we serve (toll fraud).
CALLBACK_NUMBER = number_entry(
    "callback.number",
    lambda call, number: book_callback(call, number),
    prompt="callback_enter",
    rule=callback_allowed,
    refused="callback_refused",
    agent=False,
    on_misses="goodbye",
)


@once("callback")
def callback(call: Call) -> VoiceResponse:
    """Call back the calling number, or (withheld, or one we may not dial) a number typed now."""
    if call.route.caller is None:
        return CALLBACK_NUMBER.ask(call)
    if not callback_allowed(call.config, call.route.caller):
        return CALLBACK_NUMBER.ask(call, call.line("callback_refused"))
    return book_callback(call, call.route.caller)


def book_callback(call: Call, number: str) -> VoiceResponse:
    """One waiting callback per number: asking again keeps the first one and its place in line;
    a new one is told when to expect the call (`callback_promise`)."""
    requested = datetime.fromisoformat(call.state["queued_at"]) if call.state.get("queued_at") else call.now
    last4 = prompts.digits(call.language, number[-4:])
    ahead = call.services.cases.callbacks_waiting(call.region.code, theft_only=call.theft)
    topic = call.state.get("topic")
    try:
        call.open_case(
            "callback",
            callback_number=number,
            requested_at=requested,
            topic=topic if topic in TOPICS else None,
        )
    except CaseExists:
        call.outcome("callback")
        if call.theft:  # the one already waiting for this number moves ahead, as a theft one
            call.services.cases.prioritise_callback(number)
            return hang_up(call, priority_callback_promise(call, ahead, last4))
        if number != call.route.caller:  # a typed number: the words of a new booking, so
            return hang_up(call, promise_line(call, ahead, last4))  # no one learns it was listed
        return hang_up(call, call.line("callback_exists", last4=last4))
    call.outcome("callback")
    if call.theft:  # stored with theft priority: say so, and when
        return hang_up(call, priority_callback_promise(call, ahead, last4))
    return hang_up(call, promise_line(call, ahead, last4))


def _next_opening(call: Call) -> datetime | None:
    """The opening after the one the region is in now (None when closed: `status.next_open`)."""
    status = call.status
    if status.open and status.closes_at is not None:
        return status_at(call.config.schedule_for(call.region), call.region.zone, status.closes_at).next_open
    return None


def promise_line(call: Call, ahead: int, last4: str) -> str:
    """When to expect the callback, from the region's hours now and the callbacks ahead."""
    promise = callback_promise(call.status, call.now, ahead, _next_opening(call))
    when = call.when(promise.at) if promise.at else ""
    return call.line(f"callback_booked_{promise.kind}", last4=last4, when=when)


def priority_callback_promise(call: Call, ahead: int, last4: str) -> str:
    """When a theft callback comes: the dialer calls in the region's agent hours, theft first,
    so only the theft callbacks `ahead` wait before it; "the first they call" only when none."""
    if ahead:
        return promise_line(call, ahead, last4)
    promise = callback_promise(call.status, call.now, 0, _next_opening(call))
    if promise.kind == "when_open" and promise.at is not None:
        return call.line("callback_priority_later", last4=last4, when=call.when(promise.at))
    if promise.kind == "no_time":
        return call.line("callback_booked_no_time", last4=last4)
    return call.line("callback_priority_soon", last4=last4)


# --- voicemail -----------------------------------------------------------------------------

# A withheld caller is asked for a number to call back first (`#` alone: no number).
VOICEMAIL_NUMBER = number_entry(
    "voicemail.number",
    lambda call, number: record_message(call, callback_number=number),
    prompt="voicemail_number",
    rule=callback_allowed,
    refused="callback_refused",
    agent=False,
    on_misses="voicemail.no-number",
    on_empty="voicemail.no-number",
)


def voicemail(call: Call) -> VoiceResponse:
    if call.route.caller is None:
        return VOICEMAIL_NUMBER.ask(call)
    return record_message(call)


def voicemail_without_number(call: Call) -> VoiceResponse:
    return record_message(call, lead=(call.line("voicemail_no_number"),))


def record_message(
    call: Call, callback_number: str | None = None, lead: tuple[str, ...] = ()
) -> VoiceResponse:
    """The beep and up to two minutes; the number to call back rides on the recording
    callback's (signed) URL, since the call may have ended when the recording is ready."""
    if callback_number is None and call.route.caller and callback_allowed(call.config, call.route.caller):
        callback_number = call.route.caller
    response = VoiceResponse()
    call.say(response, *lead, call.line("voicemail_prompt"))
    response.record(
        max_length=VOICEMAIL_SECONDS,
        finish_on_key="#",
        play_beep=True,
        timeout=5,
        trim="trim-silence",
        action=call.url("/voice/step/voicemail-done"),
        recording_status_callback=call.url("/voice/step/recording", cb=callback_number),
        recording_status_callback_event="completed",
    )
    return response


def voicemail_done(call: Call) -> VoiceResponse:
    """The <Record> action: thank the caller, or offer again when nothing was said."""
    if not call.params.get("RecordingUrl") or not count(call.params.get("RecordingDuration")):
        return present(call, OFFER, lead=(call.line("voicemail_empty"),))
    call.outcome("voicemail")
    return hang_up(call, call.line("voicemail_thanks"))


def recording(call: Call) -> VoiceResponse:
    """Twilio's recording status callback: a voicemail case, once per recording, never empty."""
    params = call.params
    seconds = count(params.get("RecordingDuration"))
    url, sid = params.get("RecordingUrl", ""), params.get("RecordingSid", "")
    if params.get("RecordingStatus") != "completed" or not url or not seconds:
        return VoiceResponse()
    number = params.get("cb")
    number = number if number and callback_allowed(call.config, number) else None

    def store_case() -> str:
        call.open_case(
            "voicemail", recording_url=url[:512], recording_seconds=seconds, callback_number=number
        )
        return str(VoiceResponse())

    # Twilio posts this once the recording is ready, which may be after the call ended.
    answer = call.services.states.once(
        call.sid, f"recording|{sid or url}", call.now, store_case, after_end=RECORDING_AFTER_END
    )
    return StoredTwiml(answer)


# --- queue mode ----------------------------------------------------------------------------


def hold_is_over(call: Call) -> bool:
    """On hold, the agents' leg ended unanswered but the redirect off hold never came (it
    failed), or the leg is silent far past its ring timeout (its status callback was lost
    too): stop the leg and take the caller out of the line."""
    state = call.state
    if "hold_region" not in state or state.get("hold_answered"):
        return False
    if state.get("hold_result") and not state.get("hold_leg"):
        return True
    waited = count(call.params.get("QueueTime"))
    if (
        state.get("hold_leg")
        and waited is not None
        and waited > call.region.ring_timeout + LEG_REPORT_SECONDS
    ):
        end_hold(call)
        call.remember(hold_result="no-answer")
        return True
    return False


def queue_wait(call: Call) -> VoiceResponse:
    """Twilio's waitUrl: position (never higher than last said), the average wait, hold music;
    or, when nobody is ringing for a caller on hold any more, out of the line (<Leave>, which
    Twilio allows in a waitUrl: https://www.twilio.com/docs/voice/twiml/leave)."""
    if hold_is_over(call):
        return _leave_queue_for(call, "hold-missed")
    lines = []
    if call.region.queue and call.region.queue_updates:  # on hold, the caller's queue is their own
        reported = count(call.params.get("QueuePosition"))
        average = count(call.params.get("AvgQueueTime"))
        if reported:
            position = reported
            if isinstance(call.state.get("announced_position"), int):
                position = min(position, call.state["announced_position"])
            if position != call.state.get("announced_position"):
                call.remember(announced_position=position)
            lines.append(call.line("queue_position", position=str(position)))
        if average is not None:
            lines.append(prompts.wait_time(call.catalogue(), average))
    return present(call, QUEUE, lead=tuple(lines), play=call.region.music)


def _leave_queue_for(call: Call, where: str) -> VoiceResponse:
    """Leave the line (<Leave>); the <Enqueue> action then takes the caller `where`."""
    call.remember(leave_for=where)
    response = VoiceResponse()
    response.leave()
    return response


def leave_queue(call: Call) -> VoiceResponse:
    """`1` while waiting: leave the line for a callback that keeps the caller's place."""
    return _leave_queue_for(call, "callback")


def leave_queue_to_lock(call: Call) -> VoiceResponse:
    return _leave_queue_for(call, LOCKDOWN)


def leave_queue_to_main(call: Call) -> VoiceResponse:
    return _leave_queue_for(call, "main")


def stay_in_queue(call: Call) -> VoiceResponse:
    """Three wrong keys while waiting: back to the hold music (Twilio asks the wait URL again)."""
    return VoiceResponse()


def queue_result(call: Call) -> VoiceResponse:
    """The <Enqueue> action: why the caller left the queue (or their hold)."""
    result = call.params.get("QueueResult", "")
    if result == "bridged":
        return goodbye(call)
    end_hold(call)
    if result == "hangup":
        return VoiceResponse()
    if result == "redirected":
        # The hold was moved by a REST redirect (https://www.twilio.com/docs/voice/twiml/enqueue
        # #attributes-action): Twilio runs that URL, but should it run this answer instead, the
        # caller still goes where the redirect takes them, never to an empty hang-up.
        response = VoiceResponse()
        response.redirect(str(call.state.get("hold_missed") or call.url("/voice/step/main")), method="POST")
        return response
    if result == "leave" and call.state.get("leave_for") in ("callback", LOCKDOWN, "main", "hold-missed"):
        return call.graph.steps[call.state["leave_for"]](call)
    if result == "queue-full":
        return no_agent(call, (call.line("queue_full"),))
    return no_agent(call, (call.line("agents_failed"),))


MENUS = (OFFER, QUEUE, CALLBACK_NUMBER.menu, VOICEMAIL_NUMBER.menu)
STEPS = {
    "agent": agent_step,
    "escalate": escalate,
    "no-agent": no_agent_step,
    "offer": offer,
    "goodbye": goodbye,
    "dial-result": dial_result,
    "whisper": whisper,
    "callback": callback,
    "voicemail": voicemail,
    "voicemail.no-number": voicemail_without_number,
    "voicemail-done": voicemail_done,
    "recording": recording,
    "queue-wait": queue_wait,
    "queue.leave": leave_queue,
    "queue.lockdown": leave_queue_to_lock,
    "queue.main": leave_queue_to_main,
    "queue.stay": stay_in_queue,
    "queue-result": queue_result,
    "hold-answer": hold_answer,
    "hold-status": hold_status,
    "hold-fallback": hold_fallback,
    "hold-missed": hold_missed,
    **CALLBACK_NUMBER.steps,
    **VOICEMAIL_NUMBER.steps,
}
OUTCOMES = {"agent": Outcome(rank=10), "voicemail": Outcome(rank=30), "callback": Outcome(rank=40)}
