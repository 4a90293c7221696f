"""The objectives lint of `coursegen eval`: an objective starts with a measurable verb of the
Bloom table, carries no pasted title fragment or stray capital, no template phrase that does not
fit its chapters, and no word twice in a row. Heuristics documented in docs/evaluation.md."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chalicelib.evaluation.metrics import BLOOM_LEVEL

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
# Stems whose presence in a chapter's text says it has formulas or numbers to work with; two
# distinct ones make a chapter quantitative.
QUANTITATIVE_STEMS = (
    "calculat", "comput", "equation", "formula", "ratio", "percent", "probabilit", "derivative",
    "integral", "stoichiometr", "molar", "concentration", "constant", "quantitativ", "mathemat",
    "numer", "statistic", "regression", "break-even", "breakeven", "enthalpy", "entropy", "pressure",
    "temperature", "kinetic", "velocity", "function", "graph", "limit", "series", "polynomial",
    "logarithm", "exponential", "titration", "ph ", "yield", "cost", "price", "revenue", "interest rate",
    "margin", "budget", "variance", "mean ", "median", "measure",
)  # fmt: skip
QUANTITATIVE_EVIDENCE = 2

_WORD = re.compile(r"[^\W\d_][\w'’\-]*", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?:;]\s*$")


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
        lowered = f" {self.text.lower()} "
        return sum(stem in lowered for stem in QUANTITATIVE_STEMS) >= QUANTITATIVE_EVIDENCE


class Names:
    """Words and runs of words the library writes with a capital in the middle of a sentence more
    often than in lower case: names ("Roosevelt", "New Deal", "Le Châtelier"), not title words."""

    def __init__(self, prose: Iterable[str]) -> None:
        capital: Counter[str] = Counter()
        lower: Counter[str] = Counter()
        self.runs: set[str] = set()
        for text in prose:
            for sentence in re.split(r"(?<=[.!?:;])\s+", text):
                words = [m.group(0) for m in _WORD.finditer(sentence)]
                run: list[str] = []
                for index, word in enumerate(words):
                    base = _base(word)
                    if index and word[:1].isupper():
                        capital[base] += 1
                        run.append(base)
                        continue
                    if word[:1].islower():
                        lower[base.lower()] += 1
                    if len(run) > 1:
                        self.runs.add(" ".join(run))
                    run = []
                if len(run) > 1:
                    self.runs.add(" ".join(run))
        self.words = {word for word, count in capital.items() if count >= lower[word.lower()]}

    def is_name(self, word: str) -> bool:
        return _base(word) in self.words


def _base(word: str) -> str:
    """The word without a possessive or trailing hyphen: "Roosevelt's" -> "Roosevelt"."""
    return re.sub(r"(['’]s|['’])$", "", word).strip("-")


def _exempt(word: str) -> bool:
    """Acronyms, formulas, single letters and words with digits keep their capitals."""
    letters = [char for char in word if char.isalpha()]
    return (
        len(letters) <= 1 or sum(char.isupper() for char in letters) >= 2 or any(c.isdigit() for c in word)
    )


def lint_objective(objective: str, chapters: Sequence[ChapterText], names: Names) -> list[Problem]:
    """The problems of one objective of a section citing `chapters`."""
    problems: list[Problem] = []
    words = [m.group(0) for m in _WORD.finditer(objective)]
    first = words[0].lower() if words else ""
    if first not in BLOOM_LEVEL:
        problems.append(Problem(NOT_A_VERB, objective, f"starts with {words[0] if words else 'nothing'!r}"))
    if "?" in objective:
        problems.append(Problem(FRAGMENT, objective, "a question mark"))
    stray = _stray_capitals(objective, names)
    runs = [run for run in stray if len(run) > 1]
    singles = [run[0] for run in stray if len(run) == 1]
    if runs:
        problems.append(Problem(FRAGMENT, objective, "title-cased " + ", ".join(map(repr, map(" ".join, runs)))))
    if singles:
        problems.append(Problem(CAPITAL, objective, "capital in " + ", ".join(map(repr, singles))))
    template = _misfit_template(objective, first, chapters)
    if template:
        problems.append(Problem(TEMPLATE, objective, template))
    repeated = [a for a, b in zip(words, words[1:], strict=False) if a.lower() == b.lower()]
    if repeated:
        problems.append(Problem(REPEAT, objective, "twice in a row: " + ", ".join(map(repr, repeated))))
    return problems


def _stray_capitals(objective: str, names: Names) -> list[list[str]]:
    """Runs of consecutive capitalised words after the first that are neither names nor acronyms
    (a capital after a colon or full stop starts a sentence)."""
    runs: list[list[str]] = []
    current: list[str] = []
    previous_end = 0
    for index, match in enumerate(_WORD.finditer(objective)):
        word = match.group(0)
        gap = objective[previous_end : match.start()]
        previous_end = match.end()
        starts_sentence = index == 0 or bool(_SENTENCE_END.search(gap))
        capitalised = word[:1].isupper() and not starts_sentence and not _exempt(word)
        if capitalised and not names.is_name(word):
            if current and not gap.strip(" -"):
                current.append(word)
            else:
                if current:
                    runs.append(current)
                current = [word]
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [run for run in runs if " ".join(_base(w) for w in run) not in names.runs]


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
