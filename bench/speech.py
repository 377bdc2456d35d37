"""Speech matching accuracy: a labelled set of utterances per language (bench/speech_utterances.yaml,
not used by the tests) run through the main menu's matcher. Targets: at least 95 % right per
language, and no unrelated utterance reaching the lockdown. One line of output.

    python bench/speech.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.config import load_config  # noqa: E402
from ivr.flows import PHRASE_KEYS, PROMPT_KEYS  # noqa: E402
from ivr.flows.speech import match  # noqa: E402

MAIN = {"3": "lockdown", "1": "recovery", "2": "transactions", "4": "selfhelp", "0": "agent", "*": "repeat"}
TARGET = 0.95


def main() -> int:
    config = load_config(ROOT / "config", PROMPT_KEYS, PHRASE_KEYS)
    labelled = yaml.safe_load((ROOT / "bench" / "speech_utterances.yaml").read_text(encoding="utf-8"))
    figures, ok = [], True
    for language, items in labelled.items():
        right = false_lockdowns = 0
        for said, expected in items:
            heard = match(str(said), config.prompts[language], MAIN)
            chosen = None if heard.tie else heard.key
            right += chosen == expected
            false_lockdowns += chosen == "3" and expected != "3"
            if chosen != expected:
                print(f"  {language}: {said!r} -> {chosen} (expected {expected})")
        accuracy = right / len(items)
        ok = ok and accuracy >= TARGET and false_lockdowns == 0
        figures.append(f"{language} {accuracy:.0%} of {len(items)} ({false_lockdowns} false lockdowns)")
    verdict = "PASS" if ok else "FAIL"
    print(f"speech: {', '.join(figures)} (target >= {TARGET:.0%}, no false lockdown) {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
