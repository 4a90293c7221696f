"""The deterministic fixes: what makes an outline keep the planning rules whatever a planner
returned (citations, near-duplicates, part and section counts, minutes that add up, sections
repaired to cite a chapter and to have sound objectives), and the fitting of a model's parts,
sections and revisions (docs/planning.md#the-review). Each returns the new plan and its changes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import PlanningError
from . import rules
from .checks import (
    Outline,
    check_duplicates,
    duplicate_pairs,
    lowest_level,
    section_objective_failures,
    title_tokens,
)
from .models import ChapterHit, CourseRequest, Pace, PartPlan, PlannedPart, SectionPlan
from .pieces import base_title, fit_part_count, merge_sections, renumbered, resize, weight

FIX_ROUNDS = 5  # a bound for pathological outlines; real ones settle in the first round

# Objectives for a section, written from the chapters it cites at the course's depth, repeating
# none of the lines given (those already in the course). The review is handed one.
WriteObjectives = Callable[[SectionPlan, Sequence[ChapterHit], Sequence[str]], list[str]]


def apply_fixes(
    request: CourseRequest, chapters: Sequence[ChapterHit], outline: Outline
) -> tuple[Outline, list[str]]:
    """The reviewer's fixes: drop unknown citations, then merge duplicates and rebalance. A
    merge of short sections inside `rebalance` can make two objective sets equal, so repeat."""
    outline, changes = drop_unknown_citations(chapters, outline)
    for _ in range(FIX_ROUNDS):
        outline, merged = merge_near_duplicates(outline)
        outline, balanced = rebalance(request, outline)
        changes += merged + balanced
        if not check_duplicates(outline):
            break
    return outline, changes


def drop_unknown_citations(chapters: Sequence[ChapterHit], outline: Outline) -> tuple[Outline, list[str]]:
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


def merge_near_duplicates(outline: Outline) -> tuple[Outline, list[str]]:
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


def rebalance(request: CourseRequest, outline: Outline) -> tuple[Outline, list[str]]:
    """The final guarantee: integer minutes, each part's sections summing exactly to the part,
    the total exactly the target, sections within 10-90 and within the pace range unless
    `pace_may_relax`. Merges surplus parts and short sections, splits long ones as needed."""
    pace = Pace(request.preferences.pace)
    changes = [f"dropped empty part '{p.title}'" for p in outline if not p.sections]
    parts = [p for p in outline if p.sections]
    if not parts:
        raise PlanningError("the outline has no sections to rebalance")
    parts = fit_part_count(request, parts, changes)
    rebalanced = []
    for part, minutes in zip(parts, _part_minutes(request, parts), strict=True):
        sections = resize(list(part.sections), *rules.section_count_range(minutes, pace), changes)
        bounds = rules.section_minutes_bounds(minutes, pace)
        shares = rules.apportion(minutes, [max(1, s.minutes) for s in sections], *bounds)
        for s, m in zip(sections, shares, strict=True):
            if m != s.minutes:
                changes.append(f"section '{s.title}': {s.minutes} → {m} min")
        sections = [s.model_copy(update={"minutes": m}) for s, m in zip(sections, shares, strict=True)]
        rebalanced.append(PlannedPart(title=part.title, minutes=minutes, sections=sections))
    return _renumber_sections(rebalanced), changes


# --- repairing sections -------------------------------------------------------------------------


def repair_sections(
    request: CourseRequest, chapters: Sequence[ChapterHit], outline: Outline, write: WriteObjectives
) -> tuple[Outline, list[str]]:
    """Every section made to cite a retrieved chapter (the nearest, when it cites none) and to
    have 2-6 objectives that keep the depth rule (see `repair_objectives`)."""
    outline, cited = cite_nearest_chapters(chapters, outline)
    outline, written = repair_objectives(request, chapters, outline, write)
    return outline, cited + written


def cite_nearest_chapters(chapters: Sequence[ChapterHit], outline: Outline) -> tuple[Outline, list[str]]:
    """A section that cites no retrieved chapter is given the retrieved chapter nearest to it:
    the most words shared between the section's title and objectives and the chapter's title,
    topics and key concepts; the more similar to the query on a tie, then the earlier retrieved.
    Unknown citations are left for `drop_unknown_citations`. Without chapters nothing changes."""
    retrieved = {hit.ref.key for hit in chapters}
    profiles: list[frozenset[str]] = []  # built on the first uncited section only
    changes: list[str] = []
    parts = []
    for part in outline:
        sections = []
        for s in part.sections:
            if chapters and not any(ref.key in retrieved for ref in s.sources):
                profiles = profiles or [_chapter_words(hit) for hit in chapters]
                hit = _nearest(_section_words(s), chapters, profiles)
                changes.append(
                    f"section '{s.title}': cited no retrieved chapter; now cites {hit.ref.key} "
                    f"'{hit.chapter_title}', the nearest by its title and objectives"
                )
                s = s.model_copy(update={"sources": [*s.sources, hit.ref]})
            sections.append(s)
        parts.append(part if sections == part.sections else part.model_copy(update={"sections": sections}))
    return parts, changes


def _section_words(section: SectionPlan) -> frozenset[str]:
    words = set(title_tokens(base_title(section.title)))
    for objective in section.objectives:
        words |= title_tokens(" ".join(objective.split()[1:]))  # not its verb
    return frozenset(words)


def _chapter_words(hit: ChapterHit) -> frozenset[str]:
    words = set(title_tokens(hit.chapter_title))
    for phrase in [*hit.topics, *hit.key_concepts]:
        words |= title_tokens(phrase)
    return frozenset(words)


def _nearest(
    words: frozenset[str], chapters: Sequence[ChapterHit], profiles: list[frozenset[str]]
) -> ChapterHit:
    best = max(range(len(chapters)), key=lambda i: (len(words & profiles[i]), chapters[i].similarity, -i))
    return chapters[best]


def repair_objectives(
    request: CourseRequest, chapters: Sequence[ChapterHit], outline: Outline, write: WriteObjectives
) -> tuple[Outline, list[str]]:
    """Each section whose objectives break a rule gets objectives that keep them all: those
    without an action verb or below the depth are dropped, more than six are cut to six (the
    ones at the depth's levels kept first), and when that is not enough the writer's objectives
    for the section's chapters fill in or replace them. A section the writer cannot help keeps
    its best attempt, for the final check to report."""
    taken = [o for part in outline for s in part.sections for o in s.objectives]
    by_key = {hit.ref.key: hit for hit in chapters}
    changes: list[str] = []
    parts = []
    for part in outline:
        sections = []
        for s in part.sections:
            if section_objective_failures(request, s):
                cited = [by_key[ref.key] for ref in s.sources if ref.key in by_key]
                objectives, how = _repaired(request, s, cited, taken, write)
                taken += objectives
                count = f"{len(s.objectives)} → {len(objectives)}"
                changes.append(f"section '{s.title}': objectives repaired ({count}): {how}")
                s = s.model_copy(update={"objectives": objectives})
            sections.append(s)
        parts.append(part if sections == part.sections else part.model_copy(update={"sections": sections}))
    return parts, changes


def _repaired(
    request: CourseRequest,
    section: SectionPlan,
    cited: Sequence[ChapterHit],
    taken: Sequence[str],
    write: WriteObjectives,
) -> tuple[list[str], str]:
    """The section's repaired objectives, and how they were made."""
    usable, notes = _usable_objectives(request, section)

    def passes(objectives: list[str]) -> bool:
        return not section_objective_failures(request, section.model_copy(update={"objectives": objectives}))

    if passes(usable):
        return usable, "; ".join(notes)
    try:
        written = write(section, cited, [*taken, *usable])
    except PlanningError:
        written = []
    seen = {_normal(o) for o in usable}
    fresh = [o for o in written if _normal(o) not in seen]
    for n in range(1, rules.MAX_OBJECTIVES - len(usable) + 1):
        if n <= len(fresh) and passes(topped := [*usable, *fresh[:n]]):
            return topped, "; ".join([*notes, f"added {n} written from its chapters"])
    replaced = _unique(written)[: rules.MAX_OBJECTIVES]
    if len(replaced) >= rules.MIN_OBJECTIVES:
        return replaced, "; ".join([*notes, f"replaced by {len(replaced)} written from its chapters"])
    return usable, "; ".join([*notes, "no objectives could be written from its chapters"])


def _usable_objectives(request: CourseRequest, section: SectionPlan) -> tuple[list[str], list[str]]:
    """The section's own objectives that can stay (no repeats, an action verb, at the depth, six
    at most), and what was dropped."""
    depth = request.preferences.depth
    floor, usable, notes = lowest_level(depth), _unique(section.objectives), []
    if repeated := len(section.objectives) - len(usable):
        notes.append(f"dropped {repeated} repeated")
    verbless = [o for o in usable if rules.verb_level(o) is None]
    if verbless:
        notes.append(f"dropped {len(verbless)} without an action verb")
    usable = [o for o in usable if o not in verbless]
    low = [o for o in usable if (level := rules.verb_level(o)) and rules.BLOOM_LEVELS.index(level) < floor]
    if low:
        notes.append(f"dropped {len(low)} below the '{depth.value}' level")
    usable = [o for o in usable if o not in low]
    if len(usable) > rules.MAX_OBJECTIVES:
        notes.append(f"kept {rules.MAX_OBJECTIVES} of {len(usable)}")
        usable = _six_at_depth(request, usable)
    return usable, notes


def _six_at_depth(request: CourseRequest, objectives: list[str]) -> list[str]:
    """Six of the objectives, those at the depth's levels first, in their order."""
    targets = rules.depth_levels(request.preferences.depth)
    ranked = sorted(range(len(objectives)), key=lambda i: (rules.verb_level(objectives[i]) not in targets, i))
    return [objectives[i] for i in sorted(ranked[: rules.MAX_OBJECTIVES])]


def _normal(objective: str) -> str:
    return " ".join(objective.lower().split())


def _unique(objectives: Sequence[str]) -> list[str]:
    """The objectives without repeats (case and spacing aside), in their order."""
    seen: set[str] = set()
    out = []
    for objective in objectives:
        if (key := _normal(objective)) not in seen:
            seen.add(key)
            out.append(objective)
    return out


# --- fitting a model's answers ------------------------------------------------------------------


def fit_parts(request: CourseRequest, parts: list[PartPlan]) -> tuple[list[PartPlan], list[str]]:
    """The part count brought into range (the smallest part merged into a neighbour, or the
    largest split), then minutes apportioned to add up exactly to the target."""
    if not parts:
        raise PlanningError("the model planned no parts")
    changes: list[str] = []
    parts = fit_part_count(request, parts, changes)
    minutes = _part_minutes(request, parts)
    total, target = sum(p.minutes for p in parts), request.target_minutes
    if total != target:
        changes.append(f"part minutes {total} → {target} (the target)")
    return [p.model_copy(update={"minutes": m}) for p, m in zip(parts, minutes, strict=True)], changes


def fit_sections(
    request: CourseRequest, part: PartPlan, sections: list[SectionPlan]
) -> tuple[list[SectionPlan], list[str]]:
    """Section minutes apportioned to add up to the part's minutes, when the count allows it;
    otherwise left for the reviewer, whose rebalance merges or splits sections."""
    lo, hi = rules.section_minutes_bounds(part.minutes, request.preferences.pace)
    total = sum(s.minutes for s in sections)
    if total == part.minutes and all(lo <= s.minutes <= hi for s in sections):
        return sections, []
    if not len(sections) * lo <= part.minutes <= len(sections) * hi:
        return sections, []
    shares = rules.apportion(part.minutes, [max(1, s.minutes) for s in sections], lo, hi)
    change = f"section minutes {total} → {part.minutes} (the part's minutes)"
    return [s.model_copy(update={"minutes": m}) for s, m in zip(sections, shares, strict=True)], [change]


def fit_outline(request: CourseRequest, outline: Outline) -> tuple[Outline, list[str]]:
    """A revision made sound where arithmetic can: near-duplicates merged, the part count
    brought into range, and each part's minutes the sum of its sections (the reviewer's
    `rebalance` then fits the minutes to the target)."""
    outline, changes = merge_near_duplicates(outline)
    outline = fit_part_count(request, outline, changes)
    summed = [p.model_copy(update={"minutes": sum(s.minutes for s in p.sections)}) for p in outline]
    return summed, changes


# --- parts and sections ---------------------------------------------------------------------------


def _part_minutes(request: CourseRequest, parts: Sequence[PartPlan | PlannedPart]) -> list[int]:
    """The target shared out by the parts' weights, no part shorter than a section may be."""
    pace_lo, _ = rules.section_minutes_range(request.preferences.pace)
    floor = rules.MIN_SECTION_MINUTES if rules.pace_may_relax(request, len(parts)) else pace_lo
    target = request.target_minutes
    return rules.apportion(target, [weight(p) for p in parts], floor, target)


def _renumber_sections(outline: Outline) -> Outline:
    titles = iter(renumbered([s.title for part in outline for s in part.sections]))
    retitled = []
    for part in outline:
        sections = [s if s.title == (t := next(titles)) else s.model_copy(update={"title": t})
                    for s in part.sections]  # fmt: skip
        retitled.append(part.model_copy(update={"sections": sections}))
    return retitled


_Position = tuple[int, int]  # (part index, section index)


def _first_duplicate_pair(sections: list[list[SectionPlan]]) -> tuple[_Position, _Position] | None:
    flat = [(p, i) for p, part in enumerate(sections) for i in range(len(part))]
    pairs = duplicate_pairs([sections[p][i] for p, i in flat])
    return (flat[pairs[0][0]], flat[pairs[0][1]]) if pairs else None
