"""Wording for the offline planner's titles: casing, short chapter names, and section and part
titles made from them (`objectives` writes the learning objectives)."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..core import checks
from ..core.models import ChapterHit

TITLE_LIMIT = 70  # characters in a section title
PART_TITLE_LIMIT = 60
_NAME_LIMIT = 45  # a chapter's short name, so that two of them still make a section title


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SMALL_WORDS = _words("a an and as at but by for from in into nor of on or over per the to versus via vs with")
_NOT_PLURAL = _words("analysis basis bias earnings economics sales statistics series status thesis")
_PLURAL = _words(
    "criteria data phenomena media people equilibria bacteria fungi nuclei stimuli alumni indices"
)
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
        first = not words or words[-1].endswith((":", "?", "!"))
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


_WORD = re.compile(r"[^\W\d_](?:[\w'\u2019-]*\w)?")
# Endings of ordinary English words; names ("Gordon", "Merton", "Hamada") rarely have them.
_ORDINARY_ENDINGS = (
    "ing", "ed", "tion", "sion", "ity", "ment", "ness", "ance", "ence", "ency", "ancy", "al", "ive",
    "ic", "ics", "ous", "able", "ible", "ary", "ory", "ism", "ure", "ize", "ise", "ship",
)  # fmt: skip


@dataclass(frozen=True)
class Vocabulary:
    """How the retrieved chapters write their words: those they write in lower case (a capitalised
    one is an ordinary word at the start of a key concept, "Growing perpetuity", or in a section
    title, "Equilibrium Constants"), and those they capitalise mid-sentence more often than not
    (names: "Hoover", "New Deal", "Le Châtelier's")."""

    common: frozenset[str]
    proper: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()  # runs of capitalised words: "New Deal", "Bonus Army"

    @classmethod
    def of(cls, hits: Iterable[ChapterHit]) -> Vocabulary:
        return _vocabulary(tuple((tuple(h.topics), tuple(h.key_concepts), h.summary) for h in hits))

    @classmethod
    def of_texts(cls, texts: Sequence[tuple[Sequence[str], Sequence[str], str]]) -> Vocabulary:
        """From each chapter's topics, key concepts and summary."""
        lower: Counter[str] = Counter()
        upper: Counter[str] = Counter()
        names: set[str] = set()
        for topics, key_concepts, summary in texts:
            for text in [*topics, *key_concepts, summary]:
                lower.update(w for w in _WORD.findall(text) if w.islower())
            # A glossary term is written as it reads mid-sentence; a summary's sentences are not
            # from their first word.
            sentences = [(text, 0) for text in key_concepts]
            sentences += [(text, 1) for text in re.split(r"(?<=[.!?])\s+", summary)]
            for text, skip in sentences:
                upper.update(w.lower() for w in _WORD.findall(text)[skip:] if _is_titled(w))
                for run in (m.group(0).split() for m in _NAME_RUN.finditer(text) if m.start() or not skip):
                    # "New Deal" is a name when "First New Deal" is
                    names.update(" ".join(run[i:]) for i in range(len(run) - 1))
        proper = frozenset(w for w, n in upper.items() if n > lower[w])
        # A run of capitals is a name when one of its words is ("First New Deal" by "Deal"), not
        # when it is a heading quoted in a summary ("Derivatives of Exponential Functions").
        named = frozenset(n for n in names if any(w.lower() in proper for w in n.split()))
        return cls(frozenset(lower), proper, named)

    def is_ordinary(self, word: str) -> bool:
        low = word.lower().strip(".,;:()'\"")
        return (
            low in self.common
            or low.removesuffix("s") in self.common
            or f"{low}s" in self.common
            or low.removesuffix("s").endswith(_ORDINARY_ENDINGS)
        )

    def is_name(self, word: str) -> bool:
        """Whether the chapters capitalise this word mid-sentence ("Hoover's" by "Hoover"). A word
        they never write at all is taken for an ordinary one: a section title capitalises every
        word, so a capital there is no evidence of a name."""
        return re.sub(r"['\u2019]s$", "", word.lower().strip(".,;:()'\"\u2019")) in self.proper


@functools.lru_cache(maxsize=8)  # one per course being planned; a course plans part by part
def _vocabulary(texts: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...]) -> Vocabulary:
    return Vocabulary.of_texts(texts)


def sentence_case(title: str, vocabulary: Vocabulary) -> str:
    """A title-cased heading as it reads mid-sentence: "The Stock Market Crash of 1929" -> "the
    stock market crash of 1929"; names and acronyms keep their capitals ("President Hoover's
    Response" -> "President Hoover's response" when the chapters write "President Hoover")."""
    words = title.split()
    named: set[int] = set()
    for name in (n for n in vocabulary.names if n in title):
        for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", title):
            start = len(title[: match.start()].split())
            named.update(range(start, start + len(name.split())))
    out = []
    for i, word in enumerate(words):
        parts = word.split("-")
        if any(not p[1:].islower() for p in parts if len(p) > 1) or not word[:1].isupper():
            out.append(word)  # an acronym, mixed case or lower already
            continue
        following = words[i + 1] if i + 1 < len(words) and not word.endswith((":", ",", ";")) else ""
        before_name = following[:1].isupper() and vocabulary.is_name(following)  # "President Hoover"
        low = word.lower().strip(".,:;")
        title_before_name = before_name and (low in _TITLES or low not in vocabulary.common)
        keep = i in named or vocabulary.is_name(word) or title_before_name
        out.append(word if keep else "-".join(p.lower() if p[:1].isupper() else p for p in parts))
    return " ".join(out)


def _is_titled(word: str) -> bool:
    return all(p[:1].isupper() and (p[1:].islower() or not p[1:]) for p in word.split("-"))


_NAME_RUN = re.compile(r"[^\W\d_a-z][\w\u2019'-]*(?:\s+(?:of\s+)?[^\W\d_a-z][\w\u2019'-]*)+")
_TITLES = _words("president king queen general senator governor chief justice pope emperor saint lake mount")


def concept_case(text: str, vocabulary: Vocabulary) -> str:
    """A key concept as it reads mid-sentence. A glossary term is written in its own case, so only
    a sentence-case first word is lowered ("Growing perpetuity"); a term whose later words are
    capitalised is a name and stays as written ("Civilian Conservation Corps")."""
    words = text.split()
    if any(_is_titled(w) for w in words[1:]):
        return text
    return " ".join([_lower_word(words[0], vocabulary), *words[1:]]) if words else text


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
    if "? " in text and len(text.split("? ", 1)[1].split()) >= 2:
        yield text.split("? ", 1)[1]  # "Brother, Can You Spare a Dime? The Great Depression"
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


# Ways to revisit a topic when a chapter must fill more sections than it has topics, by whether
# the chapter calculates.
_PROBLEM_ANGLES = ("Worked Problems", "Practice Problems", "Common Errors", "Applications", "Review Problems")
_TEXT_ANGLES = ("Key Terms", "Case Study", "Sources and Evidence", "Discussion", "Review")


def angles(quantitative: bool) -> tuple[str, ...]:
    return _PROBLEM_ANGLES if quantitative else _TEXT_ANGLES
