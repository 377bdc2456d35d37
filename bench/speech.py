"""Speech matching on a labelled set of what recognisers return (bench/speech_utterances.yaml):
every utterance through the same matcher and decision a call uses, in the menu it was said in.

Reports accuracy per language and per menu (tuned part and held-out part apart), the share
of utterances confirmed before acting, every irreversible option proposed for an utterance
that meant something else, noise proposed for the lockdown, and the p99 time per utterance.
Targets: >= 95 % right per language (tuned set), no wrong irreversible proposal, no noise
reaching the lockdown, p99 under 2 ms. Exit 1 when a target is missed.

    python bench/speech.py            # figures, and each miss of the tuned part
    python bench/speech.py --json     # the figures as JSON
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.config import Catalogue, load_config  # noqa: E402
from ivr.flows import GRAPH, PHRASE_KEYS, PROMPT_KEYS  # noqa: E402
from ivr.flows.menu import Menu, leads_to_lockdown, needs_confirming, speech_options  # noqa: E402
from ivr.flows.speech import match, prepare, sound, units  # noqa: E402

TARGET = 0.95
P99_MS = 2.0
CONFIDENCE = 0.9  # what Twilio reports for a clear utterance
REPEAT = 5  # timings per utterance


def load(path: Path) -> dict[str, dict[str, dict[str, list[tuple[str | None, str]]]]]:
    """part -> language -> menu -> [(expected key or None, what was said)]."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    labelled: dict[str, dict[str, dict[str, list[tuple[str | None, str]]]]] = {}
    for part, languages in raw.items():
        for language, menus in languages.items():
            for menu, entries in menus.items():
                for entry in entries:
                    key, said = str(entry).split(" ", 1)
                    labelled.setdefault(part, {}).setdefault(language, {}).setdefault(menu, []).append(
                        (None if key == "-" else key, said)
                    )
    return labelled


def judge(
    menu: Menu, said: str, catalogue: Catalogue, others: dict[str, Catalogue], threshold: float
) -> tuple[str | None, bool, str, float]:
    """(the key proposed, whether it is confirmed first, why, seconds) for one utterance."""
    options = speech_options(menu)
    languages = others if menu.language_switch else {}
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        heard = match(said, catalogue, options, languages)
        confirm = heard.key is not None and needs_confirming(menu, heard, CONFIDENCE, threshold)
        times.append(time.perf_counter() - start)
    return heard.key, confirm, heard.why(), min(times[1:] or times)


def run(labelled: dict[str, Any]) -> dict[str, Any]:
    config = load_config(ROOT / "config", PROMPT_KEYS, PHRASE_KEYS)
    started = time.perf_counter()
    units("冻结"), sound("冻")  # OpenCC's and pypinyin's tables, loaded once per process
    loaded = time.perf_counter()
    phrases = prepare(config.prompts.values())
    done = time.perf_counter()
    report: dict[str, Any] = {
        "phrases": phrases,
        "tables_ms": round((loaded - started) * 1000, 1),
        "prepare_ms": round((done - loaded) * 1000, 1),
        "parts": {},
    }
    timings: list[float] = []
    for part, languages in labelled.items():
        figures: dict[str, Any] = {"languages": {}, "menus": defaultdict(lambda: [0, 0])}
        wrong_irreversible, noise_lockdown, misses = [], [], []
        confirmed = proposed = 0
        for language, menus in languages.items():
            catalogue = config.prompts[language]
            others = {name: other for name, other in config.prompts.items() if name != language}
            right = total = 0
            for name, items in menus.items():
                menu = GRAPH.menus[name]
                irreversible = {o.key for o in menu.options if o.irreversible}
                for expected, said in items:
                    key, confirm, why, seconds = judge(
                        menu, said, catalogue, others, config.speech.confidence
                    )
                    timings.append(seconds)
                    ok = key == expected
                    right += ok
                    total += 1
                    figures["menus"][name][0] += ok
                    figures["menus"][name][1] += 1
                    if key is not None:
                        proposed += 1
                        confirmed += confirm
                    if key in irreversible and key != expected:
                        wrong_irreversible.append(f"{language} {name}: {said!r} -> {key} (meant {expected})")
                    if expected is None and key is not None and leads_to_lockdown(menu, key):
                        noise_lockdown.append(f"{language} {name}: {said!r} -> {key}")
                    if not ok:
                        misses.append(f"{language} {name}: {said!r} -> {key} [{why}] (meant {expected})")
            figures["languages"][language] = [right, total]
        figures["menus"] = dict(figures["menus"])
        figures["confirmed"] = [confirmed, proposed]
        figures["wrong_irreversible"] = wrong_irreversible
        figures["noise_to_lockdown"] = noise_lockdown
        figures["misses"] = misses
        report["parts"][part] = figures
    ordered = sorted(timings)
    report["p99_ms"] = round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3)
    report["median_ms"] = round(statistics.median(ordered) * 1000, 3)
    report["utterances"] = len(timings)
    return report


def share(pair: list[int]) -> str:
    return f"{pair[0] / pair[1]:.1%} of {pair[1]}" if pair[1] else "none"


def main(argv: list[str]) -> int:
    report = run(load(ROOT / "bench" / "speech_utterances.yaml"))
    tuned = report["parts"]["tune"]
    ok = (
        all(right / total >= TARGET for right, total in tuned["languages"].values())
        and all(
            not part["wrong_irreversible"] and not part["noise_to_lockdown"]
            for part in report["parts"].values()
        )
        and report["p99_ms"] < P99_MS
    )
    report["verdict"] = "PASS" if ok else "FAIL"
    if "--json" in argv:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0 if ok else 1
    for miss in tuned["misses"]:
        print(f"  miss {miss}")
    for name, part in report["parts"].items():
        print(f"{name}:")
        print("  by language: " + ", ".join(f"{k} {share(v)}" for k, v in part["languages"].items()))
        print("  by menu:     " + ", ".join(f"{k} {share(v)}" for k, v in part["menus"].items()))
        print(f"  confirmed before acting: {share(part['confirmed'])} of the options proposed")
        print(f"  wrong irreversible proposals: {len(part['wrong_irreversible'])}")
        for line in part["wrong_irreversible"]:
            print(f"    {line}")
        print(f"  noise proposed for the lockdown: {len(part['noise_to_lockdown'])}")
        for line in part["noise_to_lockdown"]:
            print(f"    {line}")
    print(
        f"speech: {report['utterances']} utterances, p99 {report['p99_ms']} ms, "
        f"median {report['median_ms']} ms "
        f"per utterance; tables loaded in {report['tables_ms']} ms, "
        f"{report['phrases']} phrases prepared in {report['prepare_ms']} ms "
        f"(targets >= {TARGET:.0%} per language, 0 wrong irreversible, 0 noise to the lockdown, "
        f"p99 < {P99_MS} ms) {report['verdict']}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
