"""Renders an outline as Markdown for people (the JSON form is Outline.model_dump_json)."""

from __future__ import annotations

from .core.models import Outline, OutlineSection


def _minutes(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def _sources(section: OutlineSection) -> str:
    if not section.sources:
        return "_uncited: no retrieved chapter supports this section_"
    cited = "; ".join(
        f"{source.book_title}, ch. {source.chapter_number} \u201c{source.chapter_title}\u201d"
        for source in section.sources
    )
    return f"Sources: {cited}"


def outline_markdown(outline: Outline) -> str:
    prefs = outline.preferences
    lines = [
        f"# {outline.title}",
        "",
        f"_{outline.query}_ \u00b7 {_minutes(outline.total_minutes)} \u00b7 depth {prefs.depth.value}"
        f" \u00b7 pace {prefs.pace.value} \u00b7 course {outline.course_id}",
    ]
    number = 0
    for index, part in enumerate(outline.parts, start=1):
        lines += ["", f"## Part {index}. {part.title} ({_minutes(part.minutes)})"]
        for section in part.sections:
            number += 1
            lines += ["", f"### {number}. {section.title} ({_minutes(section.minutes)})", ""]
            lines += [f"- {objective}" for objective in section.objectives]
            lines += ["", _sources(section)]
    return "\n".join(lines) + "\n"
