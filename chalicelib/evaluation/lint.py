"""The objectives lint of `coursegen eval`: an objective starts with a measurable verb of the
Bloom table, carries no pasted title fragment or stray capital, no template phrase that does not
fit its chapters, and no word twice in a row. Heuristics documented in docs/evaluation.md."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .metrics import BLOOM_LEVEL

# Problem codes, in the order a report lists them.
NOT_A_VERB = "verb"  # the first word is not a measurable verb of the Bloom table
FRAGMENT = "fragment"  # a question mark or a run of title-cased words: a pasted title
CAPITAL = "capital"  # a capitalised word mid-sentence that is no name or acronym
TEMPLATE = "template"  # a template phrase that does not fit the section's chapters
REPEAT = "repeat"  # the same word twice in a row
CODES = (NOT_A_VERB, FRAGMENT, CAPITAL, TEMPLATE, REPEAT)

# Verbs and phrases that promise a calculation: they fit only chapters that have something to
# calculate. Phrases that are template machinery fit nowhere.
QUANTITATIVE_VERBS = frozenset({"calculate", "compute", "estimate", "solve"})
QUANTITATIVE_PHRASES = (
    "step by step",
    "worked example",
    "realistic inputs",
    "worksheet",
    "sanity check",
    "defensible estimate",
)
MACHINERY = (re.compile(r"\(exercise \d+\)"), re.compile(r"\bthe main ideas of this section\b"))
# Word beginnings that say a chapter has formulas or numbers to work with; one is enough to make
# a chapter quantitative, so that the lint blames a template only where nothing can be calculated.
QUANTITATIVE_WORDS = re.compile(
    r"\b(calculat|comput|equation|formula|ratios?\b|percent|probabilit|derivative|integral|"
    r"stoichiometr|molar|molarity|concentration|constants?\b|quantitativ|mathemat|numerical|"
    r"statistic|regression|break-even|enthalpy|entropy|titration|ph\b|yields?\b|kinetic|velocity|"
    r"logarithm|exponential|polynomial|graphs?\b|interest rate|price|pricing|costs?\b|revenue|"
    r"budget|decimal|unit conversion|measurement)",
    re.IGNORECASE,
)
NUMBERS = re.compile(r"\d\.\d|\d\s?%|\S\s?=\s?\S")  # a decimal, a percentage or an equation
QUANTITATIVE_EVIDENCE = 1

_EDGE = "\"'\u201c\u201d\u2018\u2019()[]{}.,;:!?"
_SENTENCE_END = re.compile(r"[.!?:;]\s*$")
_OPENING = '("\u201c'
# Lower-case words a title keeps between its capitalised ones.
_TITLE_SMALL_WORDS = frozenset(str.split("a an and as at but by for in nor of on or the to vs with"))


@dataclass(frozen=True)
class Problem:
    code: str
    objective: str
    detail: str


@dataclass(frozen=True)
class ChapterText:
    """What the lint reads of a cited chapter: everything its book file says about it."""

    title: str
    text: str  # summary, topics, key concepts, section titles, joined

    @property
    def quantitative(self) -> bool:
        found = {match.group(1).lower() for match in QUANTITATIVE_WORDS.finditer(self.text)}
        if NUMBERS.search(self.text):
            found.add("a number")
        return len(found) >= QUANTITATIVE_EVIDENCE


class Names:
    """What the library writes with capitals where a title would not put them: words written with
    a capital mid-sentence at least as often as in lower case, or never in lower case at all
    ("Roosevelt", "Aufbau"), and runs of capitalised words ("Tennessee Valley Authority")."""

    def __init__(self, prose: Iterable[str], terms: Iterable[str] = (), titles: Iterable[str] = ()) -> None:
        capital: Counter[str] = Counter()
        lower: Counter[str] = Counter()
        self.runs: set[tuple[str, ...]] = set()
        # prose: a sentence's first word is capitalised by grammar; terms (glossary entries) keep
        # their natural casing from the first word on.
        sentences = [(s, 1) for text in prose for s in re.split(r"(?<=[.!?:;])\s+", text)]
        sentences += [(term, 0) for term in terms]
        for sentence, skip in sentences:
            run: list[str] = []
            for index, word in enumerate(words_of(sentence)):
                base = _base(word)
                if base[:1].isupper():
                    # a sentence's first word joins a run ("Franklin Roosevelt said") but, being
                    # capitalised by grammar, says nothing about the word on its own
                    if index >= skip:
                        capital[base] += 1
                    run.append(base)
                    continue
                if base[:1].islower():
                    lower[base.lower()] += 1
                self._add_run(run)
                run = []
            self._add_run(run)
        titled: set[str] = set()
        for title in titles:
            for word in words_of(title):
                if word[:1].islower():
                    lower[_base(word).lower()] += 1
                else:
                    titled.add(_base(word))
        self.words = {word for word, count in capital.items() if count >= lower[word.lower()]}
        self.words |= {word for word in titled if not lower[word.lower()]}

    def _add_run(self, run: list[str]) -> None:
        for start in range(len(run)):
            for stop in range(start + 2, len(run) + 1):
                self.runs.add(tuple(run[start:stop]))

    def is_name(self, word: str) -> bool:
        return _base(word) in self.words


def words_of(text: str) -> list[str]:
    """The words of a text with the punctuation around them stripped ("(Translation)" -> "Translation")."""
    words = (token.strip(_EDGE) for token in text.split())
    return [word for word in words if any(char.isalpha() for char in word)]


def _base(word: str) -> str:
    """The word without a possessive or trailing hyphen: "Roosevelt's" -> "Roosevelt"."""
    return re.sub("(['\u2019]s|['\u2019])$", "", word).strip("-")


def _exempt(word: str) -> bool:
    """Acronyms and their plurals ("DNA", "Cs"), formulas ("NaCl", "4Ps"), single letters and
    words with digits keep their capitals."""
    letters = [char for char in re.sub(r"(?<=[A-Z])s$", "", word) if char.isalpha()]
    return len(letters) <= 1 or sum(char.isupper() for char in letters) >= 2 or any(c.isdigit() for c in word)


def lint_objective(objective: str, chapters: Sequence[ChapterText], names: Names) -> list[Problem]:
    """The problems of one objective of a section citing `chapters`."""
    problems: list[Problem] = []
    words = words_of(objective)
    first = _base(words[0]).lower() if words else ""
    if first not in BLOOM_LEVEL:
        problems.append(Problem(NOT_A_VERB, objective, f"starts with {words[0] if words else 'nothing'!r}"))
    if "?" in objective:
        problems.append(Problem(FRAGMENT, objective, "a question mark"))
    stray = _stray_capitals(objective, names)
    runs = [run for run in stray if len(run) > 1]
    singles = [run[0] for run in stray if len(run) == 1]
    if runs:
        pasted = ", ".join(repr(" ".join(run)) for run in runs)
        problems.append(Problem(FRAGMENT, objective, f"title-cased {pasted}"))
    if singles:
        problems.append(Problem(CAPITAL, objective, "capital in " + ", ".join(map(repr, singles))))
    template = _misfit_template(objective, first, chapters)
    if template:
        problems.append(Problem(TEMPLATE, objective, template))
    repeated = [a for a, b in itertools.pairwise(words) if a.lower() == b.lower()]
    if repeated:
        problems.append(Problem(REPEAT, objective, "twice in a row: " + ", ".join(map(repr, repeated))))
    return problems


def _capital_runs(tokens: Sequence[str]) -> list[list[tuple[int, str]]]:
    """Runs of consecutive capitalised words (with their token index) that do not start a
    sentence (the first word, or a word after a colon or full stop, does) and are no acronym.
    Punctuation ends a run: "Brother, Can You", "Synthesis (Translation)"."""
    runs: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for index, token in enumerate(tokens):
        word = token.strip(_EDGE)
        starts_sentence = index == 0 or bool(_SENTENCE_END.search(tokens[index - 1]))
        if token[:1] in _OPENING and current:
            runs.append(current)
            current = []
        if word[:1].isupper() and not starts_sentence and not _exempt(word):
            current.append((index, word))
            if token.rstrip(_EDGE) != token:
                runs.append(current)
                current = []
            continue
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    return runs


def _stray_capitals(objective: str, names: Names) -> list[list[str]]:
    """The capitalised words that are not the library's names, grouped where only punctuation and
    small words separate them, as in a title ("Atoms, Molecules, and Ions")."""
    tokens = objective.split()
    stray: list[tuple[int, str]] = []
    for run in _capital_runs(tokens):
        if len(run) > 1 and tuple(_base(word) for _, word in run) in names.runs:
            continue
        stray += [(index, word) for index, word in run if not names.is_name(word)]
    groups: list[list[str]] = []
    last = -2
    for index, word in stray:
        between = [token.strip(_EDGE).lower() for token in tokens[last + 1 : index]]
        if groups and all(w in _TITLE_SMALL_WORDS for w in between if w):
            groups[-1].append(word)
        else:
            groups.append([word])
        last = index
    return groups


def _misfit_template(objective: str, first: str, chapters: Sequence[ChapterText]) -> str:
    lowered = objective.lower()
    for pattern in MACHINERY:
        found = pattern.search(lowered)
        if found:
            return f"template machinery {found.group(0)!r}"
    if any(chapter.quantitative for chapter in chapters):
        return ""
    if first in QUANTITATIVE_VERBS:
        return f"{first!r} on chapters with nothing to calculate"
    phrase = next((p for p in QUANTITATIVE_PHRASES if p in lowered), "")
    return f"{phrase!r} on chapters with nothing to calculate" if phrase else ""
