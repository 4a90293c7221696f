"""The level of a table of contents (an EPUB's navigation, a PDF's outline) that holds the
chapters: below wrapping entries (the book's title, "Information for …" holding everything)
and below parts ("Part I", or groups whose entries number the chapters on across groups)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import TypeVar

from .document import split_label
from .matter import is_matter_title

T = TypeVar("T")
_PART = re.compile(r"^\s*(part|book|volume|teil|partie|parte)\b", re.IGNORECASE)


def chapter_nodes(
    nodes: list[T], title: Callable[[T], str], children: Callable[[T], list[T]], document_title: str = ""
) -> list[T]:
    """The entries that are chapters, parts flattened into their chapters."""
    seen = 0
    while seen < 10:  # a deep chain of wrappers is still finite
        seen += 1
        branching = [n for n in nodes if children(n)]
        others = [n for n in nodes if not children(n)]
        if len(branching) == 1 and all(_wrapper(title(n), document_title) for n in others):
            nodes = children(branching[0])
            continue
        break
    branching = [n for n in nodes if children(n)]
    parts = [n for n in branching if _PART.match(title(n)) or _roman(title(n))]
    if len(parts) >= 2 and any(_roman(title(n)) != "I" for n in parts):  # not an appendix "I" alone
        return [child for n in nodes for child in (children(n) if n in parts else [n])]
    if len(branching) >= 2 and _numbered_across(branching, title, children):
        return [child for n in nodes for child in (children(n) if n in branching else [n])]
    return nodes


def _roman(text: str) -> str:
    """The roman numeral a part is labelled with ("II. The SQL Language" -> "II"), else ""."""
    label = split_label(text)[0] or ""
    return label if re.fullmatch(r"[IVX]{1,5}", label) and re.match(rf"^\s*{label}[.:]", text) else ""


def _wrapper(text: str, document_title: str) -> bool:
    """A leaf beside the one entry holding everything: a title page, a cover, the contents."""
    loose = " ".join(text.casefold().split())
    return (
        not loose
        or loose == " ".join(document_title.casefold().split())
        or loose in {"title page", "cover", "version", "front matter"}
        or is_matter_title(text)
    )


def _numbered_across(groups: list[T], title: Callable[[T], str], children: Callable[[T], list[T]]) -> bool:
    """The groups are parts if they carry no chapter numbers themselves while their entries do,
    counting on from one group to the next (1, 2, 3 | 4, 5 | 6 …)."""
    if any((split_label(title(g))[0] or "").isdigit() for g in groups):
        return False
    numbers = []
    for group in groups:
        for child in children(group):
            label = split_label(title(child))[0]
            if label and label.isdigit():
                numbers.append(int(label))
    if len(numbers) < 3:
        return False
    rising = sum(1 for a, b in itertools.pairwise(numbers) if b == a + 1)
    return rising >= 0.8 * (len(numbers) - 1)
