"""What to search the library for, which retrieved chapters have the evidence to enter a course,
and one copy of the material two books share."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from .models import ChapterHit, ChapterTwin

# Words that say "I want a course", not what the course is about. Left in, they pull the query
# towards chapters that happen to talk about learning (e.g. machine *learning*).
_REQUEST_PREFIX = re.compile(
    r"^\s*(?:please\s+)?(?:(?:i\s+want\s+to|help\s+me|teach\s+me(?:\s+about)?|learn(?:\s+about)?|"
    r"understand|master|study|explore|get\s+started\s+with|(?:an?\s+)?(?:intro(?:duction)?|"
    r"course|crash\s+course|primer)\s+(?:to|on|in))\s+)+",
    re.IGNORECASE,
)

# Words of a request that name no subject: a chapter containing them is no evidence of anything.
# (English stop words are dropped by the database's text search configuration as well.)
_NOT_SUBJECTS = frozenset(
    [
        "a",
        "about",
        "after",
        "all",
        "also",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "basic",
        "basics",
        "been",
        "before",
        "beginner",
        "beginners",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "course",
        "courses",
        "do",
        "does",
        "each",
        "first",
        "for",
        "from",
        "get",
        "getting",
        "has",
        "have",
        "hour",
        "hours",
        "how",
        "i",
        "if",
        "in",
        "intro",
        "introduction",
        "into",
        "is",
        "it",
        "its",
        "learn",
        "learner",
        "learning",
        "me",
        "minute",
        "minutes",
        "more",
        "most",
        "my",
        "not",
        "of",
        "on",
        "or",
        "other",
        "our",
        "over",
        "please",
        "primer",
        "say",
        "says",
        "should",
        "so",
        "some",
        "start",
        "started",
        "study",
        "such",
        "teach",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "understand",
        "understanding",
        "up",
        "us",
        "use",
        "using",
        "very",
        "want",
        "was",
        "way",
        "ways",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "work",
        "works",
        "would",
        "you",
        "your",
    ]
)
_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_TERMS = 32


# A run of seven or more digits (an order number, a timestamp, a phone number) names no subject,
# and it pulls the offline embedder's query vector off the subject the words name. Shorter numbers
# stay: a year, a model number ("80486"), a standard ("IFRS 16").
_IDENTIFIER = re.compile(r"(?<![^\W\d_])\d{7,}(?![^\W\d_])")


def search_text(query: str) -> str:
    """The part of the query that names the subject: 'Learn DCF valuation' -> 'DCF valuation',
    less long digit runs that name none ('... order 20240117093512' -> '... order')."""
    stripped = _REQUEST_PREFIX.sub("", query).strip()
    subject = " ".join(_IDENTIFIER.sub(" ", stripped).split()).strip(" ,;:-")
    if len(subject) >= 2:
        return subject
    return stripped if len(stripped) >= 2 else query


def query_terms(text: str) -> list[str]:
    """The words of `text` that may name a subject, lower-cased, once each, in order: letters and
    digits only, so they can be joined into a full-text query without escaping anything."""
    words = [w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", text))]
    kept = [w for w in words if len(w) > 1 and w not in _NOT_SUBJECTS]
    return list(dict.fromkeys(kept))[:MAX_QUERY_TERMS]


def any_term_query(terms: Sequence[str], weights: str = "") -> str:
    """A `to_tsquery` text matching any of `terms` (in parts of the text weighted `weights`, e.g.
    "AB", if given). A learner's request is a list of topics; a chapter rarely has them all, so
    requiring every term (what `websearch_to_tsquery` does) would match nothing."""
    suffix = f":{weights}" if weights else ""
    return " | ".join(f"{term}{suffix}" for term in terms)


@dataclass(frozen=True)
class Evidence:
    """How much a chapter must show to enter a course (see `select_relevant`). The floors are
    fractions of the best similarity among the candidates, so they hold for any embedder; the
    values are measured on real books (docs/planning.md, "Retrieval")."""

    min_similarity: float = 0.3  # below this cosine, only a chapter naming the query's terms enters
    # A chapter naming the query's terms still needs this cosine: a word in common is no evidence
    # when the meaning is far off (a nutrition chapter's "glycemic index", 0.13, for "SQL
    # indexing"). The lowest expected chapter of the development set scores 0.31. A chapter
    # naming every term of the query needs no cosine at all (see `select_relevant`).
    named_min_similarity: float = 0.2
    relative_floor: float = 0.75  # naming fewer terms than needed: this close to the best ...
    strong_floor: float = 0.9  # ... and this close, sharing no word with the query at all
    named_floor: float = 0.75  # naming two terms that many candidates name
    specific_named_floor: float = 0.6  # naming two terms, one of which few candidates name
    well_named_floor: float = 0.4  # naming three terms, or a third of the query's


def _specific_terms(hits: Sequence[ChapterHit]) -> set[str]:
    """Query terms that few candidates name (an eighth of them, at least two): naming one of
    them says more than naming a word half the candidates have in their titles."""
    counts = Counter(term for hit in hits for term in hit.named)
    limit = max(2, len(hits) // 8)
    return {term for term, count in counts.items() if count <= limit}


def select_relevant(
    hits: Sequence[ChapterHit], terms: Sequence[str], evidence: Evidence | None = None
) -> list[ChapterHit]:
    """The chapters with evidence that they teach what the query (its `terms`, see `query_terms`)
    asks, most relevant first, each with its `relevance` set.

    A chapter enters when its title, topics or key concepts name the query's terms (two of them,
    or one for a query of three terms or fewer) and its similarity is not far below the best one's
    (the more it names, and the more specific the names, the further below it may be); or, naming
    fewer, when its similarity alone is close to the best one's and above an absolute floor
    (closer still if it shares no word with the query). So a chapter the learner names enters
    though its embedding is only moderately similar, and a chapter with neither kind of evidence
    is left out, whatever its rank. When no chapter has evidence the result is empty: the
    library has nothing on the subject."""
    e = evidence or Evidence()
    if not hits:
        return []
    need = 1 if len(terms) <= 3 else 2
    specific = _specific_terms(hits)
    best_similarity = max(max(hit.similarity for hit in hits), 1e-9)
    best_lexical = max(hit.lexical for hit in hits)

    def floor(hit: ChapterHit) -> float | None:
        """The share of the best similarity `hit` needs; None: it cannot enter at all."""
        named = len(hit.named)
        # Naming every term is evidence whatever the cosine: an embedder that does not know an
        # acronym ("CAPM") scores the chapters titled with it below the floor.
        names_all = named >= len(terms) > 0
        if named >= need and (hit.similarity >= e.named_min_similarity or names_all):
            if named >= 3 or 3 * named >= len(terms):
                return e.well_named_floor
            return e.specific_named_floor if specific.intersection(hit.named) else e.named_floor
        if hit.similarity < e.min_similarity:
            return None  # naming too little, or naming words whose meaning is elsewhere
        return e.relative_floor if hit.lexical > 0 or named else e.strong_floor

    def relevance(hit: ChapterHit) -> float:
        vector = max(0.0, hit.similarity) / best_similarity
        lexical = hit.lexical / best_lexical if best_lexical > 0 else vector
        return round((vector + lexical) / 2, 6)

    kept = [
        hit.model_copy(update={"relevance": relevance(hit)})
        for hit in hits
        if (needed := floor(hit)) is not None and hit.similarity >= needed * best_similarity
    ]
    return sorted(kept, key=lambda hit: (-hit.relevance, hit.book_id, hit.chapter_number))


# --- one copy of shared material ------------------------------------------------------------------

# Measured on overlapping books (two editions of one chemistry text in another order, two calculus
# volumes sharing chapters): word-level similarity of their summaries is 0.45-1.0 for chapters of
# the same title and 0.78-1.0 for the one renamed pair, while no two other chapters reach 0.56
# (docs/planning.md, "Retrieval").
SAME_TITLE_SUMMARY_RATIO = 0.35
SUMMARY_RATIO = 0.7


def normalised_title(title: str) -> str:
    """NFKC, case-folded, punctuation removed, whitespace collapsed."""
    text = re.sub(r"[^\w\s]", " ", unicodedata.normalize("NFKC", title).casefold())
    return " ".join(text.split())


@dataclass(frozen=True)
class _Summary:
    """A chapter's normalised title, its summary as words, and how often each word occurs."""

    title: str
    words: list[str]
    counts: Counter[str]

    @classmethod
    def of(cls, hit: ChapterHit) -> _Summary:
        words = _WORD.findall(normalised_title(hit.summary))
        return cls(normalised_title(hit.chapter_title), words, Counter(words))


def _similar(a: _Summary, b: _Summary, threshold: float) -> bool:
    """difflib's ratio of the two word sequences reaches `threshold`. Two upper bounds of it
    first (the lengths; the words in common, in any order): most pairs stop there."""
    total = len(a.words) + len(b.words)
    if not total or 2 * min(len(a.words), len(b.words)) < threshold * total:
        return False
    small, large = sorted((a.counts, b.counts), key=len)
    shared = sum(min(count, large[word]) for word, count in small.items() if word in large)
    if 2 * shared < threshold * total:
        return False
    return SequenceMatcher(None, a.words, b.words, autojunk=False).ratio() >= threshold


def _twins(a: ChapterHit, a_summary: _Summary, b: ChapterHit, b_summary: _Summary) -> bool:
    if a.book_id == b.book_id:
        return False
    same_title = a_summary.title == b_summary.title
    return _similar(a_summary, b_summary, SAME_TITLE_SUMMARY_RATIO if same_title else SUMMARY_RATIO)


def are_twins(a: ChapterHit, b: ChapterHit) -> bool:
    """Two books' copies of one chapter: the same title and similar summaries, or near-identical
    summaries under different titles."""
    return _twins(a, _Summary.of(a), b, _Summary.of(b))


def collapse_twins(hits: Sequence[ChapterHit]) -> list[ChapterHit]:
    """Keep the first (best-ranked) copy of material that several books share, with the other
    copies as its `twins`; order is kept."""
    kept: list[tuple[ChapterHit, _Summary, list[ChapterTwin]]] = []
    for hit in hits:
        summary = _Summary.of(hit)
        first = next((k for k in kept if _twins(k[0], k[1], hit, summary)), None)
        if first is None:
            kept.append((hit, summary, []))
            continue
        first[2].append(
            ChapterTwin(
                book_id=hit.book_id,
                book_title=hit.book_title,
                chapter_number=hit.chapter_number,
                chapter_title=hit.chapter_title,
            )
        )
    return [
        hit.model_copy(update={"twins": [*hit.twins, *twins]}) if twins else hit for hit, _, twins in kept
    ]


def group_by_book(hits: Sequence[ChapterHit]) -> list[ChapterHit]:
    """Books in the order of their most relevant chapter; a book's chapters in book order."""
    books: dict[str, list[ChapterHit]] = {}
    for hit in sorted(hits, key=lambda hit: -hit.relevance):
        books.setdefault(hit.book_id, []).append(hit)
    return [hit for group in books.values() for hit in sorted(group, key=lambda hit: hit.chapter_number)]


def drop_retold(hits: Sequence[ChapterHit], strong_floor: float = 0.9) -> list[ChapterHit]:
    """Leave out a chapter of one book that names only query terms that more relevant chapters
    of other books already name: the same material told again in other words (a business
    textbook's marketing chapter beside a marketing textbook's). `hits` go most relevant first;
    a chapter about as similar as the best one (`strong_floor`) stays whatever it names."""
    if not hits:
        return []
    best_similarity = max(hit.similarity for hit in hits)
    kept: list[ChapterHit] = []
    for hit in hits:
        elsewhere = {term for other in kept if other.book_id != hit.book_id for term in other.named}
        retold = bool(hit.named) and elsewhere.issuperset(hit.named)
        if not retold or hit.similarity >= strong_floor * best_similarity:
            kept.append(hit)
    return kept


def relevant_chapters(
    hits: Sequence[ChapterHit], terms: Sequence[str], evidence: Evidence | None = None
) -> list[ChapterHit]:
    """What a course is planned from: the chapters with evidence (`select_relevant`), one copy of
    shared material (`collapse_twins`, the most relevant copy kept; `drop_retold`), grouped by
    book."""
    e = evidence or Evidence()
    return group_by_book(drop_retold(collapse_twins(select_relevant(hits, terms, e)), e.strong_floor))
