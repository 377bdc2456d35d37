"""What a caller said, matched to a menu's options: simple, explainable, offline.

1. Normalise both sides: full-width to half-width (NFKC), lower case, Traditional to
   Simplified Chinese (OpenCC), punctuation to spaces.
2. A key said outright ("press three", "按3", "三", "3") chooses that key.
3. Otherwise each option's phrases (and the shared words: agent, repeat, main menu, a
   language's name) are looked for in what was said: Latin phrases as whole words, Chinese
   ones as text. The option with the longest phrase found wins; two options whose longest
   phrases are equally long are a tie, which the caller is asked to settle.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import opencc

from ivr.config import Catalogue

SHARED = ("agent", "repeat", "main", "yes", "no", "language", "press")
DIGIT_WORDS = tuple(f"digit_{n}" for n in range(10))
_PUNCTUATION = re.compile(r"[^\w\s]|_", re.UNICODE)
_CJK = r"\u3400-\u9fff"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_LATIN = re.compile(r"[a-z0-9]")


@lru_cache(maxsize=1)
def _to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """The form both what was said and the phrases are compared in."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _to_simplified().convert(text)
    text = _PUNCTUATION.sub(" ", text)
    text = " ".join(text.split())
    return _SPACE_BETWEEN_CJK.sub("", text)


def contains(said: str, phrase: str) -> bool:
    """`phrase` in `said` (both normalised): whole words for Latin, plain text for Chinese."""
    if not phrase:
        return False
    if _LATIN.search(phrase):
        return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", said) is not None
    return phrase in said


@dataclass(frozen=True)
class Heard:
    """The result of matching one utterance to a menu."""

    key: str | None  # the key it chooses: an option's, or "0", "*", "8", "9", "yes", "no"
    score: int = 0  # the length of the phrase that decided it (a said key scores high)
    tie: bool = False  # two keys matched equally well
    language: str | None = None  # "9": the language whose name was said


def digit_words(catalogue: Catalogue) -> dict[str, str]:
    """Spoken digit -> digit, in this language ("three" -> "3", "三" -> "3", "幺" -> "1")."""
    words = {}
    for n in range(10):
        for word in catalogue.phrases.get(f"digit_{n}", ()):
            words[normalise(word)] = str(n)
    return words


def spoken_number(said: str, catalogue: Catalogue) -> str | None:
    """A number said digit by digit ("one three eight…", "幺三八…", "一三八"), as digits;
    None when anything else was said too."""
    words = digit_words(catalogue)
    text = normalise(said)
    digits = []
    for token in text.split():
        if token.isascii() and token.isdigit():
            digits.append(token)
        elif token in words:
            digits.append(words[token])
        elif all(ch in words or ch.isdigit() for ch in token):  # "一三八" as one token
            digits.extend(words.get(ch, ch) for ch in token)
        else:
            return None
    found = "".join(digits)
    return found if found.isascii() and found.isdigit() else None


def said_key(said: str, catalogue: Catalogue, keys: Iterable[str]) -> str | None:
    """A key said outright: only a digit ("three", "三", "3"), or "press"/"按" and a digit."""
    text = normalise(said)
    words = digit_words(catalogue)
    presses = sorted((normalise(p) for p in catalogue.phrases.get("press", ())), key=len, reverse=True)
    for press in presses:
        if text.startswith(press):
            text = text[len(press) :].strip()
            break
    digit = text if text.isascii() and text.isdigit() else words.get(text)
    return digit if digit is not None and digit in keys else None


def match(
    said: str,
    catalogue: Catalogue,
    options: Mapping[str, str],
    languages: Mapping[str, Catalogue] | None = None,
) -> Heard:
    """Which of `options` (key -> phrase name: an option's step, or a shared word such as
    "agent") `said` chooses. `languages`: the other languages this call may switch to."""
    key = said_key(said, catalogue, options)
    if key is not None:
        return Heard(key, score=100)
    text = normalise(said)
    scores: dict[str, int] = {}
    for option_key, name in options.items():
        lengths = [
            len(p) for p in (normalise(w) for w in catalogue.phrases.get(name, ())) if contains(text, p)
        ]
        if lengths:
            scores[option_key] = max(lengths)
    found_language = None
    for language, other in (languages or {}).items():
        for name in other.phrases.get("language", ()):
            phrase = normalise(name)
            if contains(text, phrase) and len(phrase) > scores.get("9", 0):
                scores["9"], found_language = len(phrase), language
    if not scores:
        return Heard(None)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    best_key, best = ranked[0]
    tie = len(ranked) > 1 and ranked[1][1] == best
    return Heard(best_key, best, tie, found_language if best_key == "9" else None)


def yes_or_no(said: str, catalogue: Catalogue) -> str | None:
    """ "yes", "no" or None for a confirmation; a longer "no" phrase ("不是") beats "是"."""
    heard = match(said, catalogue, {"1": "yes", "2": "no"})
    if heard.key is None or heard.tie:
        return None
    return "yes" if heard.key == "1" else "no"
