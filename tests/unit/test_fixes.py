"""The deterministic fixes: each mends its defect, they always leave a valid budget, and the
fitting of a model's parts, sections and revisions to the rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core import checks, fixes, pieces, rules
from chalicelib.core.models import ChapterRef, CourseRequest, Depth, Pace, PartPlan, PlannedPart, SectionPlan
from chalicelib.errors import PlanningError
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


def test_unknown_citations_are_dropped_and_nothing_is_invented() -> None:
    outline = good_outline()
    outline[0].sections[0] = a_section("Free cash flow", sources=[GHOST, FCFF])
    outline[0].sections[1] = a_section("Forecasting", sources=[GHOST])
    fixed, changes = fixes.drop_unknown_citations(HITS, outline)
    assert [s.sources for s in fixed[0].sections] == [[FCFF], []]
    assert changes == [
        "section 'Free cash flow': dropped citation valuation#99 (not retrieved)",
        "section 'Forecasting': dropped citation valuation#99 (not retrieved)",
    ]


def test_near_duplicates_merge_into_the_first_with_their_minutes_objectives_and_sources() -> None:
    outline = good_outline()
    extra = a_section(
        "Terminal values", 20, objectives=["Estimate a terminal value", "Justify g"], sources=[WACC]
    )
    outline[1] = a_part("Value", *outline[1].sections, extra)
    merged, changes = fixes.merge_near_duplicates(outline)
    terminal = merged[1].sections[1]
    assert (terminal.title, terminal.minutes) == ("Terminal value", 50)
    assert terminal.objectives == [*good_outline()[1].sections[1].objectives, *extra.objectives]
    assert terminal.sources == [TV, WACC]
    assert merged[1].minutes == 80 and checks.check_part_sums(merged) == []
    assert changes == ["merged section 'Terminal values' into its near-duplicate 'Terminal value'"]


def test_merged_objectives_are_capped_at_six() -> None:
    many = [f"Apply idea {i}" for i in range(5)]
    a, b = (
        a_section("Terminal value", objectives=many),
        a_section("Terminal values", objectives=[*many[::-1], "Apply X"]),
    )
    merged, _ = fixes.merge_near_duplicates([a_part("Value", a, b)])
    assert len(merged[0].sections[0].objectives) == 6


def test_rebalance_leaves_a_good_outline_as_it_is() -> None:
    assert fixes.rebalance(a_request(), good_outline()) == (good_outline(), [])


def test_rebalance_scales_an_over_budget_outline_to_exactly_the_target() -> None:
    outline = [p.model_copy(update={"sections": [s.model_copy(update={"minutes": 39}) for s in p.sections]})
               for p in good_outline()]  # fmt: skip
    fixed, changes = rebalanced(a_request(), outline)
    assert [s.minutes for p in fixed for s in p.sections] == [30, 30, 30, 30]
    assert changes


def test_rebalance_splits_a_section_too_long_for_the_pace_into_numbered_pieces() -> None:
    outline = [a_part("All of it", a_section("Terminal value", 120, sources=[TV]))]
    fixed, _ = rebalanced(a_request(2, pace="thorough"), outline)
    titles = [s.title for p in fixed for s in p.sections]
    assert titles == ["Terminal value (part 1)", "Terminal value (part 2)"]


def test_rebalance_merges_a_section_too_short_to_stand_alone_into_its_neighbour() -> None:
    outline = [a_part("All of it", a_section("Terminal value", 14), a_section("Exit multiples", 1))]
    fixed, changes = rebalanced(a_request(0.25, pace="quick"), outline)
    assert [(s.title, s.minutes) for p in fixed for s in p.sections] == [("Terminal value", 15)]
    assert "merged short section 'Exit multiples' into 'Terminal value'" in changes


def test_rebalance_merges_parts_a_short_course_has_no_room_for() -> None:
    fixed, _ = rebalanced(a_request(0.5), good_outline())
    assert len(fixed) == 1 and fixed[0].minutes == 30


def test_rebalance_splits_parts_a_revision_merged_away() -> None:
    sections = [a_section(f"Topic {name}", 30, sources=[FCFF]) for name in "ABCDEFGHIJKL"]
    collapsed = [a_part("Everything", *sections)]
    fixed, changes = rebalanced(a_request(6), collapsed)
    assert checks.check_part_count(a_request(6), fixed) == []
    assert [s.title for p in fixed for s in p.sections] == [s.title for s in sections]  # order kept
    assert "split part 'Everything' in three (too few parts)" in changes


def test_a_two_hour_course_of_one_section_gets_two_parts() -> None:
    fixed, _ = rebalanced(a_request(2), [a_part("All", a_section("Free cash flow", 120))])
    assert len(fixed) == 2 and checks.check_part_count(a_request(2), fixed) == []


def test_rebalance_refuses_an_outline_without_sections() -> None:
    with pytest.raises(PlanningError):
        fixes.rebalance(a_request(), [PlannedPart(title="Empty", minutes=60, sections=[])])


def rebalanced(request: CourseRequest, outline: list[PlannedPart]) -> tuple[list[PlannedPart], list[str]]:
    fixed, changes = fixes.rebalance(request, outline)
    assert budget_failures(request, fixed) == []
    return fixed, changes


def budget_failures(request: CourseRequest, outline: list[PlannedPart]) -> list[str]:
    return [
        *checks.check_budget(request, outline),
        *checks.check_part_sums(outline),
        *checks.check_section_minutes(request, outline),
    ]


# Garbage but structurally valid outlines: any minutes, clashing titles, bad objectives, ghosts.
TITLES = st.one_of(
    st.text(alphabet="abc ", max_size=8),
    st.sampled_from(["Terminal value", "Terminal value (part 2)", "Terminal value (part 1)", "WACC", ""]),
)
SECTIONS = st.builds(
    SectionPlan,
    title=TITLES,
    minutes=st.integers(-30, 500),
    objectives=st.lists(
        st.sampled_from(["Apply WACC", "Explain g", "whatever", "Design a model"]), max_size=8
    ),
    sources=st.lists(st.sampled_from([FCFF, TV, WACC, GHOST]), max_size=3),
)
OUTLINES = st.lists(
    st.builds(
        PlannedPart, title=TITLES, minutes=st.integers(-50, 3000), sections=st.lists(SECTIONS, max_size=6)
    ),
    min_size=1,
    max_size=7,
).filter(lambda outline: any(part.sections for part in outline))
HOURS = st.one_of(st.sampled_from([0.25, 1.99, 2, 4, 4.01, 40]), st.floats(0.25, 40, allow_nan=False))


@pytest.mark.slow
@given(OUTLINES, HOURS, st.sampled_from(Pace), st.sampled_from(Depth))
@settings(max_examples=120, deadline=None)
def test_rebalance_always_leaves_exact_integer_minutes_within_bounds(
    outline: list[PlannedPart], hours: float, pace: Pace, depth: Depth
) -> None:
    request = a_request(hours, depth, pace)
    fixed, _ = fixes.rebalance(request, outline)
    assert budget_failures(request, fixed) == []
    assert sum(s.minutes for p in fixed for s in p.sections) == request.target_minutes
    assert all(type(s.minutes) is int for p in fixed for s in p.sections)
    assert len(fixed) <= rules.part_count_range(hours)[1]
    cited = {r.key for p in outline for s in p.sections for r in s.sources}
    assert {r.key for p in fixed for s in p.sections for r in s.sources} <= cited
    assert fixes.rebalance(request, fixed) == (fixed, [])


@pytest.mark.slow
@given(OUTLINES, HOURS, st.sampled_from(Pace))
@settings(max_examples=60, deadline=None)
def test_the_fixes_together_leave_no_duplicates_and_no_unknown_citations(
    outline: list[PlannedPart], hours: float, pace: Pace
) -> None:
    request = a_request(hours, pace=pace)
    fixed, _ = fixes.apply_fixes(request, HITS, outline)
    assert budget_failures(request, fixed) == []
    assert checks.check_duplicates(fixed) == []
    assert not [f for f in checks.check_citations(HITS, fixed) if "not retrieved" in f]


# --- the pieces of a split part or section ------------------------------------------------------


def test_a_part_split_by_rebalance_is_titled_in_numbered_pieces() -> None:
    sections = [a_section(f"Topic {name}", 30) for name in "ABCDEFGHIJKL"]
    fixed, _ = rebalanced(a_request(6), [a_part("Everything", *sections)])
    assert [p.title for p in fixed] == ["Everything (part 1)", "Everything (part 2)", "Everything (part 3)"]


def test_pieces_of_a_part_split_again_are_numbered_once_in_order() -> None:
    outline = [
        a_part("Value", *(a_section(f"Topic {name}", 30) for name in "ABCDEFGH")),
        a_part("Value (part 2)", *(a_section(f"Topic {name}", 30) for name in "IJKL")),
    ]
    fixed, _ = rebalanced(a_request(6), outline)
    assert [p.title for p in fixed] == ["Value (part 1)", "Value (part 2)", "Value (part 3)"]


def test_one_function_names_the_pieces_and_one_reads_them() -> None:
    assert pieces.piece_title("Terminal value", 2) == "Terminal value (part 2)"
    assert pieces.parse_piece_title("Terminal value (part 2)") == ("Terminal value", 2)
    assert pieces.parse_piece_title("Terminal value") is None
    assert pieces.base_title(pieces.piece_title("WACC", 3)) == pieces.base_title("WACC") == "WACC"


# --- fitting a model's answers ------------------------------------------------------------------


def refs(*numbers: int) -> list[ChapterRef]:
    return [ChapterRef(book_id="val", chapter_number=n) for n in numbers]


def test_parts_30_percent_over_budget_are_brought_back_to_the_target() -> None:
    parts = [PartPlan(title=f"P{k}", minutes=156, chapters=refs(k)) for k in range(3)]
    fitted, changes = fixes.fit_parts(a_request(6), parts)
    assert sum(p.minutes for p in fitted) == 360 and [p.minutes for p in fitted] == [120, 120, 120]
    assert changes == ["part minutes 468 → 360 (the target)"]


def test_too_many_parts_are_merged_and_too_few_split() -> None:
    many = [PartPlan(title=f"P{k}", minutes=m, chapters=refs(k)) for k, m in enumerate([40, 10, 40])]
    merged, _ = fixes.fit_parts(a_request(1.5), many)
    assert len(merged) == 1 and merged[0].minutes == 90
    assert {r.key for r in merged[0].chapters} == {"val#0", "val#1", "val#2"}
    few, changes = fixes.fit_parts(
        a_request(6), [PartPlan(title="All", minutes=360, chapters=refs(1, 2, 3, 4))]
    )
    assert [(p.title, p.minutes, [r.key for r in p.chapters]) for p in few] == [
        ("All (part 1)", 120, ["val#1"]),
        ("All (part 2)", 120, ["val#2"]),
        ("All (part 3)", 120, ["val#3", "val#4"]),
    ]
    assert "split part 'All' in three (too few parts)" in changes
    with pytest.raises(PlanningError):
        fixes.fit_parts(a_request(6), [])


def test_a_part_split_into_more_pieces_than_it_has_chapters_shares_them() -> None:
    few, _ = fixes.fit_parts(a_request(6), [PartPlan(title="All", minutes=360, chapters=refs(1, 2))])
    assert [[r.key for r in p.chapters] for p in few] == [["val#1"], ["val#1"], ["val#2"]]


def test_section_minutes_are_fitted_to_the_part_when_the_count_allows() -> None:
    part = PartPlan(title="P", minutes=90, chapters=refs(1))
    three = [a_section("A", 39), a_section("B", 39), a_section("C", 39)]
    fitted, changes = fixes.fit_sections(a_request(3), part, three)
    assert [s.minutes for s in fitted] == [30, 30, 30] and changes
    too_many = [a_section(str(k), 20) for k in range(8)]  # 8 x 15 min > 90: left to the reviewer
    assert fixes.fit_sections(a_request(3), part, too_many) == (too_many, [])


def test_a_revision_that_lost_parts_and_kept_duplicates_is_made_sound() -> None:
    titles = ["Alpha", "Beta", "Alpha", "Gamma", "Delta", "Epsilon"]
    outline = [a_part("Only", *(a_section(t, 60) for t in titles), minutes=999)]
    fitted, changes = fixes.fit_outline(a_request(6), outline)
    assert checks.check_duplicates(fitted) == []
    assert len(fitted) == 3 and all(p.minutes == sum(s.minutes for s in p.sections) for p in fitted)
    assert [p.title for p in fitted] == ["Only (part 1)", "Only (part 2)", "Only (part 3)"]
    assert any("merged" in c for c in changes) and any("split" in c for c in changes)


PARTS = st.lists(
    st.builds(
        PartPlan,
        title=TITLES.filter(str.strip),
        minutes=st.integers(0, 900),
        chapters=st.lists(st.sampled_from([FCFF, TV, WACC]), max_size=4, unique=True),
    ),
    min_size=1,
    max_size=7,
)


@given(PARTS, HOURS, st.sampled_from(Pace))
@settings(max_examples=100, deadline=None)
def test_fitted_parts_are_as_many_as_the_hours_allow_and_add_up_to_the_target(
    parts: list[PartPlan], hours: float, pace: Pace
) -> None:
    request = a_request(hours, pace=pace)
    fitted, _ = fixes.fit_parts(request, parts)
    fewest, most = rules.part_count_range(hours)
    assert min(fewest, request.target_minutes // rules.MIN_SECTION_MINUTES) <= len(fitted) <= most
    assert sum(p.minutes for p in fitted) == request.target_minutes
    assert {r.key for p in fitted for r in p.chapters} == {r.key for p in parts for r in p.chapters}
    if len({p.title.lower() for p in parts}) == len(parts):  # pieces never take a title twice
        assert len({p.title.lower() for p in fitted}) == len(fitted)
