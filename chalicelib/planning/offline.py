"""Offline planner: a deterministic outline built from the retrieved chapters, with no model.

Chapters go foundations-first and are cut into parts by relevance and topic overlap; each part
becomes paced sections (two chapters of one book share a section when time is short) whose
objectives come from the chapters' topics and key concepts; `wording` words the titles and
`objectives` the objectives.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..core import checks, fixes, rules
from ..core.models import ChapterHit, CourseRequest, Depth, PartPlan, PlannedPart, SectionPlan
from ..core.pieces import piece_title
from ..errors import PlanningError
from ..ports import Planner
from . import objectives, wording
from .wording import course_title

__all__ = ["OfflinePlanner", "course_title"]

LINK_WEIGHT = 0.5  # how much keeping related chapters together counts against balanced parts
RELEVANCE_FLOOR = 0.5  # chapters less than half as similar as the best one are left out
# What a section made of several chapters costs, against one more (shorter) section in the part.
CROSS_BOOK = 3.0  # per change of book inside a section
CROWDED = 2.0  # per chapter beyond two in a section
EXTRA_SECTION = 1.0  # per section beyond the count the part's minutes suggest
CHAPTER_GAP = 0.1  # per chapter skipped between two chapters of a book sharing a section
STAGE_RELEVANCE = 0.95  # a "Foundations" or "Advanced" part is at most this similar, against the rest


@dataclass(frozen=True)
class _Unit:
    """A chapter, or the slice of its topics one part covers when several parts share it."""

    hit: ChapterHit
    topics: tuple[str, ...]
    concepts: tuple[str, ...]
    formulas: tuple[tuple[str, str], ...]  # (topic or concept, the formula a key concept gives it)
    shares: int

    @functools.cached_property
    def quantitative(self) -> bool:
        return objectives.is_quantitative(self.hit)

    @property
    def relevance(self) -> float:
        return max(self.hit.similarity, 0.05) / self.shares

    @property
    def subjects(self) -> list[str]:
        mixed = [x for pair in itertools.zip_longest(self.topics, self.concepts) for x in pair if x]
        return mixed or [self.hit.chapter_title.strip() or f"chapter {self.hit.chapter_number}"]

    @property
    def names(self) -> list[str]:
        """Short names, the most faithful first (see `wording.name_options`)."""
        if self.shares > 1:
            labels = [wording.title_case(x) for x in self.subjects[:2]]
            return list(dict.fromkeys([wording.join(labels), labels[0]]))
        names = wording.name_options(self.hit.chapter_title, self.hit.topics)
        return [wording.title_case(n) for n in names if n] or [f"Chapter {self.hit.chapter_number}"]

    @property
    def title(self) -> str:
        whole = " ".join(self.hit.chapter_title.split())
        if self.shares == 1:
            return wording.title_case(whole if 0 < len(whole) <= wording.TITLE_LIMIT else self.names[0])
        facets = list(self.topics or self.concepts)[:2] or self.subjects
        return wording.facet_title(_facet_head(self.hit), facets)


@dataclass(frozen=True)
class _Draft:
    title: str
    subjects: tuple[tuple[str, _Unit], ...]  # what the objectives teach, and from which chapter
    order: tuple[int, int, int]


class OfflinePlanner(Planner):
    """Plans from the chapters alone; every outline it makes passes `checks.check_outline`."""

    def plan_parts(self, request: CourseRequest, chapters: list[ChapterHit]) -> tuple[str, list[PartPlan]]:
        hits = _most_relevant(request, _foundations_first(chapters))
        count = _part_count(request.hours, len(hits))
        skeleton = [PartPlan(title="", minutes=0, chapters=[h.ref for h in g]) for g in _group(hits, count)]
        units = [_units(skeleton, k, hits) for k in range(count)]
        pace_lo, _ = rules.section_minutes_range(request.preferences.pace)
        floor = rules.MIN_SECTION_MINUTES if rules.pace_may_relax(request, count) else pace_lo
        weights = [sum(u.relevance for u in part) for part in units]
        minutes = rules.apportion(request.target_minutes, weights, floor, request.target_minutes)
        titles: list[str] = []
        for k, part in enumerate(units):
            titles.append(_part_title(part, _stage(units, k), titles))
        parts = [
            p.model_copy(update={"title": t, "minutes": m})
            for p, t, m in zip(skeleton, titles, minutes, strict=True)
        ]
        return course_title(request.query), parts

    def plan_sections(
        self,
        request: CourseRequest,
        chapters: list[ChapterHit],
        parts: list[PartPlan],
        part_index: int,
        earlier: list[list[SectionPlan]],
    ) -> list[SectionPlan]:
        # Given fewer earlier parts than come before this one (parts planned in parallel see
        # none), plan the missing ones first: each part then comes out the same in both modes.
        earlier = list(earlier)
        while len(earlier) < part_index:
            earlier.append(self.plan_sections(request, chapters, parts, len(earlier), earlier))
        part, pace = parts[part_index], request.preferences.pace
        units = _units(parts, part_index, _foundations_first(chapters))
        if not units:
            raise PlanningError(f"part {part_index + 1} '{part.title}' names no retrieved chapter")
        if part.minutes < rules.MIN_SECTION_MINUTES:
            raise PlanningError(f"part {part_index + 1} '{part.title}' is too short for a section")
        fewest, most = rules.section_count_range(part.minutes, pace)
        lo, hi = rules.section_minutes_range(pace)
        count = min(most, max(fewest, int(part.minutes / ((lo + hi) / 2) + 0.5)))
        blocks = _blocks(units, count, most)
        slot_weights = [sum(u.relevance for u in block) / n for block, n in blocks for _ in range(n)]
        bounds = rules.section_minutes_bounds(part.minutes, pace)
        minutes = iter(rules.apportion(part.minutes, slot_weights, *bounds))
        before = [s for sections in earlier for s in sections]
        writer = _Writer(request, chapters, [o for s in before for o in s.objectives])
        planned: list[SectionPlan] = []
        for block, n in blocks:
            planned += _take(writer, block, [next(minutes) for _ in range(n)], [*before, *planned])
        return planned

    def revise(
        self,
        request: CourseRequest,
        chapters: list[ChapterHit],
        outline: list[PlannedPart],
        failed_checks: list[str],
    ) -> list[PlannedPart]:
        """The deterministic fixes; what a model would judge is left as planned."""
        revised, _ = fixes.apply_fixes(request, chapters, outline)
        return revised


# --- parts --------------------------------------------------------------------------------------


def _foundations_first(chapters: Sequence[ChapterHit]) -> list[ChapterHit]:
    """One hit per chapter in prerequisite order: earlier chapters first, whatever the book (books
    on one subject put their foundations early), each book's chapters in the book's order, the
    more relevant book first among equals; the volumes of a series in their order."""
    best: dict[str, ChapterHit] = {}
    for hit in chapters:
        if hit.ref.key not in best or hit.similarity > best[hit.ref.key].similarity:
            best[hit.ref.key] = hit
    ranks = _book_ranks(list(best.values()))
    volumes = {h.book_id: _volume(h.book_title)[1] or 0 for h in best.values()}
    return sorted(best.values(), key=lambda h: (volumes[h.book_id], h.chapter_number, ranks[h.book_id]))


def _volume(book_title: str) -> tuple[str, int | None]:
    """ "Calculus Volume 2" -> ("calculus", 2); a title without a volume number -> (title, None)."""
    match = re.fullmatch(r"(.*?)[\s,:-]*\b(?:volume|vol\.?|part|book)\s*(\d+)\W*", book_title.strip(), re.I)
    return (match[1].lower(), int(match[2])) if match else (book_title.lower(), None)


def _book_ranks(hits: Sequence[ChapterHit]) -> dict[str, int]:
    """Books by their most relevant chapter, best first."""
    ranks: dict[str, int] = {}
    for hit in sorted(hits, key=lambda h: (-h.similarity, h.book_id)):
        ranks.setdefault(hit.book_id, len(ranks))
    return ranks


def _most_relevant(request: CourseRequest, hits: list[ChapterHit]) -> list[ChapterHit]:
    """The chapters worth teaching from, in course order: those at least half as similar as the
    best, and no more than two per section the course has time for."""
    if not hits:
        raise PlanningError("no retrieved chapters to plan a course from")
    lo, hi = rules.section_minutes_range(request.preferences.pace)
    sections = max(1, int(request.target_minutes / ((lo + hi) / 2) + 0.5))
    best = max(h.similarity for h in hits)
    ranked = sorted(hits, key=lambda h: -h.similarity)
    keep = [h for h in ranked[: 2 * sections] if h.similarity >= RELEVANCE_FLOOR * best] or ranked[:1]
    # A long course covers every retrieved chapter before it gives any chapter a third section.
    keep += ranked[len(keep) : len(keep) + max(0, -(-sections // 2) - len(keep))]
    kept = {h.ref.key for h in keep}
    return [h for h in hits if h.ref.key in kept]


def _part_count(hours: float, chapters: int) -> int:
    lo, hi = rules.part_count_range(hours)
    ideal = 2 if hours < 3 else 3 if hours < 8 else 4 if hours < 16 else 5
    return max(lo, min(hi, ideal, chapters))


def _group(hits: list[ChapterHit], count: int) -> list[list[ChapterHit]]:
    """`count` runs of consecutive chapters; with fewer chapters than parts, neighbouring
    parts share a chapter (and split its topics between them)."""
    if count > len(hits):
        return [[hits[k * len(hits) // count]] for k in range(count)]
    links = [_affinity(a, b) for a, b in itertools.pairwise(hits)]
    return [hits[r.start : r.stop] for r in _split(hits, count, links)]


def _affinity(a: ChapterHit, b: ChapterHit) -> float:
    ta = checks.title_tokens(" ".join([a.chapter_title, *a.topics, *a.key_concepts]))
    tb = checks.title_tokens(" ".join([b.chapter_title, *b.topics, *b.key_concepts]))
    return len(ta & tb) / max(1, len(ta | tb)) + (0.5 if a.book_id == b.book_id else 0.0)


def _split(items: Sequence[ChapterHit], count: int, links: Sequence[float]) -> list[range]:
    """Cut `items` into `count` runs balancing relevance, preferring cuts between weakly
    linked neighbours (dynamic programming over the cut positions)."""
    weights = [max(x.similarity, 0.05) for x in items]
    prefix, n, mean = [0.0, *itertools.accumulate(weights)], len(items), sum(weights) / count
    best: dict[tuple[int, int], tuple[float, int]] = {(0, 0): (0.0, 0)}
    for g in range(1, count + 1):
        for end in range(g, n - (count - g) + 1):
            best[g, end] = min(
                (
                    best[g - 1, start][0]
                    + ((prefix[end] - prefix[start]) / mean - 1) ** 2
                    + (LINK_WEIGHT * links[start - 1] if start else 0.0),
                    start,
                )
                for start in range(g - 1, end)
                if (g - 1, start) in best
            )
    return _runs(best, count, n)


def _runs(best: dict[tuple[int, int], tuple[float, int]], count: int, n: int) -> list[range]:
    cuts, end = [], n
    for g in range(count, 0, -1):
        start = best[g, end][1]
        cuts.append(range(start, end))
        end = start
    return cuts[::-1]


def _units(parts: Sequence[PartPlan], index: int, hits: list[ChapterHit]) -> list[_Unit]:
    """The chapters of part `index`, foundations first; a chapter that several parts share
    gives each of them a consecutive slice of its topics and key concepts."""
    keys = {r.key for r in parts[index].chapters}
    units = []
    for hit in (h for h in hits if h.ref.key in keys):
        owners = [k for k, p in enumerate(parts) if any(r.key == hit.ref.key for r in p.chapters)]
        m, j = len(owners), owners.index(index)
        topics, concepts, formulas = objectives.chapter_subjects(hit)
        sliced = topics[j * len(topics) // m : (j + 1) * len(topics) // m]
        picked = concepts[j * len(concepts) // m : (j + 1) * len(concepts) // m]
        if sliced or picked:
            topics, concepts = sliced, picked
        units.append(_Unit(hit, tuple(topics), tuple(concepts), tuple(formulas.items()), m))
    return units


def _stage(parts: Sequence[Sequence[_Unit]], index: int) -> str:
    """ "Foundations" for a first part whose chapters come well before the rest of the course in
    their books and are not its core (less relevant than the best of the rest); "Advanced" for
    a last part (of three or more) whose chapters come well after the rest and are not its core;
    else nothing: a part is named by its place in the books, not by its place in the course."""
    if len(parts) < 2 or index not in (0, len(parts) - 1):
        return ""
    mine = parts[index]
    rest = [u for k, part in enumerate(parts) if k != index for u in part]
    if index == 0 and _well_before(mine, rest) and _less_relevant(mine, rest):
        return "Foundations"
    if index == len(parts) - 1 and len(parts) > 2 and _well_before(rest, mine) and _less_relevant(mine, rest):
        return "Advanced"
    return ""


def _well_before(early: Sequence[_Unit], late: Sequence[_Unit]) -> bool:
    """Every chapter of `early` comes at least two chapters before every chapter of `late` (by
    number, as the course order compares them), and the two share a book."""
    shared = {u.hit.book_id for u in early} & {u.hit.book_id for u in late}
    pairs = [(a.hit, b.hit) for a in early for b in late]
    return bool(shared) and all(b.chapter_number - a.chapter_number >= 2 for a, b in pairs)


def _less_relevant(units: Sequence[_Unit], others: Sequence[_Unit]) -> bool:
    """Clearly less similar than the best of the others: the course's core is not a stage."""
    return max(u.hit.similarity for u in units) < STAGE_RELEVANCE * max(u.hit.similarity for u in others)


def _part_title(units: list[_Unit], stage: str, taken: Sequence[str]) -> str:
    """A short title from the part's chapters: a lone chapter's title, the span of several
    ("From Value Creation to Enterprise Value") or the two most relevant, with its stage
    ("Foundations:", "Advanced:") in front unless the title says so already."""
    prefix = f"{stage}: " if stage else ""
    top = [u for u in units if u in sorted(units, key=lambda u: -u.relevance)[:2]]
    bodies = [units[0].title] if len(units) == 1 and units[0].shares == 1 else []
    spans = [wording.span_title(units[0].names[0], end) for end in units[-1].names] if len(units) > 2 else []
    pairs = [wording.pair_title(top[0].names, top[1].names, top[1].subjects[0])] if len(top) == 2 else []
    topics = [wording.span_title(units[0].names[0], wording.title_case(t)) for t in units[-1].topics[:1]]
    bodies += spans + pairs + (topics if spans else [])
    bodies += [name for u in top[::-1] for name in u.names]
    used = {t.lower() for t in taken}
    limit = wording.PART_TITLE_LIMIT
    for body in bodies:
        said = bool(prefix) and prefix.rstrip(": ").lower()[:7] in body.lower()  # "Foundations" or "Advanced"
        if len(title := ("" if said else prefix) + body) <= limit and title.lower() not in used:
            return title
    base = wording.clip(prefix + bodies[0], limit - len(piece_title("", 9)))
    later = (piece_title(base, n) for n in itertools.count(2))  # the part that took the title first keeps it
    return next(t for t in itertools.chain([base], later) if t.lower() not in used)


# --- sections -----------------------------------------------------------------------------------


def _blocks(units: list[_Unit], count: int, most: int) -> list[tuple[list[_Unit], int]]:
    """What each section is built from: each chapter spread over several sections by relevance
    when the part has fewer chapters than sections; else single chapters, and pairs of chapters
    of one book where time is short, in course order (one more section may spare a pairing)."""
    if count >= len(units):  # every chapter gets its share before any gets a third section
        spread = rules.apportion(count, [u.relevance for u in units], 1, max(2, -(-count // len(units))))
        return [([u], n) for u, n in zip(units, spread, strict=True)]
    ranks = _book_ranks([u.hit for u in units])
    order = sorted(
        range(len(units)), key=lambda i: (ranks[units[i].hit.book_id], units[i].hit.chapter_number)
    )
    runs = _pairing([units[i] for i in order], count, min(most, len(units)))
    blocks = [sorted(order[r.start : r.stop]) for r in runs]
    return [([units[i] for i in block], 1) for block in sorted(blocks)]


def _pairing(units: list[_Unit], fewest: int, most: int) -> list[range]:
    """Cut `units` (book by book, chapters in order) into fewest..most runs, preferring runs of
    one or two chapters of one book; each section above `fewest` costs EXTRA_SECTION."""

    def cost(start: int, end: int) -> float:
        run = units[start:end]
        pairs = [(a.hit, b.hit) for a, b in itertools.pairwise(run)]
        books = sum(a.book_id != b.book_id for a, b in pairs)
        gaps = sum(max(0, b.chapter_number - a.chapter_number - 1) for a, b in pairs)
        return CROSS_BOOK * books + CROWDED * max(0, len(run) - 2) + CHAPTER_GAP * min(gaps, 5)

    n = len(units)
    best: dict[tuple[int, int], tuple[float, int]] = {(0, 0): (0.0, 0)}
    for g in range(1, most + 1):
        for end in range(g, n + 1):
            options = [(best[g - 1, s][0] + cost(s, end), s) for s in range(g - 1, end) if (g - 1, s) in best]
            best[g, end] = min(options)
    count = min(range(fewest, most + 1), key=lambda g: (best[g, n][0] + EXTRA_SECTION * (g - fewest), g))
    return _runs(best, count, n)


class _Writer:
    """Turns a draft's subjects into objectives; one per `plan_sections` call, seeded with the
    objectives of earlier parts so none repeats across the course."""

    def __init__(self, request: CourseRequest, chapters: Sequence[ChapterHit], earlier: list[str]) -> None:
        self.depth = Depth(request.preferences.depth)
        self.vocabulary = wording.Vocabulary.of(chapters)
        self.objectives = objectives.ObjectiveWriter(earlier)

    def subjects(self, labels: Sequence[tuple[str, _Unit]]) -> list[objectives.Subject]:
        made = []
        for label, unit in labels:
            formula = dict(unit.formulas).get(label, "")
            concept = label not in unit.topics
            made.append(objectives.make_subject(label, concept, formula, unit.quantitative, self.vocabulary))
        return made


def _take(
    writer: _Writer, block: list[_Unit], minutes: list[int], taken: list[SectionPlan]
) -> list[SectionPlan]:
    """The first len(minutes) drafts of the block that duplicate no section planned so far."""
    sources = list({u.hit.ref.key: u.hit.ref for u in block}.values())
    picked: list[tuple[tuple[int, int, int], SectionPlan]] = []
    for draft in _drafts(block, len(minutes)):
        count = max(2, min(6, len(draft.subjects), 1 + min(minutes) // 12))
        levels = rules.objective_levels(writer.depth, count)
        lines = writer.objectives.draft(levels, writer.subjects(draft.subjects))
        section = SectionPlan(title=draft.title, minutes=0, objectives=lines, sources=sources)
        if not any(checks.is_near_duplicate(section, s) for s in [*taken, *(s for _, s in picked)]):
            writer.objectives.commit(lines)
            picked.append((draft.order, section))
            if len(picked) == len(minutes):
                break
    picked.sort(key=lambda pair: pair[0])
    return [s.model_copy(update={"minutes": m}) for (_, s), m in zip(picked, minutes, strict=True)]


def _drafts(block: list[_Unit], n: int) -> Iterator[_Draft]:
    """Candidate sections, best first: the whole block, then its lead chapter's topic groups; only
    when the chapter must fill more sections than it has topics, each topic again from an angle
    that suits the chapter (problems for one that calculates, cases and sources for one that
    does not), then numbered workshops (an endless supply, so planning always ends)."""
    ranked = sorted(block, key=lambda u: -u.relevance)
    lead = ranked[0]
    if n == 1:
        rows = itertools.zip_longest(*([(x, u) for x in u.subjects] for u in ranked))
        mixed: dict[str, tuple[str, _Unit]] = {}
        for x, unit in (p for row in rows for p in row if p):
            mixed.setdefault(x, (x, unit))
        yield _Draft(_block_title(block), tuple(mixed.values()), (0, 0, 0))
    primary = list(lead.topics) if len(lead.topics) >= n else lead.subjects
    rest = [s for s in lead.subjects if s not in primary]
    size = min(n, len(primary))
    groups = [primary[i * len(primary) // size : (i + 1) * len(primary) // size] for i in range(size)]
    extras = [[r for j, r in enumerate(rest) if j * size // len(rest) == i] for i in range(size)]
    group_of = {f: i for i, g in enumerate(groups) for f in g}
    head = _facet_head(lead.hit)
    for i, group in enumerate(groups):
        subjects = tuple((x, lead) for x in (*group, *extras[i]))
        yield _Draft(wording.facet_title(head, group), subjects, (i, 0, 0))
    for a, angle in enumerate(wording.angles(lead.quantitative), 1):
        for f in primary:
            subjects = tuple((x, lead) for x in (f, *extras[group_of[f]]))
            title = wording.clip(f"{wording.title_case(f)}: {angle}", wording.TITLE_LIMIT)
            yield _Draft(title, subjects, (group_of[f], a, 0))
    for r in itertools.count(1):
        for i, f in enumerate(primary):
            title = f"{wording.title_case(_first_words(f, 3))} Workshop {r}"
            yield _Draft(title, ((f, lead), *((x, lead) for x in rest)), (size + r, i, 0))


def _facet_head(hit: ChapterHit) -> str:
    """What a section on part of a chapter is headed by: the chapter's title, or the part before
    its colon, when that is short ("Terminal Value: Gordon Growth Model")."""
    head = hit.chapter_title.split(":", 1)[0].strip()
    head = re.sub(r"^(?:the|an?)\s+(?=\S+\s)", "", head, flags=re.IGNORECASE)
    return head if len(head.split()) <= 4 else ""


def _block_title(block: list[_Unit]) -> str:
    """One chapter by its title; two by `wording.pair_title`; more by their span, or by the two
    most relevant of them when the span is too long."""
    if len(block) == 1:
        return block[0].title
    if len(block) > 2 and len(span := wording.span_title(block[0].names[0], block[-1].names[0])) <= 60:
        return span
    first, second = (u for u in block if u in sorted(block, key=lambda u: -u.relevance)[:2])
    return wording.pair_title(first.names, second.names, next(iter(second.topics), ""))


def _first_words(text: str, n: int) -> str:
    return " ".join(text.split()[:n])
