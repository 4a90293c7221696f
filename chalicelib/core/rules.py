"""The planning rules (docs/planning.md#the-rules): what a good outline is, the checks, and the fixes.

One source of truth for the offline planner, the reviewer and the LLM planner's prompts.
Checks return readable failure strings; fixes return the new outline plus what they changed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.core.models import (
    ChapterHit,
    ChapterRef,
    CourseRequest,
    Depth,
    Pace,
    PlannedPart,
    SectionPlan,
)
from chalicelib.errors import PlanningError

MIN_SECTION_MINUTES = 10
MAX_SECTION_MINUTES = 90
MIN_OBJECTIVES = 2
MAX_OBJECTIVES = 6
BUDGET_TOLERANCE = 0.05
NEAR_DUPLICATE_JACCARD = 0.8
FIX_ROUNDS = 5  # a bound for pathological outlines; real ones settle in the first round

PACE_MINUTES: dict[Pace, tuple[int, int]] = {
    Pace.QUICK: (10, 20),
    Pace.MODERATE: (15, 35),
    Pace.THOROUGH: (25, 60),
}

BLOOM_LEVELS = ("remember", "understand", "apply", "analyze", "evaluate", "create")
# Each verb belongs to exactly one level so an objective's level can be read off its first word.
BLOOM_VERBS: dict[str, list[str]] = {
    "remember": ["define", "list", "recall", "identify", "name", "state", "recognize", "recognise", "label"],
    "understand": ["explain", "describe", "summarize", "summarise", "interpret", "classify", "discuss",
                   "illustrate", "outline", "paraphrase"],
    "apply": ["apply", "use", "demonstrate", "solve", "calculate", "compute", "implement", "execute",
              "estimate", "perform", "practice", "practise"],
    "analyze": ["analyze", "analyse", "compare", "contrast", "examine", "differentiate", "distinguish",
                "investigate", "diagnose", "deconstruct", "organize", "organise"],
    "evaluate": ["evaluate", "assess", "critique", "justify", "judge", "defend", "appraise", "argue",
                 "recommend", "prioritize", "prioritise", "validate"],
    "create": ["design", "create", "build", "develop", "construct", "formulate", "propose", "compose",
               "plan", "devise", "synthesize", "synthesise", "produce", "invent"],
}  # fmt: skip
_VERB_LEVEL = {verb: level for level, verbs in BLOOM_VERBS.items() for verb in verbs}

# What "mostly" means per depth: at least half of a section's objectives sit at these levels.
DEPTH_LEVELS: dict[Depth, tuple[str, ...]] = {
    Depth.OVERVIEW: ("remember", "understand"),
    Depth.BALANCED: ("apply",),
    Depth.TECHNICAL: ("apply", "analyze"),
    Depth.EXPERT: ("analyze", "evaluate", "create"),
}
# The mix a planner aims for, cycled: balanced is apply with some understand.
_OBJECTIVE_MIX: dict[Depth, tuple[str, ...]] = {
    Depth.OVERVIEW: ("understand", "remember"),
    Depth.BALANCED: ("apply", "understand", "apply"),
    Depth.TECHNICAL: ("apply", "analyze"),
    Depth.EXPERT: ("evaluate", "analyze", "create"),
}

_STOPWORDS = frozenset(
    ["a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to", "with"]
)
_CONTINUATION = re.compile(r"^(?P<base>.*\S)\s+\(part (?P<n>\d+)\)$", re.IGNORECASE)

Sections = list[PlannedPart]  # an outline in the making: parts with their sections


# --- the rules as numbers ---------------------------------------------------------------------


def part_count_range(hours: float) -> tuple[int, int]:
    """Under 2 h one part; 2-4 h two or three; longer three to five."""
    if hours < 2:
        return 1, 1
    return (2, 3) if hours <= 4 else (3, 5)


def section_minutes_range(pace: Pace) -> tuple[int, int]:
    return PACE_MINUTES[Pace(pace)]


def depth_levels(depth: Depth) -> tuple[str, ...]:
    return DEPTH_LEVELS[Depth(depth)]


def objective_levels(depth: Depth, count: int) -> list[str]:
    """The Bloom level of each of `count` objectives a planner should write for `depth`."""
    mix = _OBJECTIVE_MIX[Depth(depth)]
    return [mix[i % len(mix)] for i in range(count)]


def verb_level(objective: str) -> str | None:
    """The Bloom level of the objective's first word, or None if it is not an action verb."""
    words = objective.split()
    return _VERB_LEVEL.get(words[0].strip(".,:;").lower()) if words else None


def is_within_budget(total: int, target: int) -> bool:
    return abs(total - target) <= BUDGET_TOLERANCE * target


def pace_fits(part_minutes: int, pace: Pace) -> bool:
    """Whether a part this long can be cut into sections that all lie in the pace range."""
    lo, hi = section_minutes_range(pace)
    return part_minutes > 0 and math.ceil(part_minutes / hi) <= part_minutes // lo


def section_count_range(part_minutes: int, pace: Pace) -> tuple[int, int]:
    """How many sections a part may have: paced when it fits, else the fewest that fit 10-90."""
    lo, hi = section_minutes_range(pace)
    if pace_fits(part_minutes, pace):
        return math.ceil(part_minutes / hi), part_minutes // lo
    fewest = max(1, math.ceil(part_minutes / MAX_SECTION_MINUTES))
    return fewest, fewest


def section_minutes_bounds(part_minutes: int, pace: Pace) -> tuple[int, int]:
    if pace_fits(part_minutes, pace):
        return section_minutes_range(pace)
    return MIN_SECTION_MINUTES, MAX_SECTION_MINUTES


def pace_may_relax(request: CourseRequest, part_count: int) -> bool:
    """The one case where arithmetic forces a section outside the pace range: the course is too
    short to give every part a full paced section (target < parts x pace minimum). A part that
    is then shorter than the pace minimum must be a single section (still within 10-90 min)."""
    lo, _ = section_minutes_range(request.preferences.pace)
    return request.target_minutes < part_count * lo


def apportion(total: int, weights: Sequence[float], lo: int, hi: int) -> list[int]:
    """Integers in [lo, hi] summing exactly to `total`, as proportional to `weights` as bounds allow."""
    n = len(weights)
    if n == 0 or not n * lo <= total <= n * hi:
        raise ValueError(f"cannot split {total} into {n} shares of {lo}..{hi}")
    w = [max(float(x), 1e-6) for x in weights]
    if all(float(x).is_integer() and lo <= x <= hi for x in weights) and sum(weights) == total:
        return [int(x) for x in weights]

    def spread(scale: float) -> list[float]:
        return [min(hi, max(lo, scale * x)) for x in w]

    low, high = 0.0, hi / min(w) + 1.0  # at `high` every share is clamped to hi
    for _ in range(60):  # ample for float precision
        mid = (low + high) / 2
        low, high = (mid, high) if sum(spread(mid)) < total else (low, mid)
    ideal = spread(high)
    shares = [min(hi, max(lo, math.floor(v))) for v in ideal]
    # Settle the rounding one minute at a time, where it moves a share towards its ideal most.
    while (diff := total - sum(shares)) != 0:
        step = 1 if diff > 0 else -1
        movable = [i for i in range(n) if lo <= shares[i] + step <= hi]
        i = max(movable, key=lambda k: (step * (ideal[k] - shares[k]), -k))
        shares[i] += step
    return shares


# --- checks -------------------------------------------------------------------------------------


def _sections(outline: Sections) -> list[SectionPlan]:
    return [s for part in outline for s in part.sections]


def check_budget(request: CourseRequest, outline: Sections) -> list[str]:
    total, target = sum(s.minutes for s in _sections(outline)), request.target_minutes
    if not _sections(outline):
        return ["outline: no sections at all"]
    ok = is_within_budget(total, target)
    return [] if ok else [f"budget: {total} min vs target {target} (±{BUDGET_TOLERANCE:.0%})"]


def check_part_count(request: CourseRequest, outline: Sections) -> list[str]:
    lo, hi = part_count_range(request.hours)
    if lo <= len(outline) <= hi:
        return []
    expected = str(lo) if lo == hi else f"{lo}-{hi}"
    return [f"parts: {len(outline)} for {request.hours:g} h, expected {expected}"]


def check_part_sums(outline: Sections) -> list[str]:
    failures = []
    for k, part in enumerate(outline, 1):
        total = sum(s.minutes for s in part.sections)
        if not part.sections:
            failures.append(f"part {k} '{part.title}': has no sections")
        elif total != part.minutes:
            failures.append(f"part {k} '{part.title}': sections sum to {total} min, part says {part.minutes}")
    return failures


def check_section_minutes(request: CourseRequest, outline: Sections) -> list[str]:
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


def check_objectives(request: CourseRequest, outline: Sections) -> list[str]:
    depth = Depth(request.preferences.depth)
    targets = depth_levels(depth)
    floor = BLOOM_LEVELS.index(targets[0]) - 1  # one level below the depth's range is tolerated
    failures = []
    for s in _sections(outline):
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


def check_citations(chapters: Sequence[ChapterHit], outline: Sections) -> list[str]:
    retrieved = {hit.ref.key for hit in chapters}
    failures = [
        f"section '{s.title}': cites chapter {ref.key} which was not retrieved"
        for s in _sections(outline)
        for ref in s.sources
        if ref.key not in retrieved
    ]
    if _sections(outline) and not any(ref.key in retrieved for s in _sections(outline) for ref in s.sources):
        failures.append("grounding: no section cites a retrieved chapter")
    return failures


def check_duplicates(outline: Sections) -> list[str]:
    sections = _sections(outline)
    return [
        f"sections '{sections[i].title}' and '{sections[j].title}' are near-duplicates"
        for i, j in _duplicate_pairs([_key(s) for s in sections])
    ]


def _duplicate_pairs(keys: list[_DuplicateKey]) -> list[tuple[int, int]]:
    """Every (i, j), i < j, whose keys are near, in order. Only pairs that could be near are
    compared: the same title, the same objectives, or title tokens sharing one of the first
    tokens of each (a prefix filter: two sets with Jaccard ≥ t share a token among the
    |s| - ceil(t·|s|) + 1 rarest of each), so a 40-hour outline is not compared all-pairs."""
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


def check_outline(request: CourseRequest, chapters: Sequence[ChapterHit], outline: Sections) -> list[str]:
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


def _continuation(title: str) -> tuple[str, int] | None:
    """("X", 2) for "X (part 2)": a piece of a section that `rebalance` split."""
    match = _CONTINUATION.match(title.strip())
    return (match["base"], int(match["n"])) if match else None


def is_near_duplicate(a: SectionPlan, b: SectionPlan) -> bool:
    """Title-token Jaccard ≥ 0.8 or identical objective sets. The pieces of one section split by
    `rebalance` ("X (part 1)", "X (part 2)") are a continuation, not duplicates."""
    return _keys_near(_key(a), _key(b))


@dataclass(frozen=True)
class _DuplicateKey:
    """What `is_near_duplicate` compares, computed once per distinct section: the pairwise
    checks of a 40-hour outline would otherwise tokenise the same titles thousands of times."""

    continuation: tuple[str, int] | None  # (lower-cased base, n) of "X (part n)"
    tokens: frozenset[str]
    title: str  # stripped, lower-cased
    objectives: frozenset[str]


@lru_cache(maxsize=8192)
def _duplicate_key(title: str, objectives: tuple[str, ...]) -> _DuplicateKey:
    continuation = _continuation(title)
    return _DuplicateKey(
        continuation=(continuation[0].lower(), continuation[1]) if continuation else None,
        tokens=title_tokens(title),
        title=title.strip().lower(),
        objectives=_objective_set(objectives),
    )


def _key(section: SectionPlan) -> _DuplicateKey:
    return _duplicate_key(section.title, tuple(section.objectives))


def _keys_near(a: _DuplicateKey, b: _DuplicateKey) -> bool:
    ca, cb = a.continuation, b.continuation
    if ca and cb and ca[0] == cb[0] and ca[1] != cb[1]:
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


# --- fixes --------------------------------------------------------------------------------------


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


def merge_sections(keep: SectionPlan, other: SectionPlan) -> SectionPlan:
    """`keep` absorbs `other`: its minutes, objectives (up to six) and sources."""
    return keep.model_copy(
        update={
            "minutes": keep.minutes + other.minutes,
            "objectives": _union(keep.objectives, other.objectives, MAX_OBJECTIVES),
            "sources": _union_refs(keep.sources, other.sources),
        }
    )


def drop_unknown_citations(chapters: Sequence[ChapterHit], outline: Sections) -> tuple[Sections, list[str]]:
    """Remove citations to chapters that were not retrieved; never invents a replacement."""
    retrieved = {hit.ref.key for hit in chapters}
    changes: list[str] = []
    parts = []
    for part in outline:
        sections = []
        for s in part.sections:
            kept = [r for r in s.sources if r.key in retrieved]
            changes += [f"section '{s.title}': dropped citation {r.key} (not retrieved)"
                        for r in s.sources if r.key not in retrieved]  # fmt: skip
            sections.append(s if len(kept) == len(s.sources) else s.model_copy(update={"sources": kept}))
        parts.append(part.model_copy(update={"sections": sections}))
    return parts, changes


def merge_near_duplicates(outline: Sections) -> tuple[Sections, list[str]]:
    """Merge each later near-duplicate into the first; part minutes follow the moved minutes."""
    sections = [list(part.sections) for part in outline]
    minutes = [part.minutes for part in outline]
    changes: list[str] = []
    while pair := _first_duplicate_pair(sections):
        (pa, sa), (pb, sb) = pair
        keep, gone = sections[pa][sa], sections[pb].pop(sb)
        sections[pa][sa] = merge_sections(keep, gone)
        minutes[pa] += gone.minutes
        minutes[pb] -= gone.minutes
        changes.append(f"merged section '{gone.title}' into its near-duplicate '{keep.title}'")
    merged = []
    for part, kept, total in zip(outline, sections, minutes, strict=True):
        if kept:
            merged.append(PlannedPart(title=part.title, minutes=total, sections=kept))
        elif part.sections:
            changes.append(f"dropped part '{part.title}': all its sections were merged")
    return merged, changes


_Position = tuple[int, int]  # (part index, section index)


def _first_duplicate_pair(sections: list[list[SectionPlan]]) -> tuple[_Position, _Position] | None:
    flat = [(p, i) for p, part in enumerate(sections) for i in range(len(part))]
    pairs = _duplicate_pairs([_key(sections[p][i]) for p, i in flat])
    return (flat[pairs[0][0]], flat[pairs[0][1]]) if pairs else None


def rebalance(request: CourseRequest, outline: Sections) -> tuple[Sections, list[str]]:
    """The final guarantee: integer minutes, each part's sections summing exactly to the part,
    the total exactly the target, sections within 10-90 and within the pace range unless
    `pace_may_relax`. Merges surplus parts and short sections, splits long ones as needed."""
    target, pace = request.target_minutes, Pace(request.preferences.pace)
    changes = [f"dropped empty part '{p.title}'" for p in outline if not p.sections]
    parts = [p for p in outline if p.sections]
    if not parts:
        raise PlanningError("the outline has no sections to rebalance")
    fewest, most = part_count_range(request.hours)
    most = min(most, target // MIN_SECTION_MINUTES)
    while len(parts) > most:
        parts = _merge_smallest_part(parts, changes)
    while len(parts) < min(fewest, most):  # a revision that merged parts away
        parts = _split_largest_part(parts, changes)
    pace_lo, _ = section_minutes_range(pace)
    floor = MIN_SECTION_MINUTES if pace_may_relax(request, len(parts)) else pace_lo
    budgets = apportion(target, [_weight(p.sections) for p in parts], floor, target)
    rebalanced = []
    for part, minutes in zip(parts, budgets, strict=True):
        sections = _resize(list(part.sections), *section_count_range(minutes, pace), changes)
        bounds = section_minutes_bounds(minutes, pace)
        shares = apportion(minutes, [max(1, s.minutes) for s in sections], *bounds)
        for s, m in zip(sections, shares, strict=True):
            if m != s.minutes:
                changes.append(f"section '{s.title}': {s.minutes} → {m} min")
        sections = [s.model_copy(update={"minutes": m}) for s, m in zip(sections, shares, strict=True)]
        rebalanced.append(PlannedPart(title=part.title, minutes=minutes, sections=sections))
    return _renumber_continuations(rebalanced), changes


def _weight(sections: Sequence[SectionPlan]) -> int:
    return sum(max(1, s.minutes) for s in sections)


def _merge_smallest_part(parts: list[PlannedPart], changes: list[str]) -> list[PlannedPart]:
    k = min(range(len(parts)), key=lambda i: (_weight(parts[i].sections), i))
    j = k - 1 if k > 0 else 1  # into the previous part; the first part merges forward
    first, second = sorted((j, k))
    keep = parts[j]
    merged = PlannedPart(
        title=keep.title,
        minutes=parts[first].minutes + parts[second].minutes,
        sections=[*parts[first].sections, *parts[second].sections],
    )
    changes.append(f"merged part '{parts[k].title}' into '{keep.title}' (too many parts)")
    return [*parts[:first], merged, *parts[second + 1 :]]


def _split_largest_part(parts: list[PlannedPart], changes: list[str]) -> list[PlannedPart]:
    """Split the part with the most minutes in two, between its sections (a part of one
    section has that section split in two first)."""
    k = max(range(len(parts)), key=lambda i: (_weight(parts[i].sections), -i))
    part = parts[k]
    sections = list(part.sections)
    if len(sections) < 2:
        sections = _resize(sections, 2, 2, changes)
    half, total, cut = _weight(sections) / 2, 0, 1
    for i, section in enumerate(sections[:-1], start=1):
        total += max(1, section.minutes)
        cut = i
        if total >= half:
            break
    first, second = sections[:cut], sections[cut:]
    changes.append(f"split part '{part.title}' in two (too few parts)")
    halves = [
        PlannedPart(title=part.title, minutes=_weight(first), sections=first),
        PlannedPart(title=f"{part.title}, continued", minutes=_weight(second), sections=second),
    ]
    return [*parts[:k], *halves, *parts[k + 1 :]]


def _resize(sections: list[SectionPlan], fewest: int, most: int, changes: list[str]) -> list[SectionPlan]:
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
        title = (cont[0] if (cont := _continuation(s.title)) else s.title).strip() or "Untitled section"
        changes.append(f"split long section '{s.title}' in two")
        halves = [
            s.model_copy(update={"title": f"{title} (part 1)", "minutes": minutes // 2}),
            s.model_copy(update={"title": f"{title} (part 2)", "minutes": minutes - minutes // 2}),
        ]
        sections[i : i + 1] = halves
    return sections


def _renumber_continuations(outline: Sections) -> Sections:
    """Number the pieces of each split section 1..n in order (a lone piece loses its marker),
    so repeated splits never leave two pieces with the same number."""
    pieces: dict[str, list[tuple[int, int, str]]] = {}
    for p, part in enumerate(outline):
        for i, s in enumerate(part.sections):
            if cont := _continuation(s.title):
                pieces.setdefault(cont[0].lower(), []).append((p, i, cont[0]))
    sections = [list(part.sections) for part in outline]
    for positions in pieces.values():
        for n, (p, i, base) in enumerate(positions, 1):
            title = base if len(positions) == 1 else f"{base} (part {n})"
            sections[p][i] = sections[p][i].model_copy(update={"title": title})
    return [part.model_copy(update={"sections": s}) for part, s in zip(outline, sections, strict=True)]


def apply_fixes(
    request: CourseRequest, chapters: Sequence[ChapterHit], outline: Sections
) -> tuple[Sections, list[str]]:
    """The deterministic fixes: drop unknown citations, then merge duplicates and rebalance. A
    merge of short sections inside `rebalance` can make two objective sets equal, so repeat."""
    outline, changes = drop_unknown_citations(chapters, outline)
    for _ in range(FIX_ROUNDS):
        outline, merged = merge_near_duplicates(outline)
        outline, balanced = rebalance(request, outline)
        changes += merged + balanced
        if not check_duplicates(outline):
            break
    return outline, changes
