"""Wording for the offline planner's titles: casing, short chapter names, and section and part
titles made from them (`objectives` writes the learning objectives)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from chalicelib.core import checks
from chalicelib.core.models import ChapterHit

TITLE_LIMIT = 70  # characters in a section title
PART_TITLE_LIMIT = 60
_NAME_LIMIT = 45  # a chapter's short name, so that two of them still make a section title


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SMALL_WORDS = _words("a an and as at but by for from in into nor of on or over per the to versus via vs with")
_NOT_PLURAL = _words("analysis basis bias earnings economics sales statistics series status thesis")
_PLURAL = _words("criteria data phenomena media people")
_LEAD_INS = (
    "i want to learn", "i would like to learn", "i'd like to learn", "teach me about", "teach me",
    "help me understand", "learn about", "learning", "learn", "an introduction to", "introduction to",
    "intro to", "a course on", "a course about", "course on", "the basics of", "basics of", "how to",
    "understand", "master", "study", "about", "the", "an", "a",
)  # fmt: skip


# --- casing ---------------------------------------------------------------------------------------


def title_case(text: str) -> str:
    """Title case that keeps acronyms and mixed-case words ("WACC", "EventBridge") as written."""
    words: list[str] = []
    for word in text.split():
        first = not words or words[-1].endswith(":")
        words.append("-".join(_capitalize(p, first and j == 0) for j, p in enumerate(word.split("-"))))
    return " ".join(words)


def _capitalize(word: str, first: bool) -> str:
    core = word.strip(".,;:()")
    if not first and core.lower() in SMALL_WORDS and (core.islower() or core.istitle()):
        return word.lower()
    if any(c.isupper() for c in word):
        return word
    i = next((k for k, c in enumerate(word) if c.isalpha()), 0)
    return word[:i] + word[i : i + 1].upper() + word[i + 1 :]


_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
# Endings of ordinary English words; names ("Gordon", "Merton", "Hamada") rarely have them.
_ORDINARY_ENDINGS = (
    "ing", "ed", "tion", "sion", "ity", "ment", "ness", "ance", "ence", "ency", "ancy", "al", "ive",
    "ic", "ics", "ous", "able", "ible", "ary", "ory", "ism", "ure", "ize", "ise", "ship",
)  # fmt: skip


@dataclass(frozen=True)
class Vocabulary:
    """The words the retrieved chapters write in lower case: a capitalised one of these is an
    ordinary word at the start of a key concept ("Growing perpetuity"), not a name ("Merton")."""

    common: frozenset[str]

    @classmethod
    def of(cls, hits: Iterable[ChapterHit]) -> Vocabulary:
        texts = (t for h in hits for t in [*h.topics, *h.key_concepts, h.summary])
        return cls(frozenset(w for text in texts for w in _WORD.findall(text) if w.islower()))

    def is_ordinary(self, word: str) -> bool:
        low = word.lower().strip(".,;:()'\"")
        return (
            low in self.common
            or low.removesuffix("s") in self.common
            or f"{low}s" in self.common
            or low.removesuffix("s").endswith(_ORDINARY_ENDINGS)
        )


def lower_inside(text: str, vocabulary: Vocabulary) -> str:
    """Lower-cases the ordinary words of a phrase so it reads mid-sentence; keeps acronyms,
    names and possessives: "Growing perpetuity" -> "growing perpetuity", "Merton model" stays."""
    return " ".join(_lower_word(w, vocabulary) for w in text.split())


def _lower_word(word: str, vocabulary: Vocabulary) -> str:
    parts = word.split("-")
    if "'" in word or not parts[0][:1].isupper() or any(not p.islower() for p in (x[1:] for x in parts)):
        return word  # lower already, an acronym, a possessive name or mixed case
    titled = [p for p in parts if p[:1].isupper()]
    if len(parts) > 1 and titled == parts[:1]:
        return word.lower()  # "Top-down", "Sales-to-capital": a sentence-case compound
    return word.lower() if all(vocabulary.is_ordinary(p) for p in titled) else word


def first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def is_plural_word(word: str) -> bool:
    """ "betas", "criteria"; not "analysis", "earnings" (which read as singular here)."""
    word = word.strip("().,;'").lower()
    regular = word.endswith("s") and not word.endswith(("ss", "us", "is")) and word not in _NOT_PLURAL
    return word in _PLURAL or regular


# --- titles ---------------------------------------------------------------------------------------


def course_subject(query: str) -> str:
    """The query without its lead-in: "Learn DCF valuation" -> "DCF valuation"."""
    text = " ".join(query.split()).strip(" .!?")
    stripped = True
    while stripped:
        stripped = False
        for lead in _LEAD_INS:
            rest = text[len(lead) :].strip()
            if text.lower().startswith(lead + " ") and len(rest) >= 3:
                text, stripped = rest, True
                break
    return text


def course_title(query: str) -> str:
    """A title-cased course title from the query; acronyms and mixed-case words keep their case."""
    return title_case(course_subject(query))


def clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, without a dangling small word."""
    if len(text) <= limit:
        return text
    words = text[: limit + 1].split()[:-1] or [text[:limit]]
    while len(words) > 1 and (words[-1].lower() in SMALL_WORDS or words[-1].endswith((",", ":"))):
        words.pop()
    return " ".join(words).rstrip(",:;")


def chapter_name(title: str, topics: Sequence[str] = ()) -> str:
    """A chapter's short name: "Value Creation and the Purpose of the Firm" -> "Value Creation";
    "From Accounting Earnings to Free Cash Flow to the Firm" -> "Free Cash Flow to the Firm"."""
    return name_options(title, topics)[0]


def name_options(title: str, topics: Sequence[str] = ()) -> list[str]:
    """The ways to name a chapter briefly, the most faithful first; never empty when the chapter
    has a title or a topic."""
    text = _without_article(" ".join(title.split()))
    options = []
    for candidate in _name_candidates(text, topics):
        candidate = _without_article(candidate.strip(" ,;:"))
        if candidate and len(candidate.split()) <= 6 and len(candidate) <= _NAME_LIMIT:
            options.append(candidate)
    topic = [title_case(t.strip()) for t in topics[:1] if 0 < len(t.split()) <= 5]
    return list(dict.fromkeys(options)) or topic or [clip(text, _NAME_LIMIT)]


def _without_article(text: str) -> str:
    return re.sub(r"^(?:the|an?)\s+(?=\S)", "", text, flags=re.IGNORECASE) if len(text.split()) > 1 else text


def _name_candidates(text: str, topics: Sequence[str]) -> Iterator[str]:
    if ":" in text and 1 <= len(text.split(":", 1)[0].split()) <= 5:
        yield text.split(":", 1)[0]
    head = re.split(r" and (?:the|an?) ", text, maxsplit=1)[0]
    if head != text and "," not in head and (len(head.split()) >= 2 or len(head) >= 4):
        yield head
    if len(text.split()) <= 5 and ":" not in text:
        yield text
    if text.lower().startswith("from ") and len(text.split(" to ", 1)[-1].split()) >= 2:
        yield text.split(" to ", 1)[1]
    first, sep, *_ = [*re.split(r"(,| and | for | in | through )", text, maxsplit=1), ""]
    if len(first.split()) >= 2 and first.split()[0].lower() not in ("what", "why", "how", "when", "who"):
        rest = text[len(first) + len(sep) :].split()
        if sep != " and " or len(rest) < 2 or not first.split()[0].lower().endswith("ing"):
            yield first  # but not "Valuing Young" from "Valuing Young and High-Growth Companies"
    last = _without_article(text.rsplit(" and ", 1)[-1])
    if "," in text and len(last.split()) >= 2:
        yield last
    yield text
    words = text.split()
    if len(words) > 2 and words[0].lower().endswith("ing") and is_plural_word(words[-1]):
        yield f"{words[0]} {_parallel(' '.join(words[1:]))}"  # "Valuing Distressed Firms"


def pair_title(first: Sequence[str], second: Sequence[str], second_topic: str = "") -> str:
    """Two chapters as one section title, from their name options (`name_options`): the best
    reading that fits in order, a shared word said once ("Valuing Young Companies and Distressed
    Firms", "Linear and Logistic Regression"), "A and B", "From A to B", or A's name listed with
    the second chapter's lead topic. Never the two chapter titles joined by a comma."""
    a0, b0 = first[0], second[0]
    if checks.title_tokens(b0) <= checks.title_tokens(a0):
        return a0
    if checks.title_tokens(a0) <= checks.title_tokens(b0):
        return b0
    pairs = [(a, b) for a in first for b in second]
    plain_topic = not re.search(r" (?:and|versus|vs\.?) ", second_topic)
    topic = title_case(second_topic) if 0 < len(second_topic.split()) <= 5 and plain_topic else ""
    tiers = [
        [t for a, b in pairs for t in _factored(a, b)],
        [f"{a} and {b}" for a, b in pairs if " and " not in a + b],
        [f"From {a} to {b}" for a, b in pairs if not (a + b).lower().startswith("from ")],
        [_listed(a, topic) for a in first if topic],
        [f"From {a} to {b}" for a, b in pairs if not (a + b).lower().startswith("from ")],  # up to 70 now
    ]
    for limit, tier in zip((TITLE_LIMIT, 60, 60, TITLE_LIMIT, TITLE_LIMIT), tiers, strict=True):
        if fitting := [t for t in tier if len(t) <= limit]:
            return fitting[0]
    return clip(a0, TITLE_LIMIT)


def _listed(name: str, topic: str) -> str:
    """ "Joins and Set Operations" + "Aggregate Functions" -> "Joins, Set Operations and Aggregate
    Functions"."""
    head, _, tail = name.rpartition(" and ")
    return f"{head}, {tail} and {topic}" if head else f"{name} and {topic}"


def _factored(first: str, second: str) -> Iterator[str]:
    """Titles that say a shared word once: a shared first word ("Valuing") or a shared last word
    of the leading phrases ("Linear Regression", "Logistic Regression")."""
    a, b = first.split(), second.split()
    if len(a) > 1 and len(b) > 1 and a[0].lower() == b[0].lower() and a[0].lower() not in SMALL_WORDS:
        rests = [_parallel(" ".join(a[1:])), _parallel(" ".join(b[1:]))]
        if not any(" and " in r or r.split()[0].lower() in SMALL_WORDS for r in rests):
            yield f"{a[0]} {rests[0]} and {rests[1]}"
    a, b = first.split(" and ")[0].split(), second.split(" and ")[0].split()
    shared_tail = a[-1:] == b[-1:] and a[:-1] != b[:-1] and 1 < len(a) <= 3 and 1 < len(b) <= 3
    if shared_tail and not {w.lower() for w in a[:-1] + b[:-1]} & SMALL_WORDS:
        yield f"{' '.join(a[:-1])} and {' '.join(b[:-1])} {b[-1]}"


def _parallel(rest: str) -> str:
    """ "Young and High-Growth Companies" -> "Young Companies": the first of two coordinated
    modifiers with their shared noun."""
    match = re.fullmatch(r"(\S+) and (?:\S+ )+(\S+)", rest)
    return f"{match[1]} {match[2]}" if match else rest


def span_title(first: str, last: str) -> str:
    """Three or more chapters read as a progression: "From Value Creation to Enterprise Value"."""
    if first.lower().startswith("from ") or checks.title_tokens(last) <= checks.title_tokens(first):
        return first
    return f"From {first} to {last}"


def facet_title(name: str, labels: Sequence[str]) -> str:
    """One facet of a chapter that fills several sections: "Terminal Value: Gordon Growth Model"."""
    labels = [title_case(x) for x in labels[:2] if x.strip()] or [name]
    joined = labels[0] if len(labels) == 1 else join(labels)
    head = (
        name if 0 < len(name.split()) <= 4 and checks.title_tokens(joined) - checks.title_tokens(name) else ""
    )
    candidates = (
        [f"{head}: {joined}", joined, f"{head}: {labels[0]}", labels[0]] if head else [joined, labels[0]]
    )
    return next((c for c in candidates if len(c) <= TITLE_LIMIT), clip(labels[0], TITLE_LIMIT))


def join(labels: Sequence[str]) -> str:
    if len(labels) < 2:
        return "".join(labels)
    if any(" and " in x for x in labels):
        return ", ".join(labels)
    return f"{', '.join(labels[:-1])} and {labels[-1]}"


@dataclass(frozen=True)
class Angle:
    """A way to revisit a topic when a chapter must fill more sections than it has topics."""

    title: str
    phrase: str


ANGLES = (
    Angle("Worked Example", "through a worked example"),
    Angle("Guided Practice", "in guided practice problems"),
    Angle("Common Pitfalls", "while avoiding common pitfalls"),
    Angle("Case Study", "in a real-world case study"),
    Angle("Comparing Approaches", "by comparing it with alternatives"),
    Angle("Hands-On Exercise", "in a hands-on exercise"),
    Angle("Review and Self-Check", "in a self-check review"),
    Angle("Going Further", "in more advanced settings"),
)
