"""Merging and cutting parts and sections, and the one way the pieces of a cut are titled
("Terminal value (part 2)"). The building blocks of `fixes`; each appends what it changed to
the `changes` it is given."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import TypeVar, overload

from . import rules
from .models import ChapterRef, CourseRequest, PartPlan, PlannedPart, SectionPlan

Part = TypeVar("Part", PartPlan, PlannedPart)  # a part as first planned, or with its sections

_PIECE = re.compile(r"^(?P<base>.*\S)\s+\(part (?P<n>\d+)\)$", re.IGNORECASE)
_COUNTS = {2: "two", 3: "three", 4: "four", 5: "five"}


# --- titles -------------------------------------------------------------------------------------


def piece_title(base: str, n: int) -> str:
    """The title of the n-th piece of a section or part cut in several: "Terminal value (part 2)"."""
    return f"{base} (part {n})"


def parse_piece_title(title: str) -> tuple[str, int] | None:
    """("Terminal value", 2) for "Terminal value (part 2)", the inverse of `piece_title`; None
    for a title that is not a piece."""
    match = _PIECE.match(title.strip())
    return (match["base"], int(match["n"])) if match else None


def base_title(title: str) -> str:
    """What the pieces of this title are named after: the base of a piece, else the title."""
    piece = parse_piece_title(title)
    return piece[0] if piece else title.strip()


def renumbered(titles: Sequence[str], only: str | None = None) -> list[str]:
    """The pieces of each base title numbered 1..n in order (a lone piece becomes whole again),
    so repeated cuts never leave two pieces with the same number; `only` keeps to the pieces of
    that base."""
    pieces: dict[str, list[int]] = {}
    for i, title in enumerate(titles):
        if (piece := parse_piece_title(title)) and (only is None or piece[0].lower() == only.lower()):
            pieces.setdefault(piece[0].lower(), []).append(i)
    titled = list(titles)
    for positions in pieces.values():
        for n, i in enumerate(positions, 1):
            base = base_title(titles[i])
            titled[i] = base if len(positions) == 1 else piece_title(base, n)
    return titled


# --- parts --------------------------------------------------------------------------------------


def fit_part_count(request: CourseRequest, parts: list[Part], changes: list[str]) -> list[Part]:
    """Merge the smallest part into a neighbour while there are more than the hours (or the
    minutes, at one shortest section a part) allow; cut the largest when there are too few."""
    fewest, most = rules.part_count_range(request.hours)
    most = min(most, max(1, request.target_minutes // rules.MIN_SECTION_MINUTES))
    while len(parts) > most:
        parts = _merge_smallest_part(parts, changes)
    if len(parts) < min(fewest, most):
        parts = _split_largest_part(parts, min(fewest, most) - len(parts) + 1, changes)
    return parts


def weight(part: PartPlan | PlannedPart) -> int:
    """How much a part holds: its sections' minutes, or its own before it has sections."""
    if isinstance(part, PlannedPart):
        return _minutes(part.sections)
    return max(1, part.minutes)


def _minutes(sections: Sequence[SectionPlan]) -> int:
    return sum(max(1, s.minutes) for s in sections)


def _merge_smallest_part(parts: list[Part], changes: list[str]) -> list[Part]:
    """The smallest part merged into the previous one (the first part into the next)."""
    weights = [weight(p) for p in parts]
    k = min(range(len(parts)), key=lambda i: (weights[i], i))
    j = k - 1 if k > 0 else 1
    first, second = sorted((j, k))
    changes.append(f"merged part '{parts[k].title}' into '{parts[j].title}' (too many parts)")
    merged = list(parts)
    merged[first : second + 1] = [_joined(parts[first], parts[second], parts[j].title)]
    return merged


@overload
def _joined(first: PartPlan, second: PartPlan, title: str) -> PartPlan: ...
@overload
def _joined(first: PlannedPart, second: PlannedPart, title: str) -> PlannedPart: ...
def _joined(
    first: PartPlan | PlannedPart, second: PartPlan | PlannedPart, title: str
) -> PartPlan | PlannedPart:
    minutes = first.minutes + second.minutes
    if isinstance(first, PlannedPart) and isinstance(second, PlannedPart):
        return PlannedPart(title=title, minutes=minutes, sections=[*first.sections, *second.sections])
    assert isinstance(first, PartPlan) and isinstance(second, PartPlan)
    return PartPlan(title=title, minutes=minutes, chapters=_union_refs(first.chapters, second.chapters))


def _split_largest_part(parts: list[Part], pieces: int, changes: list[str]) -> list[Part]:
    """The part with the most minutes cut in `pieces`, titled "Title (part n)"."""
    weights = [weight(p) for p in parts]
    k = max(range(len(parts)), key=lambda i: (weights[i], -i))
    part, base = parts[k], base_title(parts[k].title) or "Part"
    split = list(parts)
    split[k : k + 1] = _cut(part, [piece_title(base, n) for n in range(1, pieces + 1)], changes)
    changes.append(f"split part '{part.title}' in {_COUNTS.get(pieces, pieces)} (too few parts)")
    titles = renumbered([p.title for p in split], only=base)
    return [p if p.title == t else p.model_copy(update={"title": t})
            for p, t in zip(split, titles, strict=True)]  # fmt: skip


@overload
def _cut(part: PartPlan, titles: list[str], changes: list[str]) -> list[PartPlan]: ...
@overload
def _cut(part: PlannedPart, titles: list[str], changes: list[str]) -> list[PlannedPart]: ...
def _cut(
    part: PartPlan | PlannedPart, titles: list[str], changes: list[str]
) -> list[PartPlan] | list[PlannedPart]:
    """Consecutive runs of the part's sections (split further when too few), as even in minutes
    as they allow; or of its chapters, neighbouring pieces sharing one when too few."""
    count = len(titles)
    if isinstance(part, PlannedPart):
        sections = list(part.sections)
        if len(sections) < count:
            sections = resize(sections, count, count, changes)
        runs = [sections[r.start : r.stop] for r in _runs([max(1, s.minutes) for s in sections], count)]
        return [PlannedPart(title=t, minutes=_minutes(run), sections=run)
                for t, run in zip(titles, runs, strict=True)]  # fmt: skip
    chapters = part.chapters
    shared = [chapters[k * len(chapters) // count :][:1] for k in range(count)]
    return [
        PartPlan(title=t, minutes=max(1, part.minutes // count), chapters=chapters[r.start : r.stop] or one)
        for t, r, one in zip(titles, _runs([1] * len(chapters), count), shared, strict=True)
    ]


def _runs(weights: Sequence[int], count: int) -> list[range]:
    """`count` consecutive runs of the items, each as close as it comes to an even share of the
    weight still left (the shorter run on a tie); empty only when there are fewer items than runs."""
    n = len(weights)
    if n < count:
        return [range(k * n // count, (k + 1) * n // count) for k in range(count)]
    prefix = [0, *itertools.accumulate(weights)]
    cuts = [0]
    for k in range(1, count):
        start = cuts[-1]
        share = prefix[start] + (prefix[n] - prefix[start]) / (count - k + 1)
        cuts.append(min(range(start + 1, n - (count - k) + 1), key=lambda b: abs(prefix[b] - share)))
    return [range(a, b) for a, b in itertools.pairwise([*cuts, n])]


# --- sections -----------------------------------------------------------------------------------


def resize(sections: list[SectionPlan], fewest: int, most: int, changes: list[str]) -> list[SectionPlan]:
    """Merge the shortest section into its shorter neighbour, or split the longest in two,
    until the part has between `fewest` and `most` sections."""
    while len(sections) > most:
        i = min(range(len(sections)), key=lambda k: (sections[k].minutes, k))
        neighbours = [k for k in (i - 1, i + 1) if 0 <= k < len(sections)]
        j = min(neighbours, key=lambda k: (sections[k].minutes, k))
        changes.append(f"merged short section '{sections[i].title}' into '{sections[j].title}'")
        sections[j] = merge_sections(sections[j], sections[i])
        del sections[i]
    while len(sections) < fewest:
        i = max(range(len(sections)), key=lambda k: (sections[k].minutes, -k))
        s = sections[i]
        minutes = max(2, s.minutes)
        base = base_title(s.title) or "Untitled section"
        changes.append(f"split long section '{s.title}' in two")
        halves = [
            s.model_copy(update={"title": piece_title(base, 1), "minutes": minutes // 2}),
            s.model_copy(update={"title": piece_title(base, 2), "minutes": minutes - minutes // 2}),
        ]
        sections[i : i + 1] = halves
    return sections


def merge_sections(keep: SectionPlan, other: SectionPlan) -> SectionPlan:
    """`keep` absorbs `other`: its minutes, objectives (up to six) and sources."""
    return keep.model_copy(
        update={
            "minutes": keep.minutes + other.minutes,
            "objectives": _union(keep.objectives, other.objectives, rules.MAX_OBJECTIVES),
            "sources": _union_refs(keep.sources, other.sources),
        }
    )


def _union(first: Sequence[str], second: Sequence[str], cap: int | None = None) -> list[str]:
    seen, out = set(), []
    for item in [*first, *second]:
        key = " ".join(item.lower().split())
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out[:cap]


def _union_refs(first: Sequence[ChapterRef], second: Sequence[ChapterRef]) -> list[ChapterRef]:
    keys = {r.key for r in first}
    return [*first, *(r for r in second if r.key not in keys)]
