"""A caller simulator that plays Twilio's part: signed webhooks, TwiML followed verb by verb.

It runs against any transport: the app in-process (a scratch store by default) or a server
over HTTP. It never needs a phone, a Twilio account or the internet.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

from ivr.twiml_rules import check_document, check_rest_request

# (path or URL, form) -> (status code, body)
Transport = Callable[[str, dict[str, str]], tuple[int, str]]
# What the caller types at a <Gather>: the prompt heard so far -> keys, or None to hang up.
Keypad = Callable[[str], str | None]

MAX_REQUESTS = 200  # a whole call; more means the flow is stuck
MAX_SILENT_REQUESTS = 12  # requests in a row that consumed no key: a redirect loop
DIAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
QUEUE_RESULTS = ("bridged", "hangup", "queue-full", "error")
KNOWN_VERBS = {
    "Say",
    "Play",
    "Pause",
    "Gather",
    "Redirect",
    "Dial",
    "Enqueue",
    "Record",
    "Leave",
    "Hangup",
    "Reject",
}


# A key entry that is speech: `say:TEXT`, or `say@0.42:TEXT` with Twilio's confidence.
SPEECH_ENTRY = re.compile(r"say(?:@(?P<confidence>0(?:\.\d+)?|1(?:\.0+)?))?:(?P<text>.*)", re.S)
DEFAULT_CONFIDENCE = "0.92"
KEYPAD = set("0123456789*#")


def scratch_app(config_dir: Any, scratch: str, clock: Callable[[], Any], **settings: Any) -> Any:
    """The IVR on a scratch store in `scratch` with a fresh demo wallet, signed with the dev
    token and at `clock`: what `ivr call`, scenarios and rehearsals run on, changing nothing
    real. `settings` add to or override these (Twilio's REST API played in-process)."""
    from ivr import DEV_TOKEN, create_app

    return create_app(
        {
            "TWILIO_AUTH_TOKEN": DEV_TOKEN,
            "CONFIG_DIR": str(config_dir),
            "DATABASE_URL": f"sqlite:///{scratch}/scratch.sqlite3",
            "INSTANCE_DIR": scratch,
            "JOURNAL_BACKGROUND": False,
            "PUBLIC_URL": None,
            "WALLET_URL": None,
            "TWILIO_ACCOUNT_SID": None,
            "CLOCK": clock,
            **settings,
        }
    )


@dataclass(frozen=True)
class Probe:
    """What an in-process simulation can see besides the TwiML: the texts sent so far (a
    scratch store, so bodies are shown), the call's journey so far (what speech matched) and
    why speech matched it (the rule and the catalogue phrase, never the words said)."""

    texts: Callable[[], list[dict[str, Any]]]
    journey: Callable[[], list[str]]
    last_why: Callable[[], str | None] = lambda: None


HINTS = {
    403: " (signature refused: check that TWILIO_AUTH_TOKEN is the server's token, and that "
    "IVR_PUBLIC_URL on the server matches the URL given here)",
    404: " (no such path: give the server's base URL, e.g. http://127.0.0.1:5000)",
    413: " (the request was too large)",
}


class LocalTwilio(HttpClient):  # type: ignore[misc]
    """Twilio's REST API as the in-process simulator plays it (twilio's own HTTP seam): the
    calls the IVR places (the agents' leg of a hold) and its changes to calls are recorded for
    the simulator to act on, texts are accepted. Nothing leaves the machine."""

    ACCOUNT = "AC" + "0" * 32

    def __init__(self, fail_redirects: bool = False) -> None:
        super().__init__(logging.getLogger("ivr.simulator"), False)
        self.fail_redirects = fail_redirects  # rehearse Twilio failing "move this call" (a 500)
        self.placed: list[dict[str, Any]] = []
        self.updates: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.violations: list[str] = []  # requests Twilio's pages would refuse (twiml_rules)

    def request(self, method: str, uri: str, params: Any = None, data: Any = None, **_: Any) -> Response:
        fields, path = dict(data or {}), urlsplit(uri).path
        self.violations.extend(map(str, check_rest_request(path, fields)))
        if path.endswith("/Calls.json"):
            sid = "CA" + secrets.token_hex(16)
            self.placed.append({**fields, "Sid": sid})
            return Response(201, json.dumps({"sid": sid, "status": "queued"}))
        if "/Calls/" in path:
            sid = path.rsplit("/", 1)[1].removesuffix(".json")
            if self.fail_redirects and "Url" in fields:
                return Response(
                    500, json.dumps({"code": 20500, "message": "Internal Server Error", "status": 500})
                )
            self.updates[sid].append(fields)
            return Response(200, json.dumps({"sid": sid, "status": "in-progress"}))
        if path.endswith("/Messages.json"):
            sid = "SM" + secrets.token_hex(16)
            return Response(201, json.dumps({"sid": sid, "status": "queued", "to": fields.get("To")}))
        return Response(404, json.dumps({"code": 20404, "message": "not simulated", "status": 404}))


class SimulationError(Exception):
    """The call could not be simulated: a loop, an unknown verb, invalid TwiML, an HTTP error."""


@dataclass
class Transcript:
    """What the caller heard and did: the contract's `--json` shape."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    dialed: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    ended: str = ""
    texts: list[dict[str, str]] = field(default_factory=list)

    def heard(self) -> str:
        return " ".join(s["text"] for s in self.steps if s["verb"] == "Say")

    def as_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "dialed": self.dialed,
            "queues": self.queues,
            "ended": self.ended,
            "texts": self.texts,
        }


def keys_from_list(keys: list[str]) -> Keypad:
    """A keypad that types `keys` one Gather at a time, then hangs up."""
    remaining = iter(keys)

    def press(_prompt: str) -> str | None:
        return next(remaining, None)

    return press


@dataclass
class Simulator:
    """One simulated inbound call."""

    transport: Transport
    caller: str
    dialed: str
    keypad: Keypad
    dial_status: str = "completed"
    queue_result: str = "bridged"
    # A new CallSid for every call, as Twilio gives: against a running server, a repeated
    # CallSid would replay the earlier call's answers instead of acting again.
    call_sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    on_step: Callable[[dict[str, Any]], None] | None = None
    probe: Probe | None = None
    twilio: LocalTwilio | None = None  # Twilio's REST API, when the app was given it
    base_url: str = ""  # where the IVR is (IVR_PUBLIC_URL): every link must be under it
    # (default: the signed transport's base URL, else http://localhost)
    transcript: Transcript = field(default_factory=Transcript)
    _here: str | None = None  # the URL of the document being run: links resolve against it
    _requests: int = 0
    _silent: int = 0
    _texts_seen: int = 0

    def __post_init__(self) -> None:
        if not self.base_url:
            self.base_url = getattr(self.transport, "base_url", "http://localhost")

    def run(self) -> Transcript:
        """Place the call, follow it to its end, then send the status callback. The first
        failure is the one reported: the status callback after it is best effort."""
        try:
            self._follow(self._post(self._own("/voice"), {}), in_queue=False)
            if not self.transcript.ended:
                self.transcript.ended = "completed"
        except SimulationError:
            self._end_quietly()
            raise
        seconds = str(sum(1 for s in self.transcript.steps if s["verb"] == "Say") * 3)
        self._post(
            self._own("/voice/status"), {"CallStatus": "completed", "CallDuration": seconds}, parse=False
        )
        return self.transcript

    def _end_quietly(self) -> None:
        with contextlib.suppress(SimulationError):
            self._post(self._own("/voice/status"), {"CallStatus": "failed"}, parse=False)

    def _own(self, path: str) -> str:
        """A URL the number itself is configured with: `path` on the IVR's base URL."""
        return self.base_url.rstrip("/") + path

    # --- requests ----------------------------------------------------------------------------

    def _post(
        self,
        url: str,
        extra: dict[str, str],
        parse: bool = True,
        as_call: dict[str, str] | None = None,
        context: str = "call",
    ) -> ET.Element:
        """POST a webhook of this call (or of the call `as_call` names: the agents' leg) to `url`
        resolved as Twilio does (against the document that named it), and hold the answer to
        Twilio's documented rules (`ivr.twiml_rules`) for its `context`: "call", "wait" (an
        <Enqueue waitUrl>) or "whisper" (a <Number url>)."""
        url = urljoin(self._here or self._own("/voice"), url)
        self._requests += 1
        if self._requests > MAX_REQUESTS:
            raise SimulationError(f"more than {MAX_REQUESTS} webhooks in one call: the flow is stuck")
        form = {
            "CallSid": self.call_sid,
            "AccountSid": "AC" + "0" * 32,
            "From": self.caller,
            "To": self.dialed,
            "Direction": "inbound",
            "CallStatus": "in-progress",
            **(as_call or {}),
            **extra,
        }
        status, body = self.transport(url, form)
        if status != 200:
            raise SimulationError(f"POST {url} answered HTTP {status}{HINTS.get(status, '')}")
        if not parse:
            return ET.Element("Response")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise SimulationError(f"POST {url} answered invalid TwiML: {exc}") from None
        if root.tag != "Response":
            raise SimulationError(f"POST {url} answered <{root.tag}>, not <Response>")
        broken = check_document(root, url, base=self.base_url, context=context)
        if broken:
            raise SimulationError(f"POST {url} answered TwiML Twilio refuses: " + "; ".join(map(str, broken)))
        if self.twilio is not None and self.twilio.violations:
            raise SimulationError("a REST request Twilio refuses: " + "; ".join(self.twilio.violations))
        self._here = url
        self._new_texts()
        return root

    def _new_texts(self) -> None:
        """Every text sent since the last webhook, as a step (scratch store: body included)."""
        if self.probe is None:
            return
        texts = self.probe.texts()
        for text in texts[self._texts_seen :]:
            self._record({"verb": "Text", "to": text["to"], "body": text["body"]})
            self.transcript.texts.append({"to": text["to"], "body": text["body"]})
        self._texts_seen = len(texts)

    def _last_code(self) -> str:
        """`@code`: the last one-time code texted in this call."""
        for text in reversed(self.transcript.texts):
            found = re.search(r"(?<!\d)(\d{6})(?!\d)", text["body"])
            if found:
                return found.group(1)
        raise SimulationError("@code: no one-time code has been texted in this call")

    def _record(self, step: dict[str, Any]) -> None:
        step.setdefault("text", _describe(step))
        self.transcript.steps.append(step)
        if self.on_step:
            self.on_step(step)

    # --- verbs -------------------------------------------------------------------------------

    def _follow(self, document: ET.Element, in_queue: bool) -> str | None:
        """Run one TwiML document; returns 'leave' when a <Leave> ends a queue wait."""
        while document is not None:
            next_document: ET.Element | None = None
            for verb in document:
                if verb.tag not in KNOWN_VERBS:
                    raise SimulationError(f"unknown TwiML verb <{verb.tag}>")
                outcome = self._verb(verb, in_queue)
                if isinstance(outcome, ET.Element):
                    next_document = outcome
                    break
                if outcome in ("stop", "leave"):
                    return outcome
            if next_document is None:
                return None
            document = next_document
        return None

    def _verb(self, verb: ET.Element, in_queue: bool) -> ET.Element | str | None:
        tag, text = verb.tag, (verb.text or "").strip()
        if tag == "Say":
            self._record(
                {
                    "verb": "Say",
                    "text": text,
                    "language": verb.get("language", "en-US"),
                    "voice": verb.get("voice", ""),
                }
            )
        elif tag == "Play":
            self._record({"verb": "Play", "url": text})
        elif tag == "Pause":
            self._record({"verb": "Pause", "length": int(verb.get("length", "1"))})
        elif tag == "Gather":
            return self._gather(verb, in_queue)
        elif tag == "Redirect":
            self._silent += 1
            if self._silent > MAX_SILENT_REQUESTS:
                raise SimulationError(f"{MAX_SILENT_REQUESTS} redirects without a key press: a loop")
            return self._post(text, {}, context="wait" if in_queue else "call")
        elif tag == "Dial":
            return self._dial(verb)
        elif tag == "Enqueue":
            return self._enqueue(verb)
        elif tag == "Record":
            return self._recording(verb)
        elif tag == "Leave":
            if not in_queue:
                raise SimulationError("<Leave> outside a queue")
            self._record({"verb": "Leave"})
            return "leave"
        elif tag in ("Hangup", "Reject"):
            self._record({"verb": tag})
            self.transcript.ended = tag.lower()
            return "stop"
        return None

    def _gather(self, verb: ET.Element, in_queue: bool) -> ET.Element | str | None:
        for child in verb:
            if child.tag not in ("Say", "Play", "Pause"):
                raise SimulationError(f"<{child.tag}> is not allowed inside <Gather>")
            self._verb(child, in_queue)
        keys = self.keypad(self.transcript.heard())
        if keys is None and (in_queue or verb.get("actionOnEmptyResult") != "true"):
            # A caller with nothing more to press waits: on hold, or (a <Gather> that moves on
            # when nobody presses, like the words after a lock) on to the next verb.
            keys = ""
        if keys is None:
            self._record({"verb": "Hangup", "by": "caller"})
            self.transcript.ended = "caller-hangup"
            return "stop"
        keys = keys.strip()
        spoken = SPEECH_ENTRY.fullmatch(keys)
        if spoken:
            return self._speak(verb, spoken.group("text").strip(), spoken.group("confidence"), in_queue)
        if keys == "@code":
            if self.probe is None:
                raise SimulationError("@code works in-process only (the texts are in the scratch store)")
            keys = self._last_code()
        if not set(keys) <= KEYPAD:
            raise SimulationError(
                f"{keys!r} is not something a keypad can send (0-9, * and #; say:TEXT for speech)"
            )
        finish = verb.get("finishOnKey", "#")
        if finish and keys.endswith(finish):
            keys = keys[: -len(finish)]
        digits = verb.get("numDigits")
        if digits and digits.isdigit():
            keys = keys[: int(digits)]
        self._record({"verb": "Gather", "keys": keys})
        action = verb.get("action")
        if not action:
            raise SimulationError("<Gather> without an action")
        if keys == "" and verb.get("actionOnEmptyResult") != "true":
            self._silent += 1
            return None  # Twilio moves on to the next verb
        self._silent = 0 if keys else self._silent + 1
        if self._silent > MAX_SILENT_REQUESTS:
            raise SimulationError(f"{MAX_SILENT_REQUESTS} silent prompts in a row: a loop")
        return self._post(action, {"Digits": keys}, context="wait" if in_queue else "call")

    def _speak(
        self, verb: ET.Element, text: str, confidence: str | None, in_queue: bool
    ) -> ET.Element | str | None:
        """The caller speaks at a <Gather>: Twilio posts SpeechResult when it listens for speech,
        and nothing of it when the menu takes keys only (a PIN, a code)."""
        action = verb.get("action")
        if not action:
            raise SimulationError("<Gather> without an action")
        step: dict[str, Any] = {
            "verb": "Gather",
            "said": text,
            "confidence": confidence or DEFAULT_CONFIDENCE,
        }
        if "speech" not in (verb.get("input") or "dtmf"):
            step["heard"] = False  # keypad only here: what was said is not heard
            self._record(step)
            if verb.get("actionOnEmptyResult") != "true":
                return None
            return self._post(action, {"Digits": ""}, context="wait" if in_queue else "call")
        self._record(step)
        before = len(self.probe.journey()) if self.probe is not None else 0
        answer = self._post(
            action,
            {"SpeechResult": text, "Confidence": step["confidence"]},
            context="wait" if in_queue else "call",
        )
        asked = answer.find(".//Gather")
        confirm = (
            parse_qs(urlsplit(asked.get("action", "")).query).get("confirm") if asked is not None else None
        )
        if confirm:
            step["confirm"] = confirm[0]  # "did you want ...?": the key it would choose
        if self.probe is not None:
            # What these words chose: the first choice they added to the journey (outcomes
            # follow it); none while the IVR asks to confirm them.
            chosen = [item for item in self.probe.journey()[before:] if not item.startswith("outcome:")]
            step["matched"] = chosen[0] if chosen else None
            step["why"] = self.probe.last_why()
        return answer

    def _dial(self, verb: ET.Element) -> ET.Element | str | None:
        numbers = [(n.text or "").strip() for n in verb if n.tag == "Number"]
        if (verb.text or "").strip():
            numbers.append((verb.text or "").strip())
        self.transcript.dialed.extend(numbers)
        self._record(
            {
                "verb": "Dial",
                "numbers": numbers,
                "status": self.dial_status,
                "caller_id": verb.get("callerId"),
                "timeout": verb.get("timeout"),
            }
        )
        if self.dial_status == "completed":
            self._whisper(verb)
        action = verb.get("action")
        if not action:
            self.transcript.ended = "dialed"
            return "stop"
        return self._post(
            action,
            {
                "DialCallStatus": self.dial_status,
                "DialCallDuration": "60" if self.dial_status == "completed" else "0",
            },
        )

    def _whisper(self, dial: ET.Element) -> None:
        """The answered number's `<Number url>`: what the agent hears before being connected."""
        here = self._here
        for number in dial.iter("Number"):
            if not number.get("url"):
                continue
            leg = {
                "CallSid": "CA" + secrets.token_hex(16),
                "ParentCallSid": self.call_sid,
                "To": (number.text or "").strip(),
                "Direction": "outbound-dial",
            }
            answer = self._post(number.get("url", ""), {}, as_call=leg, context="whisper")
            whisper = " ".join((say.text or "").strip() for say in answer.iter("Say"))
            self._record({"verb": "Whisper", "text": f"the agent hears: {whisper}"})
            self._here = here  # the caller's document goes on

    def _enqueue(self, verb: ET.Element) -> ET.Element | str | None:
        queue, here = (verb.text or "").strip(), self._here
        self.transcript.queues.append(queue)
        self._record({"verb": "Enqueue", "queue": queue})
        result = self.queue_result
        wait_url = verb.get("waitUrl")
        if wait_url:
            self._silent = 0
            wait = self._post(
                wait_url,
                {
                    "QueuePosition": "2",
                    "QueueTime": "0",
                    "AvgQueueTime": "180",
                    "CurrentQueueSize": "2",
                    "QueueSid": "QU" + "0" * 32,
                },
                context="wait",
            )
            if self._follow(wait, in_queue=True) == "leave":
                result = "leave"
        self._here = here  # what follows resolves against the document that queued the caller
        if result != "leave" and self.twilio is not None:
            moved = self._agents_leg()
            self._here = here
            if moved == "bridged":
                result = "bridged"
            elif moved == "" and wait_url:  # no redirect came: the music ends, the wait URL again
                self._silent = 0
                wait = self._post(
                    wait_url,
                    {"QueuePosition": "1", "QueueTime": "120", "QueueSid": "QU" + "0" * 32},
                    context="wait",
                )
                if self._follow(wait, in_queue=True) == "leave":
                    result = "leave"
            elif moved is not None:  # the IVR took the caller off hold
                self._record({"verb": "Enqueue", "queue": queue, "result": "redirected"})
                return self._post(moved, {})
        self._record({"verb": "Enqueue", "queue": queue, "result": result})
        action = verb.get("action")
        if not action:
            return "stop"
        return self._post(action, {"QueueResult": result, "QueueTime": "30"})

    def _agents_leg(self) -> str | None:
        """Twilio's part of a hold: the leg the IVR placed rings the agents and ends as
        `dial_status` says. Answered: the agent hears the whisper and is bridged ("bridged").
        Not: its status callback, after which the IVR moves the caller on (that URL), or ""
        when no move came (Twilio failed it)."""
        assert self.twilio is not None
        waiting = [leg for leg in self.twilio.placed if not leg.get("rung")]
        if not waiting:
            return None
        leg = waiting[-1]
        leg["rung"] = True
        if any(change.get("Status") == "completed" for change in self.twilio.updates[leg["Sid"]]):
            return None  # the IVR hung it up already
        self.transcript.dialed.append(leg["To"])
        self._record(
            {
                "verb": "Dial",
                "numbers": [leg["To"]],
                "status": self.dial_status,
                "caller_id": leg["From"],
                "timeout": str(leg.get("Timeout", "")),
            }
        )
        identity = {"CallSid": leg["Sid"], "From": leg["From"], "To": leg["To"], "Direction": "outbound-api"}
        if self.dial_status == "completed":
            answer = self._post(leg["Url"], {}, as_call=identity)
            whisper = " ".join((say.text or "").strip() for say in answer.iter("Say"))
            self._record({"verb": "Whisper", "text": f"the agent hears: {whisper}"})
            return "bridged"
        self._post(leg["StatusCallback"], {"CallStatus": self.dial_status}, parse=False, as_call=identity)
        moves = [change["Url"] for change in self.twilio.updates[self.call_sid] if change.get("Url")]
        return moves[-1] if moves else ""

    def _recording(self, verb: ET.Element) -> ET.Element | str | None:
        seconds = "12"
        recording_sid = "RE" + self.call_sid[2:]  # one recording per simulated call
        url = "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/" + recording_sid
        self._record(
            {"verb": "Record", "seconds": int(seconds), "max_length": int(verb.get("maxLength", "3600"))}
        )
        callback = verb.get("recordingStatusCallback")
        if callback:
            self._post(
                callback,
                {
                    "RecordingStatus": "completed",
                    "RecordingUrl": url,
                    "RecordingSid": recording_sid,
                    "RecordingDuration": seconds,
                },
                parse=False,
            )
        action = verb.get("action")
        if not action:
            return None
        return self._post(action, {"RecordingUrl": url, "RecordingDuration": seconds, "Digits": "#"})


@dataclass(frozen=True)
class SignedTransport:
    """Sign each request for `base_url` as Twilio does, then hand it to `send(url, form, headers)`."""

    base_url: str
    token: str
    send: Callable[[str, dict[str, str], dict[str, str]], tuple[int, str]]

    def __call__(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        base = self.base_url.rstrip("/") + "/"
        absolute = urljoin(base, url.lstrip("/")) if not urlsplit(url).scheme else url
        signature = RequestValidator(self.token).compute_signature(absolute, form)
        return self.send(absolute, form, {"X-Twilio-Signature": signature})


def signed_transport(
    base_url: str, token: str, send: Callable[[str, dict[str, str], dict[str, str]], tuple[int, str]]
) -> Transport:
    """A transport signing for `base_url`; the simulator takes that URL as the IVR's base."""
    return SignedTransport(base_url, token, send)


def _describe(step: dict[str, Any]) -> str:
    """A line for people reading a transcript: what happened at a verb other than <Say>."""
    verb = step["verb"]
    if verb == "Gather" and "said" in step:
        heard = "" if step.get("heard", True) else " (not heard: keys only here)"
        return f'said "{step["said"]}" (confidence {step["confidence"]}){heard}'
    if verb == "Gather":
        return f"pressed {step['keys']}" if step["keys"] else "(silence)"
    if verb == "Text":
        return f"text to {step['to']}: {step['body']}"
    if verb == "Dial":
        return f"dial {', '.join(step['numbers'])}: {step['status']}"
    if verb == "Enqueue":
        return f"queue {step['queue']}" + (f": {step['result']}" if "result" in step else "")
    if verb == "Record":
        return f"recorded a {step['seconds']} s message"
    if verb == "Play":
        return f"play {step['url']}"
    if verb == "Pause":
        return f"pause {step['length']} s"
    return "hung up by the caller" if step.get("by") == "caller" else verb.lower()
