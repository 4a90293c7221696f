"""The planning rules (docs/planning.md#the-rules) as numbers: the budget, part and section
ranges, objective counts and Bloom levels. One source of truth for the planners' prompts,
`checks` (what a good outline is) and `fixes` (how an outline is made good)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .models import CourseRequest, Depth, Pace

MIN_SECTION_MINUTES = 10
MAX_SECTION_MINUTES = 90
MIN_OBJECTIVES = 2
MAX_OBJECTIVES = 6
BUDGET_TOLERANCE = 0.05
NEAR_DUPLICATE_JACCARD = 0.8

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
