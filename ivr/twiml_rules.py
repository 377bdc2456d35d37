"""Twilio's documented rules for TwiML and its REST requests, held as data, each with the page
it comes from; `check_document` holds a TwiML document to them, as strictly as the pages say.

The simulator (`ivr call`, `ivr scenarios run`) and the tests' phone check every document
they receive, so a document real Twilio would refuse or degrade fails the journey with the
rule's name and source. The rules describe TwiML, not this app: a verb or attribute the app
does not emit today is checked by the same tables when it does.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import phonenumbers

DOCS = "https://www.twilio.com/docs/voice/twiml"


@dataclass(frozen=True)
class Rule:
    """One documented rule: its name (what a violation is reported as) and its source."""

    name: str
    source: str
    says: str


@dataclass(frozen=True)
class Violation:
    rule: Rule
    where: str  # the element, e.g. "Response/Gather[1]"
    detail: str

    def __str__(self) -> str:
        return f"{self.rule.name}: {self.where}: {self.detail} ({self.rule.source})"


class TwimlViolation(AssertionError):
    """A document breaks Twilio's rules; `violations` says which, each with its source."""

    def __init__(self, url: str, violations: list[Violation]) -> None:
        super().__init__(f"TwiML from {url} breaks Twilio's rules:\n" + "\n".join(map(str, violations)))
        self.violations = violations


RULES = {
    rule.name: rule
    for rule in (
        Rule("response.root", f"{DOCS}", "a TwiML document is one <Response> element"),
        Rule("verb.nesting", f"{DOCS}", "each verb nests only the verbs and nouns its page lists"),
        Rule("verb.unknown", f"{DOCS}", "only TwiML's verbs and nouns"),
        Rule("attribute.unknown", f"{DOCS}", "each verb takes only the attributes its page lists"),
        Rule("attribute.value", f"{DOCS}", "each attribute takes the values its page lists"),
        Rule(
            "gather.speech_timeout_with_model",
            "https://www.twilio.com/docs/api/errors/13335",
            "a set speechModel needs a positive integer speechTimeout, not auto (warning 13335)",
        ),
        Rule(
            "gather.speech_without_speech_input",
            f"{DOCS}/gather#input",
            "speech attributes only act when input includes speech",
        ),
        Rule(
            "gather.hints",
            "https://www.twilio.com/docs/api/errors/13330",  # warning 13330: Invalid hints value
            "hints: at most 500 comma-separated entries, each at most 100 characters",
        ),
        Rule(
            "dial.caller_id",
            "https://www.twilio.com/docs/api/errors/13214",
            "every <Dial> carries a valid callerId (E.164, or client:): an invalid caller's ID "
            "passed through makes carriers reject the leg (error 13214)",
        ),
        Rule(
            "number.e164",
            f"{DOCS}/number",
            "a <Number> is a phone number in E.164 form",
        ),
        Rule("dial.numbers", f"{DOCS}/number", "at most ten <Number> nouns in one <Dial>"),
        Rule("queue.name", f"{DOCS}/enqueue", "a queue name is 1 to 64 characters"),
        Rule(
            "context.wait_url",
            f"{DOCS}/enqueue#attributes-wait-url",
            "a waitUrl document holds only <Play>, <Say>, <Pause>, <Gather>, <Redirect>, <Leave>, <Hangup>",
        ),
        Rule(
            "context.whisper",
            f"{DOCS}/number#attributes-url",
            "a <Number url> document runs on the called party's end and may not hold <Dial>",
        ),
        Rule("leave.in_queue", f"{DOCS}/leave", "<Leave> acts only on a call waiting in a queue"),
        Rule(
            "say.voice_language",
            f"{DOCS}/say/text-speech#available-voices-and-languages",
            "a <Say> voice speaks only its own language",
        ),
        Rule(
            "url.resolves",
            f"{DOCS}/gather#action",
            "a relative URL resolves against the document's own URL; it must land under the public base",
        ),
        Rule(
            "play.fetchable",
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html",
            "an https URL of a dotted S3 bucket fails Amazon's wildcard certificate; Twilio cannot fetch it",
        ),
        Rule(
            "calls.request",
            "https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource",
            "a Calls API call names To, From (E.164) and Url; this IVR also gives a FallbackUrl",
        ),
        Rule(
            "messages.sender",
            "https://www.twilio.com/docs/api/errors/21606",
            "a text needs an SMS-capable From number, an alphanumeric sender ID or a "
            "MessagingServiceSid (errors 21606, 21661)",
        ),
    )
}

# --- attribute values, as the pages list them ---------------------------------------------

Check = Callable[[str], bool]


def _int(low: int, high: int | None = None) -> Check:
    def check(value: str) -> bool:
        return value.isdigit() and int(value) >= low and (high is None or int(value) <= high)

    return check


def _one_of(*values: str) -> Check:
    return lambda value: value in values


def _each_of(*values: str, separator: str = " ") -> Check:
    return lambda value: bool(value.strip()) and set(value.split(separator)) <= set(values)


def _url(value: str) -> bool:
    parts = urlsplit(value)
    return bool(value) and (parts.scheme in ("", "http", "https")) and " " not in value


def _speech_timeout(value: str) -> bool:
    return value == "auto" or _int(1)(value)


def _caller_id(value: str) -> bool:
    return (value.startswith("client:") and len(value) > 7) or e164(value)


def e164(value: str) -> bool:
    """A valid phone number written in E.164 form."""
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", value):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return False


BOOL = _one_of("true", "false")
METHOD = _one_of("GET", "POST")
KEYS = "0123456789#*"
ANY: Check = lambda value: True  # noqa: E731  (documented as free text)

# Twilio's speechModel values (Gather page, "speechModel"), including the provider models.
SPEECH_MODELS = re.compile(
    r"default|numbers_and_commands|phone_call|experimental_conversations|experimental_utterances"
    r"|(googlev2|deepgram)_[a-z0-9_-]+|(google|deepgram)/[a-z0-9_.-]+"
)


@dataclass(frozen=True)
class Verb:
    """One TwiML verb or noun: what it may hold, its attributes, and its page."""

    page: str
    children: frozenset[str] = frozenset()
    attributes: Mapping[str, Check] = field(default_factory=dict)
    text: Check | None = None  # what its text may be (None: no text)


SSML = frozenset(
    {"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w", "amazon:effect"}
)
RESPONSE_VERBS = frozenset(
    {
        "Connect", "Dial", "Echo", "Enqueue", "Gather", "Hangup", "Leave", "Pause", "Pay", "Play",
        "Record", "Redirect", "Refer", "Reject", "Say", "Sms", "Start", "Stop",
    }
)  # fmt: skip
VERBS: dict[str, Verb] = {
    "Response": Verb(DOCS, RESPONSE_VERBS),
    "Say": Verb(
        f"{DOCS}/say",
        SSML,
        {"voice": ANY, "language": ANY, "loop": _int(0)},
        text=ANY,
    ),
    "Play": Verb(f"{DOCS}/play", attributes={"loop": _int(0), "digits": ANY}, text=_url),
    "Pause": Verb(f"{DOCS}/pause", attributes={"length": _int(1)}),
    "Gather": Verb(
        f"{DOCS}/gather",
        frozenset({"Say", "Play", "Pause"}),
        {
            "action": _url,
            "method": METHOD,
            "timeout": _int(1),
            "finishOnKey": lambda value: value == "" or (len(value) == 1 and value in KEYS),
            "numDigits": _int(1),
            "input": _each_of("dtmf", "speech"),
            "language": ANY,
            "hints": ANY,
            "speechTimeout": _speech_timeout,
            "speechModel": lambda value: bool(SPEECH_MODELS.fullmatch(value)),
            "enhanced": BOOL,
            "profanityFilter": BOOL,
            "bargeIn": BOOL,
            "actionOnEmptyResult": BOOL,
            "partialResultCallback": _url,
            "partialResultCallbackMethod": METHOD,
            "maxSpeechTime": _int(1, 60),
            "debug": BOOL,
        },
    ),
    "Dial": Verb(
        f"{DOCS}/dial",
        frozenset({"Number", "Client", "Conference", "Queue", "Sip", "Sim", "Application", "WhatsApp"}),
        {
            "action": _url,
            "method": METHOD,
            "timeout": _int(5, 600),
            "hangupOnStar": BOOL,
            "timeLimit": _int(1, 86400),
            "callerId": ANY,  # rule dial.caller_id
            "record": _one_of(
                "do-not-record",
                "record-from-answer",
                "record-from-ringing",
                "record-from-answer-dual",
                "record-from-ringing-dual",
            ),
            "trim": _one_of("trim-silence", "do-not-trim"),
            "recordingStatusCallback": _url,
            "recordingStatusCallbackMethod": METHOD,
            "recordingStatusCallbackEvent": _each_of("in-progress", "completed", "absent"),
            "answerOnBridge": BOOL,
            "ringTone": ANY,
            "referUrl": _url,
            "referMethod": METHOD,
            "sequential": BOOL,
            "events": ANY,
        },
        text=e164,
    ),
    "Number": Verb(
        f"{DOCS}/number",
        attributes={
            "sendDigits": lambda value: bool(re.fullmatch(r"[0-9#*w]+", value)),
            "url": _url,
            "method": METHOD,
            "byoc": ANY,
            "statusCallbackEvent": _each_of("initiated", "ringing", "answered", "completed"),
            "statusCallback": _url,
            "statusCallbackMethod": METHOD,
            "machineDetection": _one_of("Enable", "DetectMessageEnd"),
            "machineDetectionTimeout": _int(3, 60),
            "amdStatusCallback": _url,
            "amdStatusCallbackMethod": METHOD,
        },
        text=e164,
    ),
    "Client": Verb(
        f"{DOCS}/client",
        frozenset({"Identity", "Parameter"}),
        {
            "url": _url,
            "method": METHOD,
            "statusCallbackEvent": ANY,
            "statusCallback": _url,
            "statusCallbackMethod": METHOD,
        },
        text=ANY,
    ),
    "Identity": Verb(f"{DOCS}/client", text=ANY),
    "Parameter": Verb(f"{DOCS}/client", attributes={"name": ANY, "value": ANY}),
    "Queue": Verb(
        f"{DOCS}/queue",
        attributes={"url": _url, "method": METHOD, "reservationSid": ANY, "postWorkActivitySid": ANY},
        text=ANY,
    ),
    "Enqueue": Verb(
        f"{DOCS}/enqueue",
        frozenset({"Task"}),
        {"action": _url, "method": METHOD, "waitUrl": _url, "waitUrlMethod": METHOD, "workflowSid": ANY},
        text=ANY,
    ),
    "Task": Verb(f"{DOCS}/enqueue#task", attributes={"priority": _int(0), "timeout": _int(1)}, text=ANY),
    "Record": Verb(
        f"{DOCS}/record",
        attributes={
            "action": _url,
            "method": METHOD,
            "timeout": _int(0),
            "finishOnKey": lambda value: value == "" or set(value) <= set(KEYS),
            "maxLength": _int(1, 14400),
            "playBeep": BOOL,
            "trim": _one_of("trim-silence", "do-not-trim"),
            "recordingStatusCallback": _url,
            "recordingStatusCallbackMethod": METHOD,
            "recordingStatusCallbackEvent": _each_of("in-progress", "completed", "absent"),
            "recordingChannels": _one_of("mono", "dual"),
            "recordingTrack": _one_of("inbound", "outbound", "both"),
            "storageUrl": _url,
            "storageUrlMethod": METHOD,
            "transcribe": BOOL,
            "transcribeCallback": _url,
        },
    ),
    "Redirect": Verb(f"{DOCS}/redirect", attributes={"method": METHOD}, text=_url),
    "Leave": Verb(f"{DOCS}/leave"),
    "Hangup": Verb(f"{DOCS}/hangup"),
    "Reject": Verb(f"{DOCS}/reject", attributes={"reason": _one_of("rejected", "busy")}),
}
# Verbs whose page this table does not model yet: accepted as they are, never silently wrong.
OPAQUE = frozenset({"Connect", "Echo", "Pay", "Refer", "Sms", "Start", "Stop", "Conference", "Sip", "Sim",
                    "Application", "WhatsApp"})  # fmt: skip
URL_ATTRIBUTES = frozenset(
    {"action", "waitUrl", "url", "statusCallback", "recordingStatusCallback", "partialResultCallback",
     "amdStatusCallback", "transcribeCallback", "referUrl"}
)  # fmt: skip
SPEECH_ATTRIBUTES = ("speechTimeout", "speechModel", "hints", "enhanced", "profanityFilter")

# What a document may hold in each context a call can be in (the pages' lists).
CONTEXTS = {
    "call": None,  # anything <Response> takes
    "wait": frozenset({"Play", "Say", "Pause", "Gather", "Redirect", "Leave", "Hangup"}),
    "whisper": RESPONSE_VERBS - {"Dial"},
}
CONTEXT_RULES = {"wait": "context.wait_url", "whisper": "context.whisper"}

# Each voice family and the languages it speaks (Twilio's text-to-speech voice table).
POLLY_VOICES = {
    "Zhiyu": ("cmn-CN",),
    "Hiujin": ("yue-CN",),
    "Joanna": ("en-US",),
    "Matthew": ("en-US",),
    "Salli": ("en-US",),
    "Kimberly": ("en-US",),
    "Kendra": ("en-US",),
    "Ivy": ("en-US",),
    "Joey": ("en-US",),
    "Justin": ("en-US",),
    "Kevin": ("en-US",),
    "Ruth": ("en-US",),
    "Stephen": ("en-US",),
    "Danielle": ("en-US",),
    "Gregory": ("en-US",),
    "Amy": ("en-GB",),
    "Brian": ("en-GB",),
    "Emma": ("en-GB",),
    "Arthur": ("en-GB",),
    "Nicole": ("en-AU",),
    "Russell": ("en-AU",),
    "Olivia": ("en-AU",),
}
HINTS_MAX_ENTRIES, HINT_MAX_CHARACTERS = 500, 100


def voice_speaks(voice: str, language: str) -> bool:
    """Whether Twilio's `voice` speaks `language` (Polly, Google; basic voices speak any)."""
    if voice in ("", "man", "woman", "alice"):
        return True
    if voice.startswith("Polly."):
        family = voice.removeprefix("Polly.").removesuffix("-Neural").removesuffix("-Generative")
        return language in POLLY_VOICES.get(family, ())
    if voice.startswith("Google."):  # Google.cmn-CN-Standard-A: the language is in the name
        return voice.removeprefix("Google.").lower().startswith(language.lower() + "-")
    return False


# --- the check -----------------------------------------------------------------------------


@dataclass
class _Walk:
    url: str
    base: str | None
    context: str
    found: list[Violation] = field(default_factory=list)

    def flag(self, rule: str, where: str, detail: str) -> None:
        self.found.append(Violation(RULES[rule], where, detail))


def check_document(
    xml: str | ET.Element, url: str, *, base: str | None = None, context: str = "call"
) -> list[Violation]:
    """Every way the document Twilio got from `url` breaks Twilio's rules. `base`: the public
    URL every link must resolve under; `context`: "call", "wait" (a waitUrl document, or one
    reached from its <Gather>) or "whisper" (a <Number url> document)."""
    walk = _Walk(url, base, context)
    try:
        root = ET.fromstring(xml) if isinstance(xml, str) else xml
    except ET.ParseError as exc:
        walk.flag("response.root", "document", f"not XML: {exc}")
        return walk.found
    if root.tag != "Response":
        walk.flag("response.root", root.tag, f"the root is <{root.tag}>, not <Response>")
        return walk.found
    allowed = CONTEXTS[context]
    for index, verb in enumerate(root, 1):
        where = f"Response/{verb.tag}[{index}]"
        if allowed is not None and verb.tag in VERBS and verb.tag not in allowed:
            walk.flag(CONTEXT_RULES[context], where, f"<{verb.tag}> is not allowed in a {context} document")
        if verb.tag == "Leave" and context != "wait":
            walk.flag("leave.in_queue", where, "<Leave> outside a queue wait")
        _element(walk, verb, "Response", where)
    return walk.found


def assert_document(
    xml: str | ET.Element, url: str, *, base: str | None = None, context: str = "call"
) -> None:
    """`check_document`, raising TwimlViolation when a rule is broken."""
    found = check_document(xml, url, base=base, context=context)
    if found:
        raise TwimlViolation(url, found)


def _element(walk: _Walk, element: ET.Element, parent: str, where: str) -> None:
    tag = element.tag
    if tag in OPAQUE:
        return
    spec = VERBS.get(tag)
    if spec is None:
        walk.flag("verb.unknown", where, f"<{tag}> is not a TwiML verb or noun")
        return
    parent_spec = VERBS.get(parent)
    if parent_spec is not None and tag not in parent_spec.children:
        walk.flag("verb.nesting", where, f"<{tag}> may not be nested in <{parent}> ({parent_spec.page})")
    for name, value in element.attrib.items():
        check = spec.attributes.get(name)
        if check is None:
            walk.flag("attribute.unknown", where, f"{name!r} is not an attribute of <{tag}> ({spec.page})")
        elif not check(value):
            walk.flag("attribute.value", where, f"{name}={value!r} is not allowed ({spec.page})")
        if name in URL_ATTRIBUTES:
            _resolves(walk, where, name, value)
    text = (element.text or "").strip()
    if tag == "Say" or spec.children & SSML:
        pass
    elif text and spec.text is None:
        walk.flag("verb.nesting", where, f"<{tag}> takes no text")
    elif tag in ("Number", "Dial") and text and not e164(text):
        walk.flag("number.e164", where, f"{text!r} is not a valid E.164 number")
    elif tag in ("Play", "Redirect"):
        if not text or not _url(text):
            walk.flag("attribute.value", where, f"<{tag}> needs a URL, not {text!r}")
        else:
            _resolves(walk, where, tag, text)
    getattr(_Specific, tag, _Specific.none)(walk, element, where, parent)
    for index, child in enumerate(element, 1):
        if tag == "Say":
            if child.tag not in SSML:
                walk.flag("verb.nesting", f"{where}/{child.tag}", f"<{child.tag}> in <Say> is not SSML")
            continue
        _element(walk, child, tag, f"{where}/{child.tag}[{index}]")


def _resolves(walk: _Walk, where: str, name: str, value: str) -> None:
    """A link, resolved as Twilio does (against the document's URL), lands under the base."""
    if walk.base is None or name == "Play":
        return
    target = urljoin(walk.url, value)
    base = walk.base.rstrip("/") + "/"
    if not target.startswith(base):
        walk.flag("url.resolves", where, f"{name}={value!r} resolves to {target}, outside {base}")


class _Specific:
    """Rules that tie attributes together, by verb."""

    @staticmethod
    def none(walk: _Walk, element: ET.Element, where: str, parent: str) -> None:
        return None

    @staticmethod
    def Gather(walk: _Walk, element: ET.Element, where: str, parent: str) -> None:
        attrs = element.attrib
        if "speechModel" in attrs and attrs.get("speechTimeout", "") in ("auto", ""):
            walk.flag(
                "gather.speech_timeout_with_model",
                where,
                f"speechModel={attrs['speechModel']!r} with "
                f"speechTimeout={attrs.get('speechTimeout', 'unset')!r}",
            )
        inputs = set(attrs.get("input", "dtmf").split())
        if "speech" not in inputs:
            given = [name for name in SPEECH_ATTRIBUTES if name in attrs]
            if given:
                walk.flag("gather.speech_without_speech_input", where, f"{', '.join(given)} with input=dtmf")
        hints = [hint.strip() for hint in attrs.get("hints", "").split(",") if hint.strip()]
        long = [hint for hint in hints if len(hint) > HINT_MAX_CHARACTERS]
        if len(hints) > HINTS_MAX_ENTRIES or long:
            walk.flag(
                "gather.hints",
                where,
                f"{len(hints)} hints, {len(long)} over {HINT_MAX_CHARACTERS} characters",
            )

    @staticmethod
    def Dial(walk: _Walk, element: ET.Element, where: str, parent: str) -> None:
        caller_id = element.get("callerId")
        if caller_id is None:
            walk.flag("dial.caller_id", where, "no callerId")
        elif not _caller_id(caller_id):
            walk.flag("dial.caller_id", where, f"callerId={caller_id!r} is not a valid E.164 number")
        if len(element.findall("Number")) > 10:
            walk.flag("dial.numbers", where, f"{len(element.findall('Number'))} numbers")

    @staticmethod
    def Enqueue(walk: _Walk, element: ET.Element, where: str, parent: str) -> None:
        name = (element.text or "").strip()
        if element.get("workflowSid") is None and not 1 <= len(name) <= 64:
            walk.flag("queue.name", where, f"queue name of {len(name)} characters")

    @staticmethod
    def Queue(walk: _Walk, element: ET.Element, where: str, parent: str) -> None:
        name = (element.text or "").strip()
        if not 1 <= len(name) <= 64:
            walk.flag("queue.name", where, f"queue name of {len(name)} characters")

    @staticmethod
    def Say(walk: _Walk, element: ET.Element, where: str, parent: str) -> None:
        voice, language = element.get("voice", ""), element.get("language", "en-US")
        if not voice_speaks(voice, language):
            walk.flag("say.voice_language", where, f"voice {voice!r} does not speak {language!r}")

    @staticmethod
    def Play(walk: _Walk, element: ET.Element, where: str, parent: str) -> None:
        parts = urlsplit((element.text or "").strip())
        host = parts.hostname or ""
        if parts.scheme == "https" and host.endswith(".s3.amazonaws.com"):
            bucket = host.removesuffix(".s3.amazonaws.com")
            if "." in bucket:
                walk.flag("play.fetchable", where, f"https bucket {bucket!r} has dots")


# --- REST requests ---------------------------------------------------------------------------

ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
MESSAGING_SERVICE = re.compile(r"MG[0-9a-f]{32}")


def sms_sender_ok(value: str) -> bool:
    """A text's sender Twilio accepts: an E.164 number, an alphanumeric ID or a Messaging Service."""
    return (
        e164(value) or bool(ALPHANUMERIC_SENDER.fullmatch(value)) or bool(MESSAGING_SERVICE.fullmatch(value))
    )


def check_rest_request(path: str, fields: Mapping[str, str]) -> list[Violation]:
    """A Calls or Messages API request as Twilio's pages require it."""
    found: list[Violation] = []
    if path.endswith("/Calls.json"):
        missing = [name for name in ("To", "From", "Url", "FallbackUrl") if not fields.get(name)]
        if missing or not e164(fields.get("From", "")):
            found.append(Violation(RULES["calls.request"], path, f"missing {missing} or From not E.164"))
    if path.endswith("/Messages.json"):
        sender = fields.get("MessagingServiceSid") or fields.get("From") or ""
        if not sms_sender_ok(sender):
            found.append(Violation(RULES["messages.sender"], path, f"sender {sender!r}"))
    return found


def rule_names() -> Iterable[str]:
    return RULES.keys()


def links(root: ET.Element, url: str, context: str = "call") -> dict[str, str]:
    """The contexts of the documents this one leads to, by `context_key`: its waitUrl ("wait"),
    its <Number url> ("whisper"), and, inside a wait, its own <Gather> actions and redirects."""
    found: dict[str, str] = {}
    for element in root.iter():
        if element.tag == "Enqueue" and element.get("waitUrl"):
            found[context_key(urljoin(url, element.get("waitUrl", "")))] = "wait"
        elif element.tag == "Number" and element.get("url"):
            found[context_key(urljoin(url, element.get("url", "")))] = "whisper"
        elif context != "call" and element.tag == "Gather" and element.get("action"):
            found[context_key(urljoin(url, element.get("action", "")))] = context
        elif context != "call" and element.tag == "Redirect" and (element.text or "").strip():
            found[context_key(urljoin(url, (element.text or "").strip()))] = context
    return found


def context_key(url: str) -> str:
    """A document's URL without its query: the same path serves the same kind of document."""
    return url.partition("?")[0]
