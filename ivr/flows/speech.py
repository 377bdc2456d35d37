"""What a caller said, matched to a menu's options: offline, explainable, fast.

Every fact comes from the language's catalogue (`phrases:` in config/prompts/<language>.yaml):
each option's phrases, the shared words (agent, repeat, main, yes, no, press, digits), and
the words that shape a sentence: `negation` ("don't", 不要, 唔好), `negation_ends` (where a
negation stops reaching: "but", 是, 係) and `me` (I, my, 我: the caller speaking of
themselves). A new option with phrases works with no code change.

1. Both sides become units: NFKC, lower case, Traditional to Simplified (OpenCC), variant
   characters (帐/账, 畀/俾, 噉/咁), apostrophes dropped ("can't" -> "cant"); each Chinese
   character is a unit, each Latin word or number is one; clause punctuation is a boundary.
2. A key said outright ("press three", "option 3", "按3", "三号键", "三") chooses that key.
3. Otherwise each phrase is looked for as a run of units: the same unit ("phrase"), the same
   sound for Chinese of two characters or more (pinyin without tones: 冻结 = 东结, "sound"),
   or, for a Latin word of five letters or more, one edit away or a plural ("stollen",
   "payments": "spelling"). Longer phrases claim their words first; a shorter phrase inside
   them counts for nothing.
4. A phrase a negation reaches ("I don't want to cancel", 唔好cancel住) chooses nothing; a
   phrase that holds the negation itself ("not mine", 打不开) is a phrase like any other.
5. The option with the strongest phrase wins; two options equally strong are a tie, and a
   tie chooses nothing (the caller is asked again).
6. Background speech (a long utterance in which the caller never speaks of themselves, and
   the phrase is a small part of it: a headline, an announcement) chooses nothing; a lone
   short word with no "I" or "my" around it is confirmed before it acts.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import opencc
from rapidfuzz.distance import Levenshtein

from ivr.config import Catalogue

SHARED = (
    "agent",
    "repeat",
    "main",
    "yes",
    "no",
    "language",
    "press",
    "key_suffix",
    "negation",
    "negation_ends",
    "me",
    "fillers",
)
DIGIT_WORDS = tuple(f"digit_{n}" for n in range(10))
# Variant characters OpenCC's Traditional-to-Simplified step leaves apart: the recognisers
# write either (Hong Kong and Mainland usage), and the catalogues may hold the other.
VARIANTS = str.maketrans({"帐": "账", "畀": "俾", "噉": "咁", "吔": "嘢", "哋": "地", "嚟": "来", "番": "返"})
_APOSTROPHES = re.compile(r"['’`]")
_BOUNDARY = re.compile(r"[,.;:!?，。；：！？、]+")
_UNIT = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff]|\|")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u3400-\u9fff])\s+|\s+(?=[\u3400-\u9fff])")
_PUNCTUATION = re.compile(r"[^\w\s]|_", re.UNICODE)
BOUNDARY = "|"
NEGATION_REACH = 3  # units between a negation and the phrase it negates ("don't want to cancel")
BACKGROUND_WORDS = 7  # an utterance this long with no "I"/"my" may be someone else talking
BACKGROUND_SHARE = 0.4  # ... and the phrase found is under this share of it
LONE_WORD_SHARE = 0.5  # a short phrase under half of what was said, with no "I": confirm
SOUND = 0.9  # a phrase matched by its sound or spelling counts a little less than its letters


@lru_cache(maxsize=1)
def _to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _readings() -> Mapping[int, str]:
    """Code point -> pypinyin's readings ("dòng,dōng"); the single-character table only, as
    a character's first reading suffices. Its file is loaded on its own: importing it through
    the package runs `pypinyin/__init__`, which loads the phrase table too (half a second and
    ~45 MB resident in every worker, `bench/memory.py`)."""
    spec = importlib.util.find_spec("pypinyin")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "pinyin_dict.py"
    table = importlib.util.spec_from_file_location("ivr_pinyin_readings", path)
    assert table is not None and table.loader is not None
    module = importlib.util.module_from_spec(table)
    table.loader.exec_module(module)
    return module.pinyin_dict  # type: ignore[no-any-return]


@lru_cache(maxsize=8192)
def sound(unit: str) -> str:
    """A Chinese character's first pinyin reading without its tone (冻, 东 -> "dong");
    anything else is its own sound."""
    if len(unit) != 1 or not _CJK.match(unit):
        return unit
    reading = _readings().get(ord(unit))
    if not reading:
        return unit
    first = reading.split(",")[0]
    return "".join(ch for ch in unicodedata.normalize("NFKD", first) if not unicodedata.combining(ch))


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """The form both what was said and the phrases are compared in, as one string."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _to_simplified().convert(text).translate(VARIANTS)
    text = _APOSTROPHES.sub("", text)
    text = _PUNCTUATION.sub(" ", text)
    text = " ".join(text.split())
    return _SPACE_BETWEEN_CJK.sub("", text)


@lru_cache(maxsize=4096)
def units(text: str) -> tuple[str, ...]:
    """`text` as units: a Chinese character, a Latin word or number, or a clause boundary."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _to_simplified().convert(text).translate(VARIANTS)
    text = _BOUNDARY.sub(f" {BOUNDARY} ", _APOSTROPHES.sub("", text))
    found = _UNIT.findall(text)
    while found and found[0] == BOUNDARY:
        found.pop(0)
    while found and found[-1] == BOUNDARY:
        found.pop()
    return tuple(found)


def weight(unit: str) -> int:
    """How much of an utterance a unit is: a Chinese character counts two, a word its letters."""
    return 2 if _CJK.match(unit) else len(unit)


def same_spelling(said: str, phrase: str) -> bool:
    """A Latin word the recogniser wrote nearly as the phrase's: a plural, or one edit away."""
    if said in (phrase + "s", phrase + "es") or phrase in (said + "s", said + "es"):
        return True
    return (
        len(phrase) >= 5
        and len(said) >= 5
        and said[0] == phrase[0]
        and Levenshtein.distance(said, phrase, score_cutoff=1) <= 1
    )


@dataclass(frozen=True)
class Phrase:
    """One phrase of a catalogue, as units."""

    text: str  # as written in the catalogue
    units: tuple[str, ...]
    sounds: tuple[str, ...]
    weight: int


@dataclass(frozen=True)
class Found:
    """Where a phrase was found in what was said, and how."""

    phrase: Phrase
    start: int
    end: int  # one past the last unit
    how: str  # "phrase", "sound" or "spelling"

    @property
    def score(self) -> float:
        return self.phrase.weight * (1.0 if self.how == "phrase" else SOUND)


@lru_cache(maxsize=8192)
def compile_phrase(text: str) -> Phrase:
    found = units(text)
    return Phrase(text, found, tuple(sound(u) for u in found), sum(weight(u) for u in found))


def phrases(catalogue: Catalogue, name: str) -> tuple[Phrase, ...]:
    """The catalogue's phrases for `name`, compiled (cached per phrase text)."""
    return tuple(compile_phrase(text) for text in catalogue.phrases.get(name, ()) if units(text))


_HOLDERS: dict[int, tuple[Catalogue, tuple[Phrase, ...]]] = {}


def negative_words(catalogue: Catalogue) -> tuple[Phrase, ...]:
    """The catalogue's phrases that hold a negation word and mean something of their own
    (唔記得 "forget", 打不开 "won't open", "not mine"): a negation inside them negates nothing."""
    cached = _HOLDERS.get(id(catalogue))
    if cached is not None and cached[0] is catalogue:
        return cached[1]
    cues = phrases(catalogue, "negation")
    found = {
        phrase
        for name in catalogue.phrases
        if name not in ("negation", "negation_ends", "no")
        for phrase in phrases(catalogue, name)
        if any(cue.units != phrase.units and find(phrase.units, cue) for cue in cues)
    }
    holders = tuple(sorted(found, key=lambda p: p.text))
    if len(_HOLDERS) > 64:  # catalogues replaced by config reloads: let them go
        _HOLDERS.clear()
    _HOLDERS[id(catalogue)] = (catalogue, holders)
    return holders


def prepare(catalogues: Iterable[Catalogue]) -> int:
    """Compile every phrase of `catalogues` (at config load, so no call pays for it); how many."""
    count = 0
    for catalogue in catalogues:
        for name in catalogue.phrases:
            count += len(phrases(catalogue, name))
        negative_words(catalogue)
    return count


def find(
    said: tuple[str, ...],
    phrase: Phrase,
    sounds: tuple[str, ...] | None = None,
    fillers: tuple[Phrase, ...] = (),
) -> list[Found]:
    """Every place `phrase` occurs in `said` (units), by letters, sound or spelling; a Chinese
    phrase may have one of `fillers` inside it (留一下言, 打个电话回来, 过咗数)."""
    size = len(phrase.units)
    heard_sounds = sounds if sounds is not None else tuple(sound(u) for u in said)
    chinese = all(_CJK.match(u) for u in phrase.units)
    by_sound = size >= 2 and chinese
    found = []
    for start in range(len(said) - size + 1):
        how, at, skipped = "phrase", start, not (chinese and size >= 2 and fillers)
        for offset, unit in enumerate(phrase.units):
            if at >= len(said):
                break
            heard = said[at]
            if heard != unit and offset > 0 and not skipped:
                filler = next((f for f in fillers if said[at : at + len(f.units)] == f.units), None)
                if filler is not None:
                    skipped, at = True, at + len(filler.units)
                    heard = said[at] if at < len(said) else ""
            if heard == unit:
                pass
            elif by_sound and at < len(said) and heard_sounds[at] == phrase.sounds[offset]:
                how = "sound"
            elif unit.isascii() and heard.isascii() and same_spelling(heard, unit):
                how = "spelling" if how == "phrase" else how
            else:
                break
            at += 1
        else:
            found.append(Found(phrase, start, at, how))
    return found


@dataclass(frozen=True)
class Heard:
    """The result of matching one utterance to a menu, and why."""

    key: str | None  # the key it chooses: an option's, or "0", "*", "8", "9"
    score: float = 0.0  # the strength of the phrase that decided it (a said key scores 100)
    tie: bool = False  # two keys matched equally well (then `key` is None, `tied` holds them)
    tied: tuple[str, ...] = ()
    language: str | None = None  # "9": the language whose name was said
    rule: str = "none"  # key, phrase, sound, spelling, tie, negated, background, none
    phrase: str | None = None  # the catalogue phrase that decided it (never the words said)
    weak: bool = False  # a lone short word: confirmed before it acts
    negated: tuple[str, ...] = ()  # keys whose phrases a negation reached

    def why(self) -> str:
        """'phrase: lost my phone', 'key', 'negated': for --json and the metrics' rule."""
        return f"{self.rule}: {self.phrase}" if self.phrase else self.rule


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


def _strip(said: tuple[str, ...], catalogue: Catalogue, name: str, front: bool) -> tuple[str, ...]:
    """`said` without one of the `name` phrases at its front (or its end)."""
    for phrase in sorted(phrases(catalogue, name), key=lambda p: -len(p.units)):
        size = len(phrase.units)
        part = said[:size] if front else said[len(said) - size :]
        if size < len(said) and part == phrase.units:
            return said[size:] if front else said[: len(said) - size]
    return said


def said_key(said: str, catalogue: Catalogue, keys: Iterable[str]) -> str | None:
    """A key said outright: a digit ("three", "三", "3"), with "press"/"option"/"按" before it
    or 号/號鍵 after it; nothing else around it."""
    heard = tuple(u for u in units(said) if u != BOUNDARY)
    heard = _strip(heard, catalogue, "press", front=True)
    heard = _strip(heard, catalogue, "key_suffix", front=False)
    if len(heard) != 1:
        return None
    text = heard[0]
    digit = text if text.isascii() and text.isdigit() and len(text) == 1 else digit_words(catalogue).get(text)
    return digit if digit is not None and digit in keys else None


def negated(said: tuple[str, ...], found: Found, cues: list[Found], ends: list[Found]) -> bool:
    """Whether a negation reaches `found`: it ends at most NEGATION_REACH units before it, in
    the same clause, with no `negation_ends` word between, and is not part of the phrase."""
    for cue in cues:
        if cue.end > found.start or found.start - cue.end > NEGATION_REACH:
            continue
        between = range(cue.end, found.start)
        if any(said[i] == BOUNDARY for i in between):
            continue
        if any(end.start >= cue.end and end.end <= found.start for end in ends):
            continue
        return True
    return False


def _speaks_of_self(said: tuple[str, ...], catalogue: Catalogue) -> bool:
    return any(find(said, phrase) for phrase in phrases(catalogue, "me"))


def match(
    said: str,
    catalogue: Catalogue,
    options: Mapping[str, str],
    languages: Mapping[str, Catalogue] | None = None,
) -> Heard:
    """Which of `options` (key -> phrase name: an option's step, or a shared word such as
    "agent") `said` chooses, and why. `languages`: the other languages this call may switch to."""
    key = said_key(said, catalogue, options)
    if key is not None:
        return Heard(key, score=100, rule="key")
    heard = units(said)
    if not heard:
        return Heard(None)
    sounds = tuple(sound(u) for u in heard)
    fillers = phrases(catalogue, "fillers")
    candidates: list[tuple[Found, str, str | None]] = []  # (where, key, language)
    for option_key, name in options.items():
        for phrase in phrases(catalogue, name):
            candidates += [(found, option_key, None) for found in find(heard, phrase, sounds, fillers)]
    for language, other in (languages or {}).items():
        for phrase in phrases(other, "language"):
            candidates += [(found, "9", language) for found in find(heard, phrase, sounds)]
    if not candidates:
        return Heard(None)
    held = [f for p in negative_words(catalogue) for f in find(heard, p, sounds, fillers)]
    cues = [
        cue
        for p in phrases(catalogue, "negation")
        for cue in find(heard, p, sounds)
        if cue.how == "phrase" and not any(h.start <= cue.start and cue.end <= h.end for h in held)
    ]
    ends = [
        f for p in phrases(catalogue, "negation_ends") for f in find(heard, p, sounds) if f.how == "phrase"
    ]
    owner: dict[int, tuple[str, bool]] = {}  # unit -> the option that claimed it, negated?
    best: dict[str, tuple[Found, str | None]] = {}
    negated_keys: set[str] = set()
    # Longer phrases claim their units first: "lost my phone" before "phone", 不见 before 不;
    # a phrase of another option inside them counts for nothing.
    for found, option_key, switch_to in sorted(candidates, key=lambda c: (-c[0].score, c[0].start)):
        span = range(found.start, found.end)
        if any(owner[i][0] != option_key for i in span if i in owner):
            continue
        no = any(owner[i][1] for i in span if i in owner) or negated(heard, found, cues, ends)
        owner.update(dict.fromkeys(span, (option_key, no)))
        if no:
            negated_keys.add(option_key)
            continue
        if option_key not in best or found.score > best[option_key][0].score:
            best[option_key] = (found, switch_to)
    if not best:
        return Heard(None, rule="negated" if negated_keys else "none", negated=tuple(sorted(negated_keys)))
    ranked = sorted(best.items(), key=lambda item: -item[1][0].score)
    best_key, (found, switch_to) = ranked[0]
    if len(ranked) > 1 and ranked[1][1][0].score == found.score:
        tied = tuple(key for key, (other, _) in ranked if other.score == found.score)
        return Heard(None, found.score, tie=True, tied=tied, rule="tie", negated=tuple(sorted(negated_keys)))
    total = sum(weight(u) for u in heard if u != BOUNDARY)
    share = found.phrase.weight / total if total else 1.0
    speaks = _speaks_of_self(heard, catalogue)
    words = sum(1.0 if unit.isascii() else 0.5 for unit in heard if unit != BOUNDARY)  # 2 characters a word
    if not speaks and share < BACKGROUND_SHARE and words >= BACKGROUND_WORDS:
        return Heard(None, found.score, rule="background", phrase=found.phrase.text)
    lone = len(found.phrase.units) == 1 or (len(found.phrase.units) <= 2 and found.phrase.weight <= 4)
    return Heard(
        best_key,
        found.score,
        language=switch_to if best_key == "9" else None,
        rule=found.how,
        phrase=found.phrase.text,
        weak=lone and not speaks and share < LONE_WORD_SHARE,
        negated=tuple(sorted(negated_keys)),
    )


def yes_or_no(said: str, catalogue: Catalogue) -> str | None:
    """ "yes" only for a clear yes; "no" for a refusal, a doubt or an apology (its phrases are
    the catalogue's `no`, and its `negation` words); None for anything else. The longest
    phrase claims its words first, so 没错 is a yes and 对不起 or 不是 a no."""
    heard = units(said)
    sounds = tuple(sound(u) for u in heard)
    candidates = [
        (found, answer)
        for answer, names in (("yes", ("yes",)), ("no", ("no", "negation")))
        for name in names
        for phrase in phrases(catalogue, name)
        for found in find(heard, phrase, sounds)
        if found.how == "phrase"  # a yes by a sound-alike is no clear yes
    ]
    claimed: set[int] = set()
    answers = set()
    for found, answer in sorted(candidates, key=lambda c: -c[0].phrase.weight):
        span = set(range(found.start, found.end))
        if span & claimed:
            continue
        claimed |= span
        answers.add(answer)
    if "no" in answers:
        return "no"
    return "yes" if "yes" in answers else None
