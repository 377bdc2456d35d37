"""Reaching a person, and every way that can end well when nobody answers.

Open hours: `0` dials the region's hotline (or enqueues, in queue mode). When no agent can
take the call (closed, busy, no answer, failed, a full queue) the caller hears why and is
offered a callback (`1`) or a voicemail (`2`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from twilio.twiml.voice_response import VoiceResponse

from ivr.flows import prompts
from ivr.flows.call import Call
from ivr.flows.menu import Menu, present, retry, step
from ivr.keypad import count
from ivr.routing.regions import callback_allowed, typed_number

HOLD_MUSIC = "https://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
VOICEMAIL_SECONDS = 120

OFFER = Menu(
    name="offer",
    prompts=("offer_menu",),
    options={"1": "callback", "2": "voicemail"},
    agent=False,
    on_misses="goodbye",
).register()
CALLBACK_NUMBER = Menu(
    name="callback.number",
    prompts=("callback_enter",),
    entry="callback.number-entered",
    agent=False,
    on_misses="goodbye",
).register()

DIAL_OUTCOMES = {
    "busy": "agents_busy",
    "no-answer": "agents_no_answer",
    "failed": "agents_failed",
    "canceled": "agents_no_answer",
}


def agent(call: Call, lead: tuple[str, ...] = ()) -> VoiceResponse:
    """Put the caller through to the region's agents: its queue, or a <Dial> to its hotline."""
    if not call.status.open:
        return no_agent(call, lead)
    response = VoiceResponse()
    call.say(response, *lead, call.line("connecting"))
    call.hotline.outcome(call, "agent")
    region = call.region
    if region.queue:
        call.remember(queued_at=call.now.isoformat())
        queue = f"{region.queue}-priority" if call.theft else region.queue
        response.enqueue(
            queue,
            action=call.url("/voice/step/queue-result"),
            wait_url=call.url("/voice/step/queue-wait"),
            wait_url_method="POST",
        )
        return response
    dial = response.dial(
        action=call.url("/voice/step/dial-result"), timeout=region.ring_timeout, caller_id=call.route.caller
    )
    dial.number(region.hotline)
    return response


step("agent")(agent)


@step("escalate")
def escalate(call: Call) -> VoiceResponse:
    """After three misses in a row: a person when agents are open, else the callback offer."""
    return agent(call)


def no_agent(call: Call, lead: tuple[str, ...] = ()) -> VoiceResponse:
    """Nobody can answer: why (and when agents are back, with the e-mail), then the offer."""
    lines = list(lead)
    if not call.status.open:
        lines += call.status_lines()
        lines.append(
            call.line("support_email", email=prompts.email(call.language, call.region.support_email))
        )
    return present(call, OFFER, lead=tuple(lines))


step("no-agent")(no_agent)


@step("offer")
def offer(call: Call) -> VoiceResponse:
    return present(call, OFFER)


def hang_up(call: Call, *lines: str) -> VoiceResponse:
    """Say `lines` and goodbye, then end the call."""
    response = VoiceResponse()
    call.say(response, *lines, call.line("goodbye"))
    response.hangup()
    return response


@step("goodbye")
def goodbye(call: Call) -> VoiceResponse:
    return hang_up(call)


@step("dial-result")
def dial_result(call: Call) -> VoiceResponse:
    """Where the agent <Dial> ends: a finished call says goodbye, anything else gets the offer."""
    status = call.params.get("DialCallStatus", "")
    if status == "completed":
        return goodbye(call)
    return no_agent(call, (call.line(DIAL_OUTCOMES.get(status, "agents_failed")),))


def fraud_desk(call: Call, *lines: str) -> VoiceResponse:
    """Say `lines`, then put the caller through to the 24/7 fraud desk, marked as a theft call."""
    call.carried["theft"] = "1"
    response = VoiceResponse()
    call.say(response, *lines, call.line("to_fraud_desk"))
    dial = response.dial(
        action=call.url("/voice/step/dial-result"),
        timeout=call.region.ring_timeout,
        caller_id=call.route.caller,
    )
    dial.number(call.config.fraud_desk)
    return response


def backend_down(call: Call) -> VoiceResponse:
    """The wallet failed: say so and offer a person."""
    return agent(call, lead=(call.line("backend_down"),))


# --- callbacks -----------------------------------------------------------------------------


@step("callback", once=True)
def callback(call: Call) -> VoiceResponse:
    """Call back the calling number, or (withheld, or one we may not dial) a number typed now."""
    if call.route.caller is None:
        return present(call, CALLBACK_NUMBER)
    if not callback_allowed(call.config, call.route.caller):
        return present(call, CALLBACK_NUMBER, lead=(call.line("callback_refused"),))
    return book_callback(call, call.route.caller)


@step("callback.number-entered")
def callback_number_entered(call: Call) -> VoiceResponse:
    number = typed_number(call.digits, call.region.countries)
    if number is None:
        return retry(call, CALLBACK_NUMBER, "bad_phone")
    if not callback_allowed(call.config, number):
        return retry(call, CALLBACK_NUMBER, "callback_refused")
    return book_callback(call, number)


def book_callback(call: Call, number: str) -> VoiceResponse:
    """One open callback per number: asking again keeps the first one and its place in line."""
    requested = datetime.fromisoformat(call.state["queued_at"]) if call.state.get("queued_at") else call.now
    hotline, key = call.hotline, "callback_booked"
    try:
        with hotline.store.begin() as connection:
            call.open_case(connection, "callback", callback_number=number, requested_at=requested)
    except IntegrityError:
        key = "callback_exists"
    hotline.outcome(call, "callback")
    return hang_up(call, call.line(key, last4=prompts.digits(call.language, number[-4:])))


# --- voicemail -----------------------------------------------------------------------------


@step("voicemail")
def voicemail(call: Call) -> VoiceResponse:
    response = VoiceResponse()
    call.say(response, call.line("voicemail_prompt"))
    response.record(
        max_length=VOICEMAIL_SECONDS,
        finish_on_key="#",
        play_beep=True,
        timeout=5,
        trim="trim-silence",
        action=call.url("/voice/step/voicemail-done"),
        recording_status_callback=call.url("/voice/step/recording"),
        recording_status_callback_event="completed",
    )
    return response


@step("voicemail-done")
def voicemail_done(call: Call) -> VoiceResponse:
    """The <Record> action: thank the caller, or offer again when nothing was said."""
    if not call.params.get("RecordingUrl") or not count(call.params.get("RecordingDuration")):
        return present(call, OFFER, lead=(call.line("voicemail_empty"),))
    call.hotline.outcome(call, "voicemail")
    return hang_up(call, call.line("voicemail_thanks"))


@step("recording")
def recording(call: Call) -> VoiceResponse:
    """Twilio's recording status callback: a voicemail case, once per recording, never empty."""
    params = call.params
    seconds = count(params.get("RecordingDuration"))
    url, sid = params.get("RecordingUrl", ""), params.get("RecordingSid", "")
    if params.get("RecordingStatus") != "completed" or not url or not seconds:
        return VoiceResponse()

    def store_case() -> VoiceResponse:
        with call.hotline.store.begin() as connection:
            call.open_case(connection, "voicemail", recording_url=url[:512], recording_seconds=seconds)
        return VoiceResponse()

    return call.hotline.once(call.sid, f"recording|{sid or url}", store_case)


# --- queue mode ----------------------------------------------------------------------------


@step("queue-wait")
def queue_wait(call: Call) -> VoiceResponse:
    """Twilio's waitUrl: position (never higher than last said), the average wait, hold music."""
    reported = count(call.params.get("QueuePosition"))
    average = count(call.params.get("AvgQueueTime"))
    lines = []
    if reported:
        position = reported
        if isinstance(call.state.get("announced_position"), int):
            position = min(position, call.state["announced_position"])
        if position != call.state.get("announced_position"):
            call.remember(announced_position=position)
        lines.append(call.line("queue_position", position=str(position)))
    if average is not None:
        lines.append(prompts.wait_time(call.language, average))
    lines.append(call.line("queue_leave"))
    response = VoiceResponse()
    gather = response.gather(input="dtmf", num_digits=1, timeout=1, action=call.url("/voice/step/queue-key"))
    call.say(gather, *lines)
    gather.play(HOLD_MUSIC)
    return response


@step("queue-key")
def queue_key(call: Call) -> VoiceResponse:
    """A key pressed while waiting: `1` leaves the line for a callback that keeps its place."""
    response = VoiceResponse()
    if call.digits == "1":
        call.remember(leave_for_callback=True)
        response.leave()
    return response


@step("queue-result")
def queue_result(call: Call) -> VoiceResponse:
    """The <Enqueue> action: why the caller left the queue."""
    result = call.params.get("QueueResult", "")
    if result == "bridged":
        return goodbye(call)
    if result == "hangup":
        return VoiceResponse()
    if result == "leave" and call.state.get("leave_for_callback"):
        return callback(call)
    if result == "queue-full":
        return no_agent(call, (call.line("queue_full"),))
    return no_agent(call, (call.line("agents_failed"),))
