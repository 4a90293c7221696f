"""The offline planner: every outline it makes passes every planning rule, deterministically."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core import rules
from chalicelib.core.models import (
    ChapterHit,
    ChapterRef,
    CourseRequest,
    Depth,
    Pace,
    PartPlan,
    PlannedPart,
    SectionPlan,
)
from chalicelib.errors import PlanningError
from chalicelib.planning import OfflinePlanner
from chalicelib.planning.offline import course_title

from .chapter_fixtures import all_chapters, bare_chapter, chapter, dcf_hits

PLANNER = OfflinePlanner()
POOL = all_chapters()


def a_request(
    hours: float = 2.0, depth: str = "balanced", pace: str = "moderate", query: str = ""
) -> CourseRequest:
    preferences = {"depth": depth, "pace": pace}
    return CourseRequest(query=query or "Learn DCF valuation", hours=hours, preferences=preferences)


def plan(request: CourseRequest, chapters: list[ChapterHit]) -> tuple[str, list[PlannedPart]]:
    """The whole workflow's planning: parts, then each part's sections given the earlier ones."""
    title, parts = PLANNER.plan_parts(request, chapters)
    done: list[list[SectionPlan]] = []
    for k in range(len(parts)):
        done.append(PLANNER.plan_sections(request, chapters, parts, k, done))
    return title, [
        PlannedPart(title=p.title, minutes=p.minutes, sections=s) for p, s in zip(parts, done, strict=True)
    ]


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("Learn DCF valuation", "DCF Valuation"),
        ("teach me about the CAP theorem", "CAP Theorem"),
        ("Intro to sourdough baking", "Sourdough Baking"),
        ("I want to learn the basics of stream processing!", "Stream Processing"),
        ("Valuation of young companies", "Valuation of Young Companies"),
        ("learn", "Learn"),
    ],
)
def test_the_course_title_is_the_query_without_its_lead_in(query: str, title: str) -> None:
    assert course_title(query) == title


def test_the_dcf_course_has_two_titled_parts_from_foundations_to_advanced() -> None:
    title, parts = PLANNER.plan_parts(a_request(), dcf_hits())
    assert title == "DCF Valuation"
    assert len(parts) == 2 and sum(p.minutes for p in parts) == 120
    assert parts[0].title.startswith("Foundations: ") and not any(p.title.startswith("Part ") for p in parts)
    numbers = [ref.chapter_number for p in parts for ref in p.chapters]
    assert numbers == sorted(numbers)


def test_the_weakly_related_chapter_is_left_out_of_the_course() -> None:
    _, parts = PLANNER.plan_parts(a_request(), dcf_hits())
    assert "systems#10" not in {ref.key for p in parts for ref in p.chapters}


def test_more_relevant_parts_get_more_minutes() -> None:
    chapters = [chapter("valuation", 2, 0.5), chapter("valuation", 8, 0.9)]
    _, parts = PLANNER.plan_parts(a_request(2), chapters)
    foundations, terminal_value = (p.minutes for p in parts)
    assert foundations < terminal_value


def test_a_single_chapter_is_split_by_its_topics_into_distinct_sections() -> None:
    terminal = chapter("valuation", 8, 0.8)
    request = a_request(2)
    _, outline = plan(request, [terminal])
    titles = [s.title for p in outline for s in p.sections]
    assert len(titles) >= 4 and len(set(titles)) == len(titles)
    assert any("Gordon growth model" in t for t in titles) and any("Exit multiples" in t for t in titles)
    assert all(s.sources == [terminal.ref] for p in outline for s in p.sections)
    assert rules.check_outline(request, [terminal], outline) == []


def test_a_chapter_with_nothing_to_split_still_fills_a_forty_hour_quick_course() -> None:
    request = a_request(40, "expert", "quick")
    _, outline = plan(request, [bare_chapter()])
    assert rules.check_outline(request, [bare_chapter()], outline) == []


def test_the_quarter_hour_course_is_one_section_even_at_a_thorough_pace() -> None:
    request = a_request(0.25, "overview", "thorough")
    _, outline = plan(request, dcf_hits())
    assert [[s.minutes for s in p.sections] for p in outline] == [[15]]
    assert rules.check_outline(request, dcf_hits(), outline) == []


def test_sections_never_cite_a_chapter_that_was_not_retrieved() -> None:
    hits = dcf_hits()
    ghost = ChapterRef(book_id="valuation", chapter_number=99)
    parts = [PartPlan(title="Cash flows", minutes=60, chapters=[ghost, hits[0].ref])]
    sections = PLANNER.plan_sections(a_request(1), hits, parts, 0, [])
    assert {r.key for s in sections for r in s.sources} == {hits[0].ref.key}
    with pytest.raises(PlanningError):
        PLANNER.plan_sections(
            a_request(1), hits, [PartPlan(title="Ghost", minutes=60, chapters=[ghost])], 0, []
        )


def test_planning_without_chapters_is_a_planning_error() -> None:
    with pytest.raises(PlanningError):
        PLANNER.plan_parts(a_request(), [])


def test_revise_repairs_what_the_rules_can_fix() -> None:
    request, hits = a_request(), dcf_hits()
    _, outline = plan(request, hits)
    first, ghost = outline[0].sections[0], ChapterRef(book_id="x", chapter_number=1)
    too_long_and_miscited = first.model_copy(update={"minutes": 70, "sources": [*first.sources, ghost]})
    duplicate = first.model_copy(update={"title": f"{first.title}!", "minutes": 12})
    sections = [too_long_and_miscited, duplicate, *outline[0].sections[1:]]
    broken = [outline[0].model_copy(update={"sections": sections}), *outline[1:]]
    failures = rules.check_outline(request, hits, broken)
    for defect in ("budget:", "part 1 ", "outside", "not retrieved", "near-duplicates"):
        assert any(defect in failure for failure in failures), defect
    assert rules.check_outline(request, hits, PLANNER.revise(request, hits, broken, failures)) == []


def test_revise_leaves_a_good_outline_unchanged() -> None:
    request, hits = a_request(6, "technical", "thorough"), dcf_hits()
    _, outline = plan(request, hits)
    assert PLANNER.revise(request, hits, outline, []) == outline


HOURS = st.one_of(st.sampled_from([0.25, 1.99, 2, 4, 4.01, 40]), st.floats(0.25, 40, allow_nan=False))
QUERIES = st.sampled_from(
    ["Learn DCF valuation", "Teach me sourdough baking", "intro to replication and consensus"]
)


@st.composite
def retrieved(draw: st.DrawFn) -> list[ChapterHit]:
    picks = draw(st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=40, unique=True))
    similarities = draw(st.lists(st.floats(0.25, 0.95), min_size=len(picks), max_size=len(picks)))
    return [POOL[i].model_copy(update={"similarity": s}) for i, s in zip(picks, similarities, strict=True)]


@given(HOURS, st.sampled_from(Depth), st.sampled_from(Pace), QUERIES, retrieved())
@settings(max_examples=80, deadline=None)
def test_every_offline_plan_passes_every_rule(
    hours: float, depth: Depth, pace: Pace, query: str, chapters: list[ChapterHit]
) -> None:
    request = a_request(hours, depth, pace, query)
    title, outline = plan(request, chapters)
    assert rules.check_outline(request, chapters, outline) == []
    sections = [s for p in outline for s in p.sections]
    assert sum(s.minutes for s in sections) == request.target_minutes and title
    retrieved_keys = {hit.ref.key for hit in chapters}
    assert all(s.sources and {r.key for r in s.sources} <= retrieved_keys for s in sections)
    levels = [rules.verb_level(o) for s in sections for o in s.objectives]
    if depth is Depth.EXPERT:
        assert not {"remember", "understand"} & set(levels)
    if depth is Depth.OVERVIEW:
        assert 2 * sum(level in ("remember", "understand") for level in levels) >= len(levels)
    assert plan(request, list(chapters)) == (title, outline)


# Odd but structurally valid chapters: empty or clashing titles, repeated topics, formulas,
# duplicate refs, similarities of any sign.
ODD_TEXT = st.sampled_from(["Intro", "Chapter 1", "", "Basics", "A: b", "x = y + 1", "the", "values"])
ODD_CHAPTERS = st.lists(
    st.builds(
        ChapterHit,
        book_id=st.sampled_from(["a", "b"]),
        book_title=st.just("Notes"),
        chapter_number=st.integers(0, 6),
        chapter_title=ODD_TEXT,
        summary=st.just(""),
        topics=st.lists(ODD_TEXT, max_size=4),
        key_concepts=st.lists(ODD_TEXT, max_size=4),
        similarity=st.floats(-1, 1),
    ),
    min_size=1,
    max_size=10,
)


@given(HOURS, st.sampled_from(Depth), st.sampled_from(Pace), ODD_CHAPTERS)
@settings(max_examples=40, deadline=None)
def test_even_odd_chapters_give_an_outline_that_passes_every_rule(
    hours: float, depth: Depth, pace: Pace, chapters: list[ChapterHit]
) -> None:
    request = a_request(hours, depth, pace)
    _, outline = plan(request, chapters)
    assert rules.check_outline(request, chapters, outline) == []
