"""Builders of requests and outlines for the tests of the planning checks and fixes: a good
two-part DCF outline, and the chapters it may cite."""

from __future__ import annotations

from chalicelib.core.models import ChapterRef, CourseRequest, PlannedPart, SectionPlan
from tests.support.chapter_fixtures import dcf_hits

HITS = dcf_hits()
FCFF, TV, WACC = ChapterRef(book_id="valuation", chapter_number=4), HITS[1].ref, HITS[2].ref
GHOST = ChapterRef(book_id="valuation", chapter_number=99)


def a_request(hours: float = 2.0, depth: str = "balanced", pace: str = "moderate") -> CourseRequest:
    return CourseRequest.model_validate(
        {"query": "Learn DCF valuation", "hours": hours, "preferences": {"depth": depth, "pace": pace}}
    )


def a_section(
    title: str,
    minutes: int = 30,
    objectives: list[str] | None = None,
    sources: list[ChapterRef] | None = None,
) -> SectionPlan:
    objectives = objectives or [f"Apply {title.lower()} to a realistic problem", f"Explain {title.lower()}"]
    return SectionPlan(title=title, minutes=minutes, objectives=objectives, sources=sources or [FCFF])


def a_part(title: str, *sections: SectionPlan, minutes: int | None = None) -> PlannedPart:
    total = sum(s.minutes for s in sections) if minutes is None else minutes
    return PlannedPart(title=title, minutes=total, sections=list(sections))


def good_outline() -> list[PlannedPart]:
    return [
        a_part("Cash flows", a_section("Free cash flow", 30), a_section("Forecasting", 30, sources=[WACC])),
        a_part(
            "Value",
            a_section("Cost of capital", 30, sources=[WACC]),
            a_section("Terminal value", 30, sources=[TV]),
        ),
    ]
