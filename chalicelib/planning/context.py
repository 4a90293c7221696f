"""What the model sees: a compact projection of the retrieved chapters capped by a token budget,
and each phase's prompt (templates in prompts/) filled from the course state. Pure functions."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from ..core import rules
from ..core.models import ChapterHit, CourseRequest, PartPlan, PlannedPart, SectionPlan

CHARS_PER_TOKEN = 4  # the usual approximation for English text; no tokenizer ships with the Lambda


def estimate_tokens(text: str) -> int:
    """Tokens in `text`, approximated as one per four characters (rounded up)."""
    return -(-len(text) // CHARS_PER_TOKEN)


@dataclass(frozen=True)
class ContextBudgets:
    """Token budgets of the chapter context in each phase's prompt (not of the whole prompt)."""

    parts: int = 2500
    sections: int = 1500
    review: int = 700
    earlier_titles: int = 600


@dataclass(frozen=True)
class _Detail:
    summary_chars: int
    topics: int
    concepts: int


# Ever terser renderings, tried in order until the chapters fit the budget; then the least
# similar chapters are left out.
_LEVELS = (_Detail(600, 8, 6), _Detail(280, 5, 4), _Detail(140, 3, 2), _Detail(0, 3, 0), _Detail(0, 0, 0))


@dataclass(frozen=True)
class Projection:
    text: str
    chapters: tuple[ChapterHit, ...]  # the chapters shown, in the order shown

    @property
    def keys(self) -> list[str]:
        return [hit.ref.key for hit in self.chapters]


def _unique(chapters: Sequence[ChapterHit]) -> list[ChapterHit]:
    best: dict[str, ChapterHit] = {}
    for hit in chapters:
        if hit.ref.key not in best or hit.similarity > best[hit.ref.key].similarity:
            best[hit.ref.key] = hit
    return list(best.values())


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut}…"


def _render_chapter(hit: ChapterHit, detail: _Detail) -> str:
    line = f"- {hit.ref.key} {hit.chapter_title}"
    if detail.summary_chars:
        line += f": {_clip(hit.summary, detail.summary_chars)}"
    if detail.topics and hit.topics:
        line += f" Topics: {'; '.join(hit.topics[: detail.topics])}."
    if detail.concepts and hit.key_concepts:
        line += f" Concepts: {'; '.join(hit.key_concepts[: detail.concepts])}."
    return line


def _render(chapters: Sequence[ChapterHit], detail: _Detail) -> str:
    lines: list[str] = []
    book = None
    for hit in chapters:
        if hit.book_id != book:
            book = hit.book_id
            lines.append(f'Book "{hit.book_title}"')
        lines.append(_render_chapter(hit, detail))
    return "\n".join(lines)


def _fit(chapters: list[ChapterHit], budget_tokens: int, levels: Sequence[_Detail]) -> Projection:
    """The richest rendering within budget; past the tersest one, drop the least similar."""
    if not chapters:
        return Projection("(none)", ())
    for detail in levels:
        text = _render(chapters, detail)
        if estimate_tokens(text) <= budget_tokens:
            return Projection(text, tuple(chapters))
    kept = list(chapters)
    while len(kept) > 1 and estimate_tokens(_render(kept, levels[-1])) > budget_tokens:
        kept.remove(min(kept, key=lambda h: (h.similarity, -kept.index(h))))
    return Projection(_render(kept, levels[-1]), tuple(kept))


def project_chapters(chapters: Sequence[ChapterHit], budget_tokens: int) -> Projection:
    """Book title, chapter id and title, summary, topics and key concepts of each chapter, in
    the order given (books grouped), shortened and then thinned out to fit `budget_tokens`."""
    return _fit(_unique(chapters), budget_tokens, _LEVELS)


def chapter_index(chapters: Sequence[ChapterHit], budget_tokens: int) -> Projection:
    """Ids and titles only: what a reviewer needs to fix citations."""
    return _fit(_unique(chapters), budget_tokens, (_Detail(0, 0, 0),))


# --- prompts ------------------------------------------------------------------------------------

PHASES = ("parts", "sections", "review")
_ROLE_MARK = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    phase: str
    system: str
    user: str
    allowed: frozenset[str]  # the chapter keys the prompt offers for citation

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.system) + estimate_tokens(self.user)


@cache
def template(phase: str) -> tuple[Template, Template]:
    """The (system, user) templates of a phase, read once from prompts/<phase>.txt."""
    text = resources.files(__package__).joinpath("prompts", f"{phase}.txt").read_text(encoding="utf-8")
    pieces = _ROLE_MARK.split(text)
    roles = {pieces[i]: pieces[i + 1].strip() for i in range(1, len(pieces) - 1, 2)}
    return Template(roles["system"]), Template(roles["user"])


def fill(phase: str, allowed: Sequence[str], **fields: object) -> Prompt:
    system, user = template(phase)
    values = {k: str(v) for k, v in fields.items()}
    return Prompt(phase, system.substitute(values), user.substitute(values), frozenset(allowed))


def _request_fields(request: CourseRequest) -> dict[str, object]:
    lo, hi = rules.part_count_range(request.hours)
    return {
        "query": request.query.replace('"', "'"),
        "hours": f"{request.hours:g}",
        "target_minutes": request.target_minutes,
        "depth": request.preferences.depth.value,
        "pace": request.preferences.pace.value,
        "part_count": "1 part"
        if lo == hi == 1
        else f"{lo} to {hi} parts"
        if hi - lo > 1
        else f"{lo} or {hi} parts",
    }


def _bloom_fields(request: CourseRequest, count: int = 3) -> dict[str, object]:
    levels = rules.objective_levels(request.preferences.depth, count)
    wanted = list(dict.fromkeys([*levels, *rules.depth_levels(request.preferences.depth)]))
    verbs = "; ".join(f"{level}: {', '.join(rules.BLOOM_VERBS[level][:6])}" for level in wanted)
    return {"levels": ", ".join(levels) + " (then repeat)", "verbs": verbs}


def parts_prompt(request: CourseRequest, chapters: Sequence[ChapterHit], budgets: ContextBudgets) -> Prompt:
    projection = project_chapters(chapters, budgets.parts)
    lo, hi = rules.section_minutes_range(request.preferences.pace)
    floor = (
        rules.MIN_SECTION_MINUTES
        if rules.pace_may_relax(request, rules.part_count_range(request.hours)[1])
        else lo
    )
    return fill(
        "parts",
        projection.keys,
        **_request_fields(request),
        section_lo=lo,
        section_hi=hi,
        part_floor=floor,
        chapter_ids=", ".join(projection.keys) or "(none)",
        context=projection.text,
    )


def part_chapters(chapters: Sequence[ChapterHit], part: PartPlan) -> list[ChapterHit]:
    """The retrieved chapters a part draws on; all of them when it names none that was retrieved."""
    keys = {ref.key for ref in part.chapters}
    mine = [hit for hit in chapters if hit.ref.key in keys]
    return mine or list(chapters)


def _earlier_titles(earlier: Sequence[Sequence[SectionPlan]], budget_tokens: int) -> str:
    titles = [f'"{s.title}"' for sections in earlier for s in sections]
    while titles and estimate_tokens("; ".join(titles)) > budget_tokens:
        titles.pop(0)  # the most recent parts matter most for overlap
    return "; ".join(titles) or "none"


def parts_overview(parts: Sequence[PartPlan], part_index: int) -> str:
    """Every part's number, title, minutes and chapter ids, this one marked: what keeps parts
    planned without seeing each other's sections from teaching the same thing."""
    lines = []
    for k, part in enumerate(parts):
        chapters = ", ".join(ref.key for ref in part.chapters) or "none named"
        mark = " (this part)" if k == part_index else ""
        title = part.title.replace('"', "'")
        lines.append(f'  {k + 1}. "{title}"{mark}, {part.minutes} min; chapters: {chapters}')
    return "\n".join(lines)


def _count_phrase(fewest: int, most: int) -> str:
    return str(fewest) if fewest == most else f"{fewest} to {most}"


def sections_prompt(
    request: CourseRequest,
    chapters: Sequence[ChapterHit],
    parts: Sequence[PartPlan],
    part_index: int,
    earlier: Sequence[Sequence[SectionPlan]],
    budgets: ContextBudgets,
) -> Prompt:
    part, pace = parts[part_index], request.preferences.pace
    projection = project_chapters(part_chapters(chapters, part), budgets.sections)
    lo, hi = rules.section_minutes_bounds(part.minutes, pace)
    return fill(
        "sections",
        projection.keys,
        **_request_fields(request),
        **_bloom_fields(request),
        part_number=part_index + 1,
        part_total=len(parts),
        part_title=part.title.replace('"', "'"),
        part_minutes=part.minutes,
        section_count=_count_phrase(*rules.section_count_range(part.minutes, pace)),
        section_lo=lo,
        section_hi=hi,
        chapter_ids=", ".join(projection.keys) or "(none)",
        earlier=_earlier_titles(earlier, budgets.earlier_titles),
        parts_overview=parts_overview(parts, part_index),
        context=projection.text,
    )


def outline_json(outline: Sequence[PlannedPart]) -> str:
    """The outline as compact JSON in the shape the model answers in."""
    data = {
        "parts": [
            {
                "title": part.title,
                "minutes": part.minutes,
                "sections": [
                    {
                        "title": s.title,
                        "minutes": s.minutes,
                        "objectives": list(s.objectives),
                        "sources": [ref.key for ref in s.sources],
                    }
                    for s in part.sections
                ],
            }
            for part in outline
        ]
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def review_prompt(
    request: CourseRequest,
    chapters: Sequence[ChapterHit],
    outline: Sequence[PlannedPart],
    failed_checks: Sequence[str],
    budgets: ContextBudgets,
) -> Prompt:
    index = chapter_index(chapters, budgets.review)
    lo, hi = rules.section_minutes_range(request.preferences.pace)
    return fill(
        "review",
        index.keys,
        **_request_fields(request),
        **_bloom_fields(request),
        section_lo=lo,
        section_hi=hi,
        failed_checks="\n".join(f"- {check}" for check in failed_checks),
        context=index.text,
        outline=outline_json(outline),
    )
