"""Time to safety: seconds of speech a theft victim hears from answer to the word that tells
them their wallet is locked ("locked", 冻结, 鎖定).

The caller presses each key as soon as the sentence offering it ends (keys work while a prompt
plays), then hears the confirmation up to its word for "locked".
Each language at its own speaking rate, each below what read speech is measured at (so the
figures err long): English 150 words a minute (digits and letters read one by one count as
words), Mandarin 4.5 syllables a second (read Mandarin: 5.2, Pellegrino, Coupe & Marsico,
Language 87(3), 2011), Cantonese 5.0 (spoken faster than Mandarin); each Chinese character,
digit and Latin word is one syllable. Goals: 3,1 under 10 s in every language,
3,2 under 15 s (typing the number and PIN is the caller's own time, not counted).

    python bench/time_to_safety.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr import create_app  # noqa: E402

GOALS = {"3,1": 10.0, "3,2": 15.0}  # seconds of speech; the spoken path is reported
TOKEN = "bench-token"
CALLERS = {  # region: (caller, dialed, instant: a closed hour, the longest greeting, language)
    "cn": ("+8613800138000", "+864001234567", "2026-02-17T12:00:00+08:00", "zh-CN"),
    "hk": ("+85291234567", "+85230011234", "2026-11-23T22:00:00+08:00", "zh-HK"),
    "gb": ("+447400123456", "+442038089999", "2026-11-23T22:00:00+00:00", "en-GB"),
    "us": ("+14155550123", "+18005550100", "2026-11-26T12:00:00-05:00", "en-US"),
}
# Speaking rates: English in words a second, Chinese in syllables (characters) a second.
RATES = {"zh-CN": 4.5, "zh-HK": 5.0, "en-GB": 150 / 60, "en-US": 150 / 60}
# The word that tells the caller the wallet is locked (the one verb each catalogue uses).
LOCKED_WORD = {"zh-CN": "冻结", "zh-HK": "鎖定", "en-GB": "locked", "en-US": "locked"}
# 3,2: another wallet, by its registered number and PIN (li.hua's, from a friend's phone).
REGISTERED_ELSEWHERE, PIN = "8613800138000", "2468"
SENTENCE = re.compile(r"[^.。!?！？]+[.。!?！？]?")


def speech_seconds(text: str, language: str) -> float:
    """Seconds to say `text` in `language` (only speech: typing is the caller's own time)."""
    if language.startswith("zh"):
        syllables = len(re.findall(r"[\u3400-\u9fff0-9]", text)) + len(re.findall(r"[A-Za-z]+", text))
        return syllables / RATES[language]
    return len(re.findall(r"[A-Za-z0-9']+", text)) / RATES[language]


def heard_until(text: str, key: str | None) -> str:
    """The words up to the end of the sentence that offers `key` ("press 3", 请按3), or
    (None) up to the end of the sentence that asks for a number ending in # (it is typed after
    the whole instruction)."""
    offer = rf"(press |请按|請按){key}(?!\d)" if key else r"(hash|pound|井号|井字)"
    heard = []
    for sentence in SENTENCE.findall(text):
        heard.append(sentence)
        if re.search(offer, sentence, re.IGNORECASE):
            return "".join(heard)
    raise AssertionError(f"no offer of {key or 'a number'} in {text!r}")


def until_locked(text: str, language: str) -> str:
    """The confirmation up to and including its word for locked."""
    word = LOCKED_WORD[language]
    at = text.find(word)
    if at < 0:
        raise AssertionError(f"the wallet is never said to be locked ({word!r}) in {text!r}")
    return text[: at + len(word)]


def says(xml: str) -> str:
    return " ".join(s.text or "" for s in ET.fromstring(xml).iter("Say"))


# A path: each entry is (keys sent, the key whose offer the caller waits for in the answer, or
# None when the whole prompt is heard before typing: a number, a PIN).
PATHS = {
    "3,1": [("3", "3"), ("1", "1")],
    "3,2": [("3", "3"), ("2", "2"), (REGISTERED_ELSEWHERE, None), (PIN, None)],
    # Spoken: one utterance during the greeting (after its theft offer), one in the lockdown
    # menu (after its first option), then "did you want ...?" and a "yes".
    "spoken": [("say:theft", "3"), ("say:lock", "1"), ("say:yes", "")],
}
# What the victim says, per language: their own words count at the same speaking rate.
SAYS = {
    "theft": {"zh-CN": "我的钱包被偷了", "zh-HK": "唔見咗部手機", "en": "my phone was stolen"},
    "lock": {"zh-CN": "冻结我的钱包", "zh-HK": "鎖定本機登記嘅錢包", "en": "lock my wallet"},
    "yes": {"zh-CN": "是的", "zh-HK": "係", "en": "yes"},
}


def measure(region: str, path: str) -> tuple[float, str]:
    from datetime import datetime

    caller, dialed, at, language = CALLERS[region]
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "TWILIO_AUTH_TOKEN": TOKEN,
                "CONFIG_DIR": str(ROOT / "config"),
                "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
                "JOURNAL_BACKGROUND": False,
                "CLOCK": lambda: datetime.fromisoformat(at),
            }
        )
        client, validator = app.test_client(), RequestValidator(TOKEN)

        def post(link: str, **extra: str) -> str:
            """POST to `link` as Twilio does: the TwiML's links are absolute, under the app's URL."""
            url = urljoin("http://localhost/", link)
            form = {"CallSid": "CA" + "be" * 16, "From": caller, "To": dialed, **extra}
            signature = validator.compute_signature(url, form)
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            return client.post(path, data=form, headers={"X-Twilio-Signature": signature}).get_data(
                as_text=True
            )

        answer, heard = post("/voice"), ""
        words_of = "en" if language.startswith("en") else language
        for keys, offer in PATHS[path]:
            text = says(answer)
            # "" : the question the caller answers as soon as it is asked (speech barges in)
            heard += heard_until(text, offer) if offer != "" else SENTENCE.findall(text)[0]
            action = ET.fromstring(answer).find(".//Gather").get("action")  # type: ignore[union-attr]
            if keys.startswith("say:"):
                words = SAYS[keys.removeprefix("say:")][words_of]
                heard += " " + words + ("。" if not language.startswith("en") else ".")
                answer = post(action, SpeechResult=words, Confidence="0.9")
            else:
                answer = post(action, Digits=keys)
        app.extensions["ivr"].store.dispose()
    heard += " " + until_locked(says(answer), language)  # "Done. ... it's now locked"
    return speech_seconds(heard, language), heard


def main() -> int:
    results = {(region, path): measure(region, path) for path in PATHS for region in CALLERS}
    print("  path    " + "".join(f"{region:>8}" for region in CALLERS) + "   goal")
    verdicts = []
    for path in PATHS:
        row = [results[region, path][0] for region in CALLERS]
        goal = GOALS.get(path)
        met = goal is None or max(row) < goal
        verdicts.append(met)
        shown = f"< {goal:.0f} s {'met' if met else 'MISSED'}" if goal else "(reported)"
        print(f"  {path:<8}" + "".join(f"{seconds:7.1f}s" for seconds in row) + f"   {shown}")
    for (region, path), (seconds, heard) in results.items():
        print(f"    {path} {region}: {seconds:4.1f} s ...{heard.strip()[-60:]}")
    verdict = "PASS" if all(verdicts) else "FAIL"
    worst = {path: max(results[r, path][0] for r in CALLERS) for path in PATHS}
    print(
        f"time_to_safety: worst 3,1 {worst['3,1']:.1f} s (goal < 10), 3,2 {worst['3,2']:.1f} s "
        f"(goal < 15), spoken {worst['spoken']:.1f} s, to the word 'locked' {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
