"""The checks of an outline against the planning rules (docs/planning.md#the-rules), and what
makes two sections duplicates.

Each check returns readable failure lines, empty when the outline passes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .models import ChapterHit, CourseRequest, Depth, Pace, PlannedPart, SectionPlan
from .pieces import parse_piece_title
from .rules import (
    BLOOM_LEVELS,
    BUDGET_TOLERANCE,
    MAX_OBJECTIVES,
    MAX_SECTION_MINUTES,
    MIN_OBJECTIVES,
    MIN_SECTION_MINUTES,
    NEAR_DUPLICATE_JACCARD,
    depth_levels,
    is_within_budget,
    pace_may_relax,
    part_count_range,
    section_minutes_range,
    verb_level,
)

Outline = list[PlannedPart]  # an outline in the making: parts with their sections

_STOPWORDS = frozenset(
    ["a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to", "with"]
)


def _sections(outline: Outline) -> list[SectionPlan]:
    return [s for part in outline for s in part.sections]


def check_budget(request: CourseRequest, outline: Outline) -> list[str]:
    total, target = sum(s.minutes for s in _sections(outline)), request.target_minutes
    if not _sections(outline):
        return ["outline: no sections at all"]
    ok = is_within_budget(total, target)
    return [] if ok else [f"budget: {total} min vs target {target} (±{BUDGET_TOLERANCE:.0%})"]


def check_part_count(request: CourseRequest, outline: Outline) -> list[str]:
    lo, hi = part_count_range(request.hours)
    if lo <= len(outline) <= hi:
        return []
    expected = str(lo) if lo == hi else f"{lo}-{hi}"
    return [f"parts: {len(outline)} for {request.hours:g} h, expected {expected}"]


def check_part_sums(outline: Outline) -> list[str]:
    failures = []
    for k, part in enumerate(outline, 1):
        total = sum(s.minutes for s in part.sections)
        if not part.sections:
            failures.append(f"part {k} '{part.title}': has no sections")
        elif total != part.minutes:
            failures.append(f"part {k} '{part.title}': sections sum to {total} min, part says {part.minutes}")
    return failures


def check_section_minutes(request: CourseRequest, outline: Outline) -> list[str]:
    pace = Pace(request.preferences.pace)
    lo, hi = section_minutes_range(pace)
    relax = pace_may_relax(request, len(outline))
    failures = []
    for part in outline:
        for s in part.sections:
            forced = relax and len(part.sections) == 1 and s.minutes < lo
            where = f"section '{s.title}': {s.minutes} min outside"
            if not MIN_SECTION_MINUTES <= s.minutes <= MAX_SECTION_MINUTES:
                failures.append(f"{where} {MIN_SECTION_MINUTES}-{MAX_SECTION_MINUTES}")
            elif not lo <= s.minutes <= hi and not forced:
                failures.append(f"{where} the {pace.value} pace range {lo}-{hi}")
    return failures


def check_objectives(request: CourseRequest, outline: Outline) -> list[str]:
    return [line for s in _sections(outline) for line in section_objective_failures(request, s)]


def section_objective_failures(request: CourseRequest, section: SectionPlan) -> list[str]:
    """What breaks the objective rules in one section: their count, a missing action verb, a
    level too low for the depth, or a mix mostly off the depth's levels."""
    depth = Depth(request.preferences.depth)
    targets = depth_levels(depth)
    floor = lowest_level(depth)
    s, failures = section, []
    if not MIN_OBJECTIVES <= len(s.objectives) <= MAX_OBJECTIVES:
        failures.append(f"section '{s.title}': {len(s.objectives)} objectives, expected 2-6")
    levels = [verb_level(o) for o in s.objectives]
    for objective, level in zip(s.objectives, levels, strict=True):
        where = f"section '{s.title}': objective '{objective}'"
        if level is None:
            failures.append(f"{where} does not begin with an action verb")
        elif BLOOM_LEVELS.index(level) < floor:
            failures.append(f"{where} is below the '{depth.value}' level")
    known = [BLOOM_LEVELS.index(x) for x in levels if x is not None]
    if known and 2 * sum(BLOOM_LEVELS[i] in targets for i in known) < len(s.objectives):
        below = sum(i < BLOOM_LEVELS.index(targets[0]) for i in known) * 2 >= len(known)
        where = "below" if below else "above"
        failures.append(f"objectives of section '{s.title}' are mostly {where} the '{depth.value}' level")
    return failures


def lowest_level(depth: Depth) -> int:
    """The index of the lowest Bloom level an objective may have at `depth`: one level below
    the depth's range is tolerated."""
    return BLOOM_LEVELS.index(depth_levels(depth)[0]) - 1


def check_citations(chapters: Sequence[ChapterHit], outline: Outline) -> list[str]:
    """Every citation names a retrieved chapter, and every section cites at least one."""
    retrieved = {ref.key for hit in chapters for ref in (hit.ref, *(twin.ref for twin in hit.twins))}
    failures = []
    for s in _sections(outline):
        failures += [f"section '{s.title}': cites chapter {ref.key} which was not retrieved"
                     for ref in s.sources if ref.key not in retrieved]  # fmt: skip
        if not any(ref.key in retrieved for ref in s.sources):
            failures.append(f"section '{s.title}': cites no retrieved chapter")
    return failures


def check_duplicates(outline: Outline) -> list[str]:
    sections = _sections(outline)
    return [
        f"sections '{sections[i].title}' and '{sections[j].title}' are near-duplicates"
        for i, j in duplicate_pairs(sections)
    ]


def check_outline(request: CourseRequest, chapters: Sequence[ChapterHit], outline: Outline) -> list[str]:
    """Every failed rule, as a readable line; empty when the outline is good."""
    return [
        *check_budget(request, outline),
        *check_part_count(request, outline),
        *check_part_sums(outline),
        *check_section_minutes(request, outline),
        *check_objectives(request, outline),
        *check_citations(chapters, outline),
        *check_duplicates(outline),
    ]


# --- near-duplicates ----------------------------------------------------------------------------


@lru_cache(maxsize=8192)  # pure, and the duplicate checks ask for the same titles many times
def title_tokens(title: str) -> frozenset[str]:
    """Lower-cased words without stopwords, with a naive plural fold ("multiples" ~ "multiple")."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    return frozenset(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
                     for w in words if w not in _STOPWORDS)  # fmt: skip


def is_near_duplicate(a: SectionPlan, b: SectionPlan) -> bool:
    """Title-token Jaccard ≥ 0.8 or identical objective sets. The pieces of one split section
    ("X (part 1)", "X (part 2)") are a continuation, not duplicates."""
    return _keys_near(_key(a), _key(b))


def duplicate_pairs(sections: Sequence[SectionPlan]) -> list[tuple[int, int]]:
    """Every (i, j), i < j, of near-duplicate sections, in order. Only pairs that could be near
    are compared: the same title, the same objectives, or title tokens sharing one of the first
    tokens of each (a prefix filter: two sets with Jaccard ≥ t share a token among the
    |s| - ceil(t·|s|) + 1 rarest of each), so a 40-hour outline is not compared all-pairs."""
    keys = [_key(s) for s in sections]
    frequency: dict[str, int] = {}
    for key in keys:
        for token in key.tokens:
            frequency[token] = frequency.get(token, 0) + 1
    buckets: dict[object, list[int]] = {}
    for i, key in enumerate(keys):
        buckets.setdefault(("title", key.title), []).append(i)
        if key.objectives:
            buckets.setdefault(("objectives", key.objectives), []).append(i)
        ranked = sorted(key.tokens, key=lambda token: (frequency[token], token))
        prefix = len(ranked) - int(NEAR_DUPLICATE_JACCARD * len(ranked)) + 1  # floor: never too short
        for token in ranked[:prefix]:
            buckets.setdefault(("token", token), []).append(i)
    candidates = {
        (i, j) for members in buckets.values() for x, i in enumerate(members) for j in members[x + 1 :]
    }
    return sorted((i, j) for i, j in candidates if _keys_near(keys[i], keys[j]))


@dataclass(frozen=True)
class _DuplicateKey:
    """What `is_near_duplicate` compares, computed once per distinct section: the pairwise
    checks of a 40-hour outline would otherwise tokenise the same titles thousands of times."""

    piece: tuple[str, int] | None  # (lower-cased base, n) of "X (part n)"
    tokens: frozenset[str]
    title: str  # stripped, lower-cased
    objectives: frozenset[str]


@lru_cache(maxsize=8192)
def _duplicate_key(title: str, objectives: tuple[str, ...]) -> _DuplicateKey:
    piece = parse_piece_title(title)
    return _DuplicateKey(
        piece=(piece[0].lower(), piece[1]) if piece else None,
        tokens=title_tokens(title),
        title=title.strip().lower(),
        objectives=_objective_set(objectives),
    )


def _key(section: SectionPlan) -> _DuplicateKey:
    return _duplicate_key(section.title, tuple(section.objectives))


def _keys_near(a: _DuplicateKey, b: _DuplicateKey) -> bool:
    pa, pb = a.piece, b.piece
    if pa and pb and pa[0] == pb[0] and pa[1] != pb[1]:
        return False
    if a.tokens and b.tokens:
        if len(a.tokens & b.tokens) >= NEAR_DUPLICATE_JACCARD * len(a.tokens | b.tokens):
            return True
    elif a.title == b.title:
        return True
    return bool(a.objectives) and a.objectives == b.objectives


@lru_cache(maxsize=8192)
def _objective_set(objectives: tuple[str, ...]) -> frozenset[str]:
    return frozenset(" ".join(o.lower().split()) for o in objectives)
