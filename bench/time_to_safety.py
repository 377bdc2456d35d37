"""Time to safety: seconds of speech a theft victim hears from answer to "your wallet is locked".

The caller presses 3 as soon as the main menu offers it and 1 as soon as the lockdown menu
offers it (keys work while a prompt plays), so only the words up to each offer count, then
the confirmation sentence. Speech rate: 150 words a minute in English, 4 characters a second
in Chinese. Target: under 15 seconds in every language.

    python bench/time_to_safety.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr import create_app  # noqa: E402

TARGET_SECONDS = 15.0
TOKEN = "bench-token"
CALLERS = {  # region: (caller, dialed, instant: a closed hour, the longest greeting)
    "cn": ("+8613800138000", "+864001234567", "2026-02-17T12:00:00+08:00"),
    "hk": ("+85291234567", "+85230011234", "2026-11-23T22:00:00+08:00"),
    "gb": ("+447400123456", "+442038089999", "2026-11-23T22:00:00+00:00"),
    "us": ("+14155550123", "+18005550100", "2026-11-26T12:00:00-05:00"),
}
SENTENCE = re.compile(r"[^.。!?！？]+[.。!?！？]?")


def speech_seconds(text: str) -> float:
    cjk = len(re.findall(r"[\u3400-\u9fff0-9]", text))
    if cjk:  # Chinese: each character and digit, plus each Latin word ("OK"), at 4 a second
        return (cjk + len(re.findall(r"[A-Za-z]+", text))) / 4.0
    return len(text.split()) / 150.0 * 60.0


def heard_until(text: str, key: str) -> str:
    """The words up to and including the sentence that offers `key`."""
    heard = []
    for sentence in SENTENCE.findall(text):
        heard.append(sentence)
        if re.search(rf"(press|请按|請按)\s?{key}\b", sentence) or sentence.strip().endswith(f"press {key}."):
            return "".join(heard)
    raise AssertionError(f"no offer of {key} in {text!r}")


def says(xml: str) -> str:
    return " ".join(s.text or "" for s in ET.fromstring(xml).iter("Say"))


def measure(region: str) -> tuple[float, str]:
    from datetime import datetime

    caller, dialed, at = CALLERS[region]
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

        def post(path: str, **extra: str) -> str:
            form = {"CallSid": "CA" + "be" * 16, "From": caller, "To": dialed, **extra}
            signature = validator.compute_signature("http://localhost" + path, form)
            return client.post(path, data=form, headers={"X-Twilio-Signature": signature}).get_data(
                as_text=True
            )

        answer = post("/voice")
        action = ET.fromstring(answer).find(".//Gather").get("action")  # type: ignore[union-attr]
        menu = post(action, Digits="3")
        action = ET.fromstring(menu).find(".//Gather").get("action")  # type: ignore[union-attr]
        locked = post(action, Digits="1")
        app.extensions["ivr"].store.dispose()
    confirmation = SENTENCE.findall(says(locked))[:2]  # "Done." + "...it is now locked"
    heard = heard_until(says(answer), "3") + heard_until(says(menu), "1") + "".join(confirmation)
    return speech_seconds(heard_until(says(answer), "3")) + speech_seconds(
        heard_until(says(menu), "1")
    ) + speech_seconds("".join(confirmation)), heard


def main() -> int:
    results = {region: measure(region) for region in CALLERS}
    for region, (seconds, heard) in results.items():
        print(f"  {region}: {seconds:5.1f} s  {heard.strip()[:110]}...")
    worst = max(seconds for seconds, _ in results.values())
    verdict = "PASS" if worst < TARGET_SECONDS else "FAIL"
    print(
        f"time_to_safety: worst {worst:.1f} s of speech to lock confirmation "
        f"(target < {TARGET_SECONDS:.0f} s) {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
