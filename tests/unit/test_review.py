"""The review's guarantees on hand-made outlines: whatever the planner returned, the reviewed
outline has 2-6 sound objectives and a retrieved citation in every section, each repair is
recorded, and an outline no repair can save is refused with the checks it fails."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from chalicelib.core import checks, rules
from chalicelib.core.fixes import cite_nearest_chapters
from chalicelib.core.models import (
    ChapterHit,
    ChapterRef,
    CourseRequest,
    PlannedPart,
    ReviewNotes,
    SectionPlan,
)
from chalicelib.core.review import review_outline
from chalicelib.errors import PlanningError
from chalicelib.workflow import offline_objectives
from tests.support.outline_fixtures import (
    FCFF,
    GHOST,
    HITS,
    TV,
    WACC,
    a_part,
    a_request,
    a_section,
    good_outline,
)

Outline = list[PlannedPart]


class FakeWriter:
    """Writes objectives at the depth's levels from the chapters' titles, numbered so none
    repeats; records what it was asked."""

    def __init__(self, request: CourseRequest) -> None:
        self.levels = rules.objective_levels(request.preferences.depth, 3)
        self.asked: list[tuple[str, list[str]]] = []

    def __call__(
        self, section: SectionPlan, chapters: Sequence[ChapterHit], taken: Sequence[str]
    ) -> list[str]:
        self.asked.append((section.title, [hit.ref.key for hit in chapters]))
        subject = chapters[0].chapter_title.lower() if chapters else "the section"
        return [
            f"{rules.BLOOM_VERBS[level][0].capitalize()} {subject}, point {len(taken) + k}"
            for k, level in enumerate(self.levels, 1)
        ]


def no_revision(outline: Outline, failed: list[str]) -> Outline:
    return outline


def review(
    request: CourseRequest, outline: Outline, writer: FakeWriter | None = None
) -> tuple[Outline, ReviewNotes]:
    reviewed, notes = review_outline(request, HITS, outline, no_revision, writer or FakeWriter(request))
    assert checks.check_outline(request, HITS, reviewed) == []
    for section in (s for part in reviewed for s in part.sections):
        assert rules.MIN_OBJECTIVES <= len(section.objectives) <= rules.MAX_OBJECTIVES
        assert {ref.key for ref in section.sources} & {hit.ref.key for hit in HITS}
    return reviewed, notes


def plain(title: str, minutes: int, objectives: list[str], sources: list[ChapterRef]) -> SectionPlan:
    """A section exactly as given (`a_section` fills in empty objectives and sources)."""
    return SectionPlan(title=title, minutes=minutes, objectives=objectives, sources=sources)


def sections(outline: Outline) -> dict[str, SectionPlan]:
    return {s.title: s for part in outline for s in part.sections}


def with_section(outline: Outline, part: int, index: int, section: SectionPlan) -> Outline:
    edited = [p.model_copy(update={"sections": list(p.sections)}) for p in outline]
    edited[part].sections[index] = section
    return edited


def test_a_good_outline_is_left_as_it_is_and_nothing_is_written() -> None:
    request = a_request()
    writer = FakeWriter(request)
    reviewed, notes = review(request, good_outline(), writer)
    assert reviewed == good_outline()
    assert notes == ReviewNotes()
    assert writer.asked == []


def test_a_section_with_no_objectives_gets_them_written_from_the_chapter_it_cites() -> None:
    request = a_request()
    writer = FakeWriter(request)
    outline = with_section(good_outline(), 1, 1, plain("Terminal value", 30, [], [TV]))

    reviewed, notes = review(request, outline, writer)

    assert writer.asked == [("Terminal value", [TV.key])]
    assert sections(reviewed)["Terminal value"].objectives == [
        "Apply terminal value: gordon growth and exit multiples, point 7",
        "Explain terminal value: gordon growth and exit multiples, point 8",
    ]
    assert "section 'Terminal value': 0 objectives, expected 2-6" in notes.failed_checks
    assert notes.changes[1:] == [
        "section 'Terminal value': objectives repaired (0 → 2): added 2 written from its chapters"
    ]


def test_eight_objectives_are_cut_to_six_keeping_those_at_the_depth_first() -> None:
    request = a_request(depth="balanced")
    objectives = [
        "Explain free cash flow",
        "Apply FCFF to a firm",
        "Describe NOPAT",
        "Calculate reinvestment",
        "Summarize the cash flow statement",
        "Use the FCFF formula",
        "Interpret capital expenditure",
        "Estimate working capital changes",
    ]
    outline = with_section(good_outline(), 0, 0, a_section("Free cash flow", objectives=objectives))
    writer = FakeWriter(request)

    reviewed, notes = review(request, outline, writer)

    kept = sections(reviewed)["Free cash flow"].objectives
    assert kept == [
        "Explain free cash flow",
        "Apply FCFF to a firm",
        "Describe NOPAT",
        "Calculate reinvestment",
        "Use the FCFF formula",
        "Estimate working capital changes",
    ]  # all four at "apply" kept, then the first two below it, in their order
    assert writer.asked == []
    assert notes.changes[1:] == ["section 'Free cash flow': objectives repaired (8 → 6): kept 6 of 8"]


def test_objectives_without_an_action_verb_or_repeated_are_dropped_and_made_up_for() -> None:
    request = a_request()
    objectives = [
        "Understanding of FCFF",
        "Knowledge of NOPAT",
        "Calculate FCFF from EBIT",
        "calculate FCFF  from EBIT",
    ]
    outline = with_section(good_outline(), 0, 0, a_section("Free cash flow", objectives=objectives))

    reviewed, notes = review(request, outline)

    repaired = sections(reviewed)["Free cash flow"].objectives
    assert repaired[0] == "Calculate FCFF from EBIT"
    assert not {"Understanding of FCFF", "Knowledge of NOPAT"} & set(repaired)
    assert all(rules.verb_level(o) for o in repaired)
    assert notes.changes[1:] == [
        "section 'Free cash flow': objectives repaired (4 → 2): dropped 1 repeated; "
        "dropped 2 without an action verb; "
        "added 1 written from its chapters"
    ]


def test_objectives_mostly_off_the_depth_are_replaced_by_written_ones() -> None:
    request = a_request(hours=1, depth="expert", pace="thorough")
    outline = [
        a_part(
            "Value", a_section("Cost of capital", 60, ["Explain WACC", "Describe the cost of debt"], [WACC])
        )
    ]

    reviewed, notes = review(request, outline)

    repaired = sections(reviewed)["Cost of capital"].objectives
    assert "Explain WACC" not in repaired
    assert all(rules.verb_level(o) in rules.depth_levels(request.preferences.depth) for o in repaired)
    assert notes.changes[1:] == [
        "section 'Cost of capital': objectives repaired (2 → 2): dropped 2 below the 'expert' level; "
        "added 2 written from its chapters"
    ]


def test_a_one_hour_course_citing_nothing_cites_the_nearest_chapter_in_every_section() -> None:
    request = a_request(hours=1, pace="quick")
    titles = ["Forecasting", "Cost of capital", "Terminal value"]
    outline = [a_part("Valuation", *(plain(t, 20, a_section(t).objectives, []) for t in titles))]

    reviewed, notes = review(request, outline)

    cited = {title: [ref.key for ref in s.sources] for title, s in sections(reviewed).items()}
    assert cited == {
        "Forecasting": ["valuation#5"],
        "Cost of capital": ["valuation#7"],
        "Terminal value": [TV.key],
    }
    assert "section 'Forecasting': cites no retrieved chapter" in notes.failed_checks
    assert notes.changes[1] == (
        "section 'Forecasting': cited no retrieved chapter; now cites valuation#5 "
        "'Forecasting Operating Performance', the nearest by its title and objectives"
    )


def test_a_section_citing_only_unknown_chapters_cites_the_nearest_and_loses_the_unknown() -> None:
    request = a_request()
    outline = with_section(good_outline(), 1, 0, a_section("Cost of capital", sources=[GHOST]))

    reviewed, notes = review(request, outline)

    assert sections(reviewed)["Cost of capital"].sources == [WACC]
    assert notes.changes[1:] == [
        "section 'Cost of capital': cited no retrieved chapter; now cites valuation#7 'Cost of Capital', "
        "the nearest by its title and objectives",
        "section 'Cost of capital': dropped citation valuation#99 (not retrieved)",
    ]


def test_with_no_word_in_common_the_most_similar_chapter_is_cited() -> None:
    outline = [a_part("X", plain("Zymurgy", 30, ["Explain zymurgy", "Apply zymurgy"], []))]
    cited, _ = cite_nearest_chapters(HITS, outline)
    assert cited[0].sections[0].sources == [FCFF]  # the best-ranked retrieved chapter


def test_an_outline_no_repair_can_save_is_refused_naming_its_checks() -> None:
    request = a_request()
    outline = with_section(
        good_outline(), 0, 0, a_section("Free cash flow", objectives=["Understanding of FCFF"])
    )

    def writes_nothing(
        section: SectionPlan, chapters: Sequence[ChapterHit], taken: Sequence[str]
    ) -> list[str]:
        raise PlanningError("nothing to write from")

    with pytest.raises(PlanningError) as refused:
        review_outline(request, HITS, outline, no_revision, writes_nothing)
    assert str(refused.value) == (
        "the outline still fails 1 check(s) after review and repair: "
        "section 'Free cash flow': 0 objectives, expected 2-6"
    )


def test_without_retrieved_chapters_no_citation_can_be_repaired_and_the_outline_is_refused() -> None:
    request = a_request()
    with pytest.raises(
        PlanningError, match=r"fails \d+ check\(s\) after review and repair: section 'Free cash flow'"
    ):
        review_outline(request, [], good_outline(), no_revision, FakeWriter(request))


def test_the_offline_writer_repairs_what_a_model_broke() -> None:
    request = a_request(hours=1, depth="technical", pace="quick")
    broken = [
        plain("Free cash flow", 20, [], []),
        plain("Terminal value", 20, ["Terminal value basics"], [GHOST]),
        plain("Cost of capital", 20, [f"Compare WACC inputs, case {k}" for k in range(8)], [WACC]),
    ]

    reviewed, notes = review_outline(
        request, HITS, [a_part("Valuation", *broken)], no_revision, offline_objectives(request)
    )

    assert checks.check_outline(request, HITS, reviewed) == []
    repaired = sections(reviewed)
    assert repaired["Free cash flow"].sources == [FCFF] and repaired["Terminal value"].sources == [TV]
    assert repaired["Free cash flow"].objectives and repaired["Terminal value"].objectives
    written = [*repaired["Free cash flow"].objectives, *repaired["Terminal value"].objectives]
    assert len(set(written)) == len(written) >= 4
    assert len(repaired["Cost of capital"].objectives) == 6
    assert sum("objectives repaired" in line for line in notes.changes) == 3
    assert sum("now cites" in line for line in notes.changes) == 2
