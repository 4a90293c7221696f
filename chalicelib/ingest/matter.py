"""Front and back matter: which chapters of a document are not content (copyright, contents,
index, bibliography, ...), and the chapter numbers the document gives the rest."""

from __future__ import annotations

import re

from .document import RawChapter, split_label, word_count

# Never content, whatever their length.
_ALWAYS_SKIPPED = re.compile(
    r"^(copyright|copyright page|legal notice|license|licence|title page|half title|cover|"
    r"(table of )?contents|list of (figures|tables|illustrations|listings|examples)|bibliography|"
    r"references|works cited|further reading|colophon|dedication|epigraph|about the authors?|about this book|"
    r"acknowledge?ments?|also by .*|praise for .*|endnotes|notes|credits|revision history|"
    r"gnu free documentation license|gnu general public license|copying this manual|copying|"
    r"changes|change ?log|changelog/history|history of changes|document history|release history|"
    r"authors|contributors|footnotes|search( page)?|page not found|indices and tables|index)$",
    re.IGNORECASE,
)
# A licence, wherever it sits in the title ("A GNU Free Documentation License", "BSD-3-Clause
# License", "B.1 License for copying this manual").
_LICENCE = re.compile(
    r"(free documentation|general public|lesser general public) licen[cs]e|licen[cs]e for copying|"
    r"^[\w.-]+( [\w.-]+)? licen[cs]es?$|^licen[cs]es?\b",
    re.IGNORECASE,
)
# A "copying" chapter ("How to make copies of this manual") that opens with a licence's name, or
# whose sections are licences, is the licence.
_COPYING = re.compile(r"\bcop(y|ies|ying)\b|\bterms\b|\blicen[cs]", re.IGNORECASE)
_LICENCE_TEXT = re.compile(
    r"\b(GNU (Affero |Lesser )?General Public|GNU Free Documentation|Apache|Mozilla Public|"
    r"Creative Commons [\w-]+) Licen[cs]e\b|\bMIT Licen[cs]e\b|\bBSD[- ]\d[- ]Clause\b",
    re.IGNORECASE,
)
# An index under a longer name ("Concept Index", "Index of Functions", "General Index: F - L"):
# skipped when its text is a list of short lines, as an index's is.
_INDEX_LIKE = re.compile(
    r"^((\S+\s+){0,3}ind(ex|exes|ices)|ind(ex|exes|ices) of\b.*)(\s*:.*)?$", re.IGNORECASE
)
# Back matter that is content when it is long enough to teach something.
_SKIPPED_UNLESS_SUBSTANTIVE = re.compile(
    r"^(appendix|appendices|glossary|preface|foreword|prologue|epilogue|afterword)\b", re.IGNORECASE
)
SUBSTANTIVE_WORDS = 1000
MAX_CHAPTER_NUMBER = 100_000  # larger "numbers" are years or page numbers, not chapters
MIN_CHAPTER_WORDS = 40  # a part's title page or an empty stub is not a chapter


def matter_kind(chapter: RawChapter, document_title: str = "") -> str | None:
    """Why `chapter` is skipped ("front or back matter", "too short"), or None to keep it."""
    if document_title and chapter.title.casefold().strip() == document_title.casefold().strip():
        return "title page"
    _, bare = split_label(chapter.title)
    title = re.sub(r"[\s.:]+$", "", bare.strip())
    for candidate in (title, chapter.title.strip()):
        if _ALWAYS_SKIPPED.match(candidate) or _LICENCE.search(candidate):
            return "front or back matter"
        if _INDEX_LIKE.match(candidate) and _index_text(chapter.text):
            return "front or back matter"
    back_matter = any(_SKIPPED_UNLESS_SUBSTANTIVE.match(t) for t in (chapter.title.strip(), title))
    # "A. Title", as a table of contents labels an appendix, is one too (not "I.", "V.", "X.")
    back_matter = back_matter or bool(re.match(r"^\s*[A-HJ-UWYZ][.:]\s+\S", chapter.title))
    if back_matter and word_count(chapter.text) < SUBSTANTIVE_WORDS:
        return "front or back matter"
    licence_headings = bool(chapter.headings) and all(_LICENCE.search(h) for h in chapter.headings)
    licence = licence_headings or _LICENCE_TEXT.search(chapter.text[:600])
    if _COPYING.search(chapter.title) and licence:
        return "front or back matter"  # an appendix that is a licence ("How to make copies of …")
    if word_count(chapter.text) < MIN_CHAPTER_WORDS:
        return "too short"
    return None


def is_matter_title(title: str) -> bool:
    """A title that is never content, whatever the text under it (contents, copyright, index…)."""
    _, bare = split_label(title)
    candidates = (re.sub(r"[\s.:]+$", "", bare.strip()), title.strip())
    return any(_ALWAYS_SKIPPED.match(c) or _LICENCE.search(c) or _INDEX_LIKE.match(c) for c in candidates)


def _index_text(text: str) -> bool:
    """An index's text, not prose (a chapter on database indexes is prose): mostly short lines,
    or many page numbers."""
    lines = [line for line in text.split("\n") if line.strip()]
    words = [word for line in lines for word in re.findall(r"\w+", line)]  # dot leaders are not words
    if not words:
        return True
    return len(words) / len(lines) < 8 or sum(1 for w in words if w.isdigit()) >= 0.15 * len(words)


def looks_like_contents(chapter: RawChapter, others: list[RawChapter]) -> bool:
    """A table of contents under another name: most of the other chapters' titles each stand on a
    line of its own (after a number, before a page number), as a contents page lists them."""
    if len(others) < 3:
        return False
    entries = set()
    for line in chapter.text.split("\n"):
        line = re.sub(r"(\s*\.)*\s*\d+\s*$", "", line.strip())  # dot leaders, a page number
        if line and len(line.split()) <= 30:
            entries.add(_loose(line))
            entries.add(_loose(split_label(line)[1]))
    found = sum(
        1
        for other in others
        if _loose(other.title) in entries or _loose(split_label(other.title)[1]) in entries
    )
    return found >= 0.6 * len(others)


def _loose(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def content_chapters(chapters: list[RawChapter], document_title: str = "") -> list[RawChapter]:
    """The chapters that are content: front and back matter, stubs and contents pages dropped."""
    kept = [chapter for chapter in chapters if matter_kind(chapter, document_title) is None]
    numbered = [i for i, c in enumerate(kept) if (split_label(c.title)[0] or "").isdigit()]
    if len(numbered) >= 3:  # "A Title" after chapters "1 …", "2 …" is an appendix (Texinfo's PDF)
        kept = kept[: numbered[-1] + 1] + [
            c
            for c in kept[numbered[-1] + 1 :]
            if not (re.match(r"^[A-Z]\s+\S", c.title) and word_count(c.text) < SUBSTANTIVE_WORDS)
        ]
    return [c for c in kept if not looks_like_contents(c, [o for o in kept if o is not c])]


def number_chapters(chapters: list[RawChapter]) -> list[tuple[int, str, RawChapter]]:
    """(number, title without its number, chapter): the document's own numbers where it gives
    them ("Chapter 3", "3."), counting on from the last one where it does not; each unique. An
    unnumbered opening chapter before chapter 1 (an "Overview") is chapter 0."""
    numbered: list[tuple[int, str, RawChapter]] = []
    used: set[int] = set()
    labels = [chapter.label or split_label(chapter.title)[0] for chapter in chapters]
    for index, chapter in enumerate(chapters):
        parsed, bare = split_label(chapter.title)
        label = labels[index]
        title = bare if parsed and parsed.isdigit() else chapter.title
        number = int(label) if label and label.isdigit() else None
        if index == 0 and label is None and len(labels) > 1 and labels[1] == "1":
            number = 0
        elif number is None or number in used or number > MAX_CHAPTER_NUMBER:
            number = max(used, default=0) + 1
        used.add(number)
        numbered.append((number, title.strip() or chapter.title, chapter))
    return numbered
