"""Offline planner: a deterministic outline built from the retrieved chapters, with no model.

Chapters go foundations-first and are cut into parts by relevance and topic overlap; each part
becomes paced sections whose objectives come from the chapters' topics and key concepts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from chalicelib.core import rules
from chalicelib.core.models import ChapterHit, CourseRequest, Depth, PartPlan, PlannedPart, SectionPlan
from chalicelib.errors import PlanningError
from chalicelib.ports import Planner

LINK_WEIGHT = 0.5  # how much keeping related chapters together counts against balanced parts
RELEVANCE_FLOOR = 0.5  # chapters less than half as similar as the best one are left out


@dataclass(frozen=True)
class _Unit:
    """A chapter, or the slice of its topics one part covers when several parts share it."""

    hit: ChapterHit
    topics: tuple[str, ...]
    concepts: tuple[str, ...]
    shares: int

    @property
    def relevance(self) -> float:
        return max(self.hit.similarity, 0.05) / self.shares

    @property
    def subjects(self) -> list[str]:
        mixed = [x for pair in itertools.zip_longest(self.topics, self.concepts) for x in pair if x]
        return mixed or [self.hit.chapter_title.strip() or f"chapter {self.hit.chapter_number}"]

    @property
    def title(self) -> str:
        if self.shares == 1:
            return self.hit.chapter_title
        return _facet_title(self.hit.chapter_title, list(self.topics or self.concepts)[:2] or self.subjects)


@dataclass(frozen=True)
class _Draft:
    title: str
    subjects: tuple[str, ...]
    phrase: str
    order: tuple[int, int, int]


class OfflinePlanner(Planner):
    """Plans from the chapters alone; every outline it makes passes `rules.check_outline`."""

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
            title = _part_title(part, k, count)
            while title in titles:
                title += " (continued)"
            titles.append(title)
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
        part, pace = parts[part_index], request.preferences.pace
        units = _units(parts, part_index, _foundations_first(chapters))
        if not units:
            raise PlanningError(f"part {part_index + 1} '{part.title}' names no retrieved chapter")
        if part.minutes < rules.MIN_SECTION_MINUTES:
            raise PlanningError(f"part {part_index + 1} '{part.title}' is too short for a section")
        fewest, most = rules.section_count_range(part.minutes, pace)
        lo, hi = rules.section_minutes_range(pace)
        count = min(most, max(fewest, int(part.minutes / ((lo + hi) / 2) + 0.5)))
        blocks = _blocks(units, count)
        slot_weights = [sum(u.relevance for u in block) / n for block, n in blocks for _ in range(n)]
        bounds = rules.section_minutes_bounds(part.minutes, pace)
        minutes = iter(rules.apportion(part.minutes, slot_weights, *bounds))
        before = [s for sections in earlier for s in sections]
        planned: list[SectionPlan] = []
        for block, n in blocks:
            planned += _take(request, block, [next(minutes) for _ in range(n)], [*before, *planned])
        return planned

    def revise(
        self,
        request: CourseRequest,
        chapters: list[ChapterHit],
        outline: list[PlannedPart],
        failed_checks: list[str],
    ) -> list[PlannedPart]:
        """The deterministic fixes; what a model would judge is left as planned."""
        revised, _ = rules.apply_fixes(request, chapters, outline)
        return revised


# --- parts --------------------------------------------------------------------------------------


def _foundations_first(chapters: Sequence[ChapterHit]) -> list[ChapterHit]:
    """One hit per chapter, earlier chapters first (they are the foundations, whatever the
    book); the more relevant book first among chapters with the same number."""
    best: dict[str, ChapterHit] = {}
    for hit in chapters:
        if hit.ref.key not in best or hit.similarity > best[hit.ref.key].similarity:
            best[hit.ref.key] = hit
    top: dict[str, int] = {}
    for hit in sorted(best.values(), key=lambda h: (-h.similarity, h.book_id)):
        top.setdefault(hit.book_id, len(top))
    return sorted(best.values(), key=lambda h: (h.chapter_number, top[h.book_id]))


def _most_relevant(request: CourseRequest, hits: list[ChapterHit]) -> list[ChapterHit]:
    """The chapters worth teaching from, in course order: those at least half as similar as the
    best, and no more than two per section the course has time for."""
    if not hits:
        raise PlanningError("no retrieved chapters to plan a course from")
    lo, hi = rules.section_minutes_range(request.preferences.pace)
    room = 2 * max(1, int(request.target_minutes / ((lo + hi) / 2) + 0.5))
    best = max(h.similarity for h in hits)
    ranked = sorted(hits, key=lambda h: -h.similarity)
    keep = {h.ref.key for h in ranked[:room] if h.similarity >= RELEVANCE_FLOOR * best} or {ranked[0].ref.key}
    return [h for h in hits if h.ref.key in keep]


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
    ta = rules.title_tokens(" ".join([a.chapter_title, *a.topics, *a.key_concepts]))
    tb = rules.title_tokens(" ".join([b.chapter_title, *b.topics, *b.key_concepts]))
    return len(ta & tb) / max(1, len(ta | tb)) + (0.5 if a.book_id == b.book_id else 0.0)


def _split(items: Sequence[ChapterHit | _Unit], count: int, links: Sequence[float]) -> list[range]:
    """Cut `items` into `count` runs balancing relevance, preferring cuts between weakly
    linked neighbours (dynamic programming over the cut positions)."""
    weights = [max(x.similarity, 0.05) if isinstance(x, ChapterHit) else x.relevance for x in items]
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
        topics, concepts = _dedupe(hit.topics), _dedupe(map(_concept_label, hit.key_concepts), hit.topics)
        sliced = topics[j * len(topics) // m : (j + 1) * len(topics) // m]
        picked = concepts[j * len(concepts) // m : (j + 1) * len(concepts) // m]
        if sliced or picked:
            topics, concepts = sliced, picked
        units.append(_Unit(hit, tuple(topics), tuple(concepts), m))
    return units


def _part_title(units: list[_Unit], index: int, count: int) -> str:
    """The leading topics of the part's most relevant chapters, in course order."""
    ranked = sorted(units, key=lambda u: -u.relevance)[:3]
    labels = list(dict.fromkeys(u.subjects[0] for u in units if u in ranked))
    if len(labels) == 1 and len(units[0].subjects) > 1:
        labels.append(units[0].subjects[1])
    title = _sentence_case(_join(labels))
    if count > 1 and index == 0:
        return f"Foundations: {title}"
    return f"Advanced: {title}" if count > 2 and index == count - 1 else title


# --- sections -----------------------------------------------------------------------------------


def _blocks(units: list[_Unit], count: int) -> list[tuple[list[_Unit], int]]:
    """What each section is built from: runs of whole chapters when the part has at least as
    many chapters as sections, else each chapter spread over several sections by relevance."""
    if count <= len(units):
        links = [_affinity(a.hit, b.hit) for a, b in itertools.pairwise(units)]
        return [(units[r.start : r.stop], 1) for r in _split(units, count, links)]
    spread = rules.apportion(count, [u.relevance for u in units], 1, count)
    return [([u], n) for u, n in zip(units, spread, strict=True)]


def _take(
    request: CourseRequest, block: list[_Unit], minutes: list[int], taken: list[SectionPlan]
) -> list[SectionPlan]:
    """The first len(minutes) drafts of the block that duplicate no section planned so far."""
    sources = list({u.hit.ref.key: u.hit.ref for u in block}.values())
    depth, subject = Depth(request.preferences.depth), _course_subject(request.query)
    picked: list[tuple[tuple[int, int, int], SectionPlan]] = []
    for draft in _drafts(block, len(minutes)):
        count = max(2, min(6, len(draft.subjects), 1 + min(minutes) // 12))
        lines = _objectives(depth, list(draft.subjects), draft.phrase, count, subject)
        section = SectionPlan(title=draft.title, minutes=0, objectives=lines, sources=sources)
        if not any(rules.is_near_duplicate(section, s) for s in [*taken, *(s for _, s in picked)]):
            picked.append((draft.order, section))
            if len(picked) == len(minutes):
                break
    picked.sort(key=lambda pair: pair[0])
    return [s.model_copy(update={"minutes": m}) for (_, s), m in zip(picked, minutes, strict=True)]


def _drafts(block: list[_Unit], n: int) -> Iterator[_Draft]:
    """Candidate sections, best first: the whole block, its topic groups, each topic seen from
    a teaching angle, then numbered workshops (an endless supply, so planning always ends)."""
    ranked = sorted(block, key=lambda u: -u.relevance)
    lead = ranked[0]
    if n == 1:
        mixed = [x for row in itertools.zip_longest(*(u.subjects for u in ranked)) for x in row if x]
        yield _Draft(_block_title(block), tuple(dict.fromkeys(mixed)), "", (0, 0, 0))
    primary = list(lead.topics) if len(lead.topics) >= n else lead.subjects
    rest = [s for s in lead.subjects if s not in primary]
    size = min(n, len(primary))
    groups = [primary[i * len(primary) // size : (i + 1) * len(primary) // size] for i in range(size)]
    extras = [[r for j, r in enumerate(rest) if j * size // len(rest) == i] for i in range(size)]
    group_of = {f: i for i, g in enumerate(groups) for f in g}
    for i, group in enumerate(groups):
        yield _Draft(_facet_title(lead.hit.chapter_title, group), (*group, *extras[i]), "", (i, 0, 0))
    for a, angle in enumerate(_ANGLES, 1):
        for f in primary:
            subjects = (f, *extras[group_of[f]][:1])
            yield _Draft(f"{_sentence_case(f)}: {angle.title}", subjects, angle.phrase, (group_of[f], a, 0))
    for r in itertools.count(1):
        for i, f in enumerate(primary):
            title = f"{_sentence_case(_first_words(f, 3))} workshop {r}"
            yield _Draft(title, (f,), f"in practice workshop {r}", (size + r, i, 0))


def _block_title(block: list[_Unit]) -> str:
    """Two chapters read as "A and B" when that stays short; otherwise the most relevant one."""
    names = list(dict.fromkeys(u.title.split(":", 1)[0].strip() for u in block))
    joined = _join(names)
    if len(block) > 1 and len(names) <= 2 and len(joined.split()) <= 10:
        return joined
    return max(block, key=lambda u: u.relevance).title


# --- small text helpers -------------------------------------------------------------------------


def _concept_label(concept: str) -> str:
    """A formula reads as its name: "TV = FCFF / (WACC - g)" -> "TV formula"."""
    if ":" in concept:
        return concept.split(":", 1)[0].strip()
    if "=" in concept:
        return f"{concept.split('=', 1)[0].strip()} formula"
    return concept.strip()


def _dedupe(items: Iterator[str] | Sequence[str], existing: Sequence[str] = ()) -> list[str]:
    seen = {rules.title_tokens(x) for x in existing}
    out = []
    for item in items:
        tokens = rules.title_tokens(item)
        if item.strip() and tokens not in seen:
            seen.add(tokens)
            out.append(item.strip())
    return out


# --- wording: titles and objectives -------------------------------------------------------------

_LEAD_INS = (
    "i want to learn", "i would like to learn", "i'd like to learn", "teach me about", "teach me",
    "help me understand", "learn about", "learning", "learn", "an introduction to", "introduction to",
    "intro to", "a course on", "a course about", "course on", "the basics of", "basics of", "how to",
    "understand", "master", "study", "about", "the", "an", "a",
)  # fmt: skip
_SMALL_WORDS = frozenset(
    ["a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "vs"]
)


@dataclass(frozen=True)
class _Angle:
    """A way to revisit a topic when a chapter must fill more sections than it has topics."""

    title: str
    phrase: str


_ANGLES = (
    _Angle("worked example", "through a worked example"),
    _Angle("guided practice", "in guided practice problems"),
    _Angle("common pitfalls", "while avoiding common pitfalls"),
    _Angle("case study", "in a real-world case study"),
    _Angle("comparing approaches", "by comparing it with alternatives"),
    _Angle("hands-on exercise", "in a hands-on exercise"),
    _Angle("review and self-check", "in a self-check review"),
    _Angle("going further", "in more advanced settings"),
)

# Objective wordings per Bloom level; each begins with a verb of that level in rules.BLOOM_VERBS.
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "remember": ("Define {s}", "Identify the key elements of {s}", "List the main ideas behind {s}",
                 "Recall how {s} is used in {c}"),
    "understand": ("Explain {s}", "Describe the role of {s} in {c}", "Summarize the main ideas of {s}",
                   "Interpret {s} in a short example"),
    "apply": ("Apply {s} to a realistic problem", "Use {s} to work through an example",
              "Demonstrate {s} step by step", "Solve a practice problem with {s}"),
    "analyze": ("Analyze the effect of {s} on the result", "Compare {s} with related approaches",
                "Examine the assumptions behind {s}", "Differentiate the situations that call for {s}"),
    "evaluate": ("Evaluate the strengths and limits of {s}", "Assess when {s} is the right tool",
                 "Critique a real-world use of {s}", "Justify key choices about {s}"),
    "create": ("Design an analysis that uses {s}", "Build a small model around {s}",
               "Develop a plan for applying {s} in {c}", "Propose an extension of {s}"),
}  # fmt: skip
# The first objective of an angle or workshop section names the angle, so it reads differently.
_LEAD = {
    "remember": "Identify {s} {p}",
    "understand": "Explain {s} {p}",
    "apply": "Apply {s} {p}",
    "analyze": "Analyze {s} {p}",
    "evaluate": "Evaluate {s} {p}",
    "create": "Design a solution using {s} {p}",
}


def _objectives(depth: Depth, subjects: list[str], phrase: str, count: int, context: str) -> list[str]:
    """`count` objectives over `subjects`, at the Bloom levels `rules.objective_levels` asks for."""
    lines: list[str] = []
    used: dict[str, int] = {}
    for i, level in enumerate(rules.objective_levels(depth, count)):
        subject = subjects[i % len(subjects)]
        if i == 0 and phrase:
            lines.append(_LEAD[level].format(s=subject, p=phrase))
            continue
        options = _TEMPLATES[level]
        for j in range(used.get(level, 0), used.get(level, 0) + len(options)):
            line = options[j % len(options)].format(s=subject, c=context)
            if line not in lines:
                used[level] = j + 1
                break
        lines.append(line)
    return lines


def _course_subject(query: str) -> str:
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
    words = _course_subject(query).split()
    return " ".join(
        w if w.isupper() or any(c.isupper() for c in w[1:])
        else w.lower() if i and w.lower() in _SMALL_WORDS
        else w[:1].upper() + w[1:]
        for i, w in enumerate(words)
    )  # fmt: skip


def _facet_title(chapter_title: str, labels: Sequence[str]) -> str:
    """ "Terminal Value: Gordon growth model": the chapter's short name (when it has one) and topics."""
    head = chapter_title.split(":", 1)[0].strip()
    body = _sentence_case(_join(list(labels)[:2]))
    return f"{head}: {body}" if 0 < len(head.split()) <= 4 else body


def _join(labels: Sequence[str]) -> str:
    if len(labels) < 2:
        return "".join(labels)
    if any(" and " in x for x in labels):
        return ", ".join(labels)
    return f"{', '.join(labels[:-1])} and {labels[-1]}"


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _first_words(text: str, n: int) -> str:
    return " ".join(text.split()[:n])
