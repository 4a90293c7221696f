"""The outline metrics of `coursegen eval`, as pure functions over plain data: chapter recall,
off-topic and taught-twice minutes, budget error, citation validity, Bloom levels and the pace and
depth orders. Definitions: docs/evaluation.md."""

from __future__ import annotations

import difflib
import itertools
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean

# A cited chapter: (book title, chapter number).
ChapterKey = tuple[str, int]

# The first word of an objective gives its Bloom level (1 remember ... 6 create).


def _verbs(text: str) -> frozenset[str]:
    return frozenset(text.split())


BLOOM_VERBS: dict[int, frozenset[str]] = {
    1: _verbs("define list recall identify name state recognize label"),
    2: _verbs("explain describe summarize interpret classify discuss illustrate outline paraphrase"),
    3: _verbs("apply use demonstrate solve calculate compute implement execute estimate perform practice"),
    4: _verbs("analyze compare contrast examine differentiate distinguish investigate diagnose organize"),
    5: _verbs("evaluate assess critique justify judge defend appraise argue recommend prioritize validate"),
    6: _verbs(
        "design create build develop construct formulate propose compose plan devise synthesize produce"
    ),
}
BLOOM_LEVEL: dict[str, int] = {verb: level for level, verbs in BLOOM_VERBS.items() for verb in verbs}
NEAR_IDENTICAL_SUMMARY = 0.9  # difflib ratio at or above which two summaries are the same material
DEPTH_ORDER = ("overview", "balanced", "technical", "expert")
PACE_ORDER = ("quick", "moderate", "thorough")


@dataclass(frozen=True)
class Section:
    """An outline section as the metrics see it."""

    minutes: int
    objectives: tuple[str, ...] = ()
    cites: tuple[ChapterKey, ...] = ()
    title: str = ""  # for the report only


@dataclass(frozen=True)
class Expected:
    """A chapter a good course must cover, and the same material in an overlapping book."""

    chapter: ChapterKey
    counterpart: ChapterKey | None = None

    @property
    def copies(self) -> tuple[ChapterKey, ...]:
        return (self.chapter,) if self.counterpart is None else (self.chapter, self.counterpart)


@dataclass(frozen=True)
class CatalogChapter:
    book: str
    number: int
    title: str
    summary: str

    @property
    def key(self) -> ChapterKey:
        return (self.book, self.number)


@dataclass
class Catalog:
    """The library's chapters by (book title, number), with the comparisons DUP needs cached."""

    chapters: Mapping[ChapterKey, CatalogChapter]
    _same: dict[frozenset[ChapterKey], bool] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, chapters: Iterable[CatalogChapter]) -> Catalog:
        return cls({chapter.key: chapter for chapter in chapters})

    def __contains__(self, key: ChapterKey) -> bool:
        return key in self.chapters

    def same_material(self, a: ChapterKey, b: ChapterKey) -> bool:
        """Same normalised chapter title, or near-identical summaries."""
        pair = frozenset((a, b))
        if pair not in self._same:
            first, second = self.chapters.get(a), self.chapters.get(b)
            self._same[pair] = (
                first is not None
                and second is not None
                and (
                    normalise_title(first.title) == normalise_title(second.title)
                    or near_identical(first.summary, second.summary)
                )
            )
        return self._same[pair]


def normalise_title(title: str) -> str:
    """NFKC, case-folded, punctuation removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", title).casefold()
    text = "".join(char for char in text if not unicodedata.category(char).startswith("P"))
    return " ".join(text.split())


def near_identical(a: str, b: str) -> bool:
    matcher = difflib.SequenceMatcher(None, a, b)
    # the quick upper bounds first: most pairs are far apart
    return (
        matcher.real_quick_ratio() >= NEAR_IDENTICAL_SUMMARY
        and matcher.quick_ratio() >= NEAR_IDENTICAL_SUMMARY
        and matcher.ratio() >= NEAR_IDENTICAL_SUMMARY
    )


def total_minutes(sections: Sequence[Section]) -> int:
    return sum(section.minutes for section in sections)


def budget_error(sections: Sequence[Section], hours: float) -> float:
    """M1: |total - target| / target, the total being the sum of section minutes."""
    target = hours * 60
    return abs(total_minutes(sections) - target) / target


def citation_counts(sections: Sequence[Section], catalog: Catalog) -> tuple[int, int]:
    """(valid, all) citations: a valid one names a (book title, chapter number) of the library."""
    cites = [cite for section in sections for cite in section.cites]
    return sum(cite in catalog for cite in cites), len(cites)


def recall(sections: Sequence[Section], expected: Sequence[Expected]) -> float | None:
    """R: the share of expected chapters cited by some section, directly or by their counterpart.
    None when the request expects no chapter."""
    if not expected:
        return None
    cited = {cite for section in sections for cite in section.cites}
    return sum(any(copy in cited for copy in entry.copies) for entry in expected) / len(expected)


def off_topic(sections: Sequence[Section], expect_books: Iterable[str]) -> float | None:
    """OFF: the share of minutes in sections that cite no chapter of an expected book (a section
    citing nothing counts). None when the request expects no book."""
    books = {normalise_book(book) for book in expect_books}
    if not books:
        return None
    total = total_minutes(sections)
    if not total:
        return 0.0
    off = sum(
        section.minutes
        for section in sections
        if not any(normalise_book(book) in books for book, _ in section.cites)
    )
    return off / total


def taught_twice(sections: Sequence[Section], catalog: Catalog, expected: Sequence[Expected] = ()) -> float:
    """DUP: the share of minutes in sections citing material that an earlier section already cited
    from another book: the same normalised title, near-identical summaries, or the counterpart
    the request names. Citing a chapter again from its own book is no repeat."""
    counterparts: dict[ChapterKey, set[ChapterKey]] = {}
    for entry in expected:
        if entry.counterpart is not None:
            counterparts.setdefault(entry.chapter, set()).add(entry.counterpart)
            counterparts.setdefault(entry.counterpart, set()).add(entry.chapter)
    total = total_minutes(sections)
    if not total:
        return 0.0
    earlier: list[ChapterKey] = []
    repeated = 0
    for section in sections:
        if any(_repeats(cite, before, catalog, counterparts) for cite in section.cites for before in earlier):
            repeated += section.minutes
        earlier.extend(cite for cite in dict.fromkeys(section.cites) if cite not in earlier)
    return repeated / total


def _repeats(
    cite: ChapterKey, before: ChapterKey, catalog: Catalog, counterparts: Mapping[ChapterKey, set[ChapterKey]]
) -> bool:
    if normalise_book(cite[0]) == normalise_book(before[0]):
        return False
    return before in counterparts.get(cite, ()) or catalog.same_material(cite, before)


def normalise_book(title: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


def bloom_level(objective: str) -> int | None:
    """The level of the objective's first word; None when that word is not in the table."""
    words = objective.split()
    if not words:
        return None
    return BLOOM_LEVEL.get(words[0].strip(".,;:!?\"'()").casefold())


def mean_bloom(sections: Sequence[Section]) -> float | None:
    levels = [
        level
        for section in sections
        for objective in section.objectives
        if (level := bloom_level(objective)) is not None
    ]
    return fmean(levels) if levels else None


def mean_section_minutes(sections: Sequence[Section]) -> float | None:
    return fmean(section.minutes for section in sections) if sections else None


def strictly_increasing(values: Sequence[float | None]) -> bool:
    """Whether every value is known and each is larger than the one before."""
    if any(value is None for value in values):
        return False
    known = [value for value in values if value is not None]
    return all(a < b for a, b in itertools.pairwise(known))
