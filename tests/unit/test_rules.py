"""The planning rules: each check catches its defect, and the fixes always leave a valid budget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core import rules
from chalicelib.core.models import ChapterRef, CourseRequest, Depth, Pace, PlannedPart, SectionPlan
from chalicelib.errors import PlanningError
from tests.support.chapter_fixtures import dcf_hits

HITS = dcf_hits()
FCFF, TV, WACC = ChapterRef(book_id="valuation", chapter_number=4), HITS[1].ref, HITS[2].ref
GHOST = ChapterRef(book_id="valuation", chapter_number=99)


def a_request(hours: float = 2.0, depth: str = "balanced", pace: str = "moderate") -> CourseRequest:
    return CourseRequest(query="Learn DCF valuation", hours=hours, preferences={"depth": depth, "pace": pace})


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


# --- the rules as numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "expected"),
    [(0.25, (1, 1)), (1.99, (1, 1)), (2, (2, 3)), (3.5, (2, 3)), (4, (2, 3)), (4.01, (3, 5)), (40, (3, 5))],
)
def test_the_part_count_grows_with_the_hours(hours: float, expected: tuple[int, int]) -> None:
    assert rules.part_count_range(hours) == expected


def test_each_pace_has_its_section_length_inside_the_hard_bounds() -> None:
    assert rules.section_minutes_range(Pace.QUICK) == (10, 20)
    assert rules.section_minutes_range(Pace.MODERATE) == (15, 35)
    assert rules.section_minutes_range(Pace.THOROUGH) == (25, 60)
    for pace in Pace:
        lo, hi = rules.section_minutes_range(pace)
        assert rules.MIN_SECTION_MINUTES <= lo < hi <= rules.MAX_SECTION_MINUTES


def test_the_budget_tolerates_five_percent_either_way() -> None:
    assert rules.is_within_budget(126, 120) and rules.is_within_budget(114, 120)
    assert not rules.is_within_budget(127, 120) and not rules.is_within_budget(113, 120)


def test_every_bloom_verb_belongs_to_exactly_one_level() -> None:
    verbs = [v for level in rules.BLOOM_LEVELS for v in rules.BLOOM_VERBS[level]]
    assert len(verbs) == len(set(verbs))
    assert rules.verb_level("Apply the Gordon growth model") == "apply"
    assert rules.verb_level("Critique, with evidence, an exit multiple") == "evaluate"
    assert rules.verb_level("Understanding of WACC") is None


@pytest.mark.parametrize("count", range(2, 7))
def test_the_objective_mix_is_mostly_at_each_depths_levels(count: int) -> None:
    for depth in Depth:
        levels = rules.objective_levels(depth, count)
        assert 2 * sum(level in rules.depth_levels(depth) for level in levels) >= count
    assert not {"remember", "understand"} & set(rules.objective_levels(Depth.EXPERT, count))
    assert set(rules.objective_levels(Depth.OVERVIEW, count)) <= {"remember", "understand"}


@given(
    st.lists(st.floats(-5, 1000, allow_nan=False), min_size=1, max_size=40),
    st.integers(1, 60),
    st.integers(0, 80),
    st.data(),
)
@settings(max_examples=100, deadline=None)
def test_apportion_hits_the_total_exactly_within_the_bounds(
    weights: list[float], lo: int, span: int, data: st.DataObject
) -> None:
    hi = lo + span
    total = data.draw(st.integers(len(weights) * lo, len(weights) * hi))
    shares = rules.apportion(total, weights, lo, hi)
    assert sum(shares) == total
    assert all(lo <= s <= hi for s in shares)


def test_apportion_follows_the_weights_and_refuses_the_impossible() -> None:
    assert rules.apportion(120, [3, 1], 10, 120) == [90, 30]
    assert rules.apportion(100, [1, 1, 1], 10, 90) in ([34, 33, 33], [33, 34, 33], [33, 33, 34])
    with pytest.raises(ValueError):
        rules.apportion(15, [1, 1], 10, 90)


# --- checks -------------------------------------------------------------------------------------


def test_a_good_outline_passes_every_check() -> None:
    assert rules.check_outline(a_request(), HITS, good_outline()) == []


def test_an_outline_thirty_percent_over_budget_fails_the_budget_check() -> None:
    outline = [a_part("Cash flows", a_section("Free cash flow", 26), *(a_section(t, 26) for t in "ABCD"))]
    outline.append(a_part("Value", a_section("Terminal value", 26, sources=[TV])))
    failures = rules.check_outline(a_request(), HITS, outline)
    assert "budget: 156 min vs target 120 (±5%)" in failures


def test_a_part_whose_sections_do_not_add_up_is_named() -> None:
    outline = good_outline()
    outline[1] = outline[1].model_copy(update={"minutes": 65})
    assert rules.check_part_sums(outline) == ["part 2 'Value': sections sum to 60 min, part says 65"]


def test_a_citation_to_a_chapter_that_was_not_retrieved_is_a_defect() -> None:
    outline = good_outline()
    outline[0].sections[0] = a_section("Free cash flow", 30, sources=[FCFF, GHOST])
    assert rules.check_citations(HITS, outline) == [
        "section 'Free cash flow': cites chapter valuation#99 which was not retrieved"
    ]


def test_uncited_sections_are_allowed_unless_no_section_cites_anything() -> None:
    some = good_outline()
    some[0].sections[0] = some[0].sections[0].model_copy(update={"sources": []})
    assert rules.check_citations(HITS, some) == []
    none = [p.model_copy(update={"sections": [s.model_copy(update={"sources": []}) for s in p.sections]})
            for p in good_outline()]  # fmt: skip
    assert rules.check_citations(HITS, none) == ["grounding: no section cites a retrieved chapter"]


def test_sections_with_nearly_the_same_title_are_duplicates() -> None:
    outline = good_outline()
    outline[1].sections[1] = a_section("The terminal values", 30, sources=[TV])
    outline[0].sections[1] = a_section("Terminal value", 30, objectives=["Estimate the value", "Explain it"])
    assert rules.check_duplicates(outline) == [
        "sections 'Terminal value' and 'The terminal values' are near-duplicates"
    ]


def test_sections_with_the_same_objectives_are_duplicates_whatever_their_titles() -> None:
    objectives = ["Apply the Gordon growth model", "Explain stable growth"]
    a, b = (
        a_section("Closing the forecast", objectives=objectives),
        a_section("Horizon value", objectives=objectives),
    )
    assert rules.is_near_duplicate(a, b)
    assert not rules.is_near_duplicate(a, a_section("Horizon value"))


def test_the_pieces_of_a_split_section_are_not_duplicates_of_each_other() -> None:
    first, second = a_section("Terminal value (part 1)"), a_section("Terminal value (part 2)")
    assert not rules.is_near_duplicate(first, second.model_copy(update={"objectives": first.objectives}))
    assert rules.is_near_duplicate(first, a_section("Terminal value (part 1)"))


def test_an_objective_without_an_action_verb_is_named() -> None:
    outline = good_outline()
    outline[0].sections[0] = a_section("Free cash flow", objectives=["Apply FCFF", "Understanding of NOPAT"])
    assert rules.check_objectives(a_request(), outline) == [
        "section 'Free cash flow': objective 'Understanding of NOPAT' does not begin with an action verb"
    ]


def test_too_few_or_too_many_objectives_fail() -> None:
    outline = good_outline()
    outline[0].sections[0] = a_section("Free cash flow", objectives=["Apply FCFF"])
    outline[0].sections[1] = a_section("Forecasting", objectives=[f"Apply idea {i}" for i in range(7)])
    assert rules.check_objectives(a_request(), outline) == [
        "section 'Free cash flow': 1 objectives, expected 2-6",
        "section 'Forecasting': 7 objectives, expected 2-6",
    ]


def test_expert_objectives_at_the_remember_or_understand_level_fail() -> None:
    outline = [
        a_part("Value", a_section("WACC", 60, objectives=["Define WACC", "Explain WACC", "Assess WACC"]))
    ]
    failures = rules.check_objectives(a_request(1, "expert"), outline)
    assert "objectives of section 'WACC' are mostly below the 'expert' level" in failures
    assert "section 'WACC': objective 'Define WACC' is below the 'expert' level" in failures
    assert "section 'WACC': objective 'Explain WACC' is below the 'expert' level" in failures


def test_overview_objectives_that_are_mostly_analysis_or_design_fail() -> None:
    outline = [
        a_part("Value", a_section("WACC", 60, objectives=["Design a model", "Critique WACC", "Explain WACC"]))
    ]
    failures = rules.check_objectives(a_request(1, "overview"), outline)
    assert failures == ["objectives of section 'WACC' are mostly above the 'overview' level"]


def test_sections_outside_the_hard_bounds_or_the_pace_are_named() -> None:
    outline = [a_part("Value", a_section("Long", 95), a_section("Short", 12), a_section("Fine", 13))]
    failures = rules.check_section_minutes(a_request(2, pace="moderate"), outline)
    assert failures == [
        "section 'Long': 95 min outside 10-90",
        "section 'Short': 12 min outside the moderate pace range 15-35",
        "section 'Fine': 13 min outside the moderate pace range 15-35",
    ]


def test_a_short_course_may_have_one_section_below_the_pace_only_when_arithmetic_forces_it() -> None:
    forced = [a_part("Value", a_section("Terminal value", 15))]
    assert rules.check_section_minutes(a_request(0.25, pace="thorough"), forced) == []
    split = [a_part("Value", a_section("Terminal value", 10), a_section("Exit multiples", 14))]
    assert len(rules.check_section_minutes(a_request(0.4, pace="thorough"), split)) == 2
    roomy = [a_part("A", a_section("A", 20)), a_part("B", a_section("B", 50), a_section("C", 50))]
    failures = rules.check_section_minutes(a_request(2, pace="thorough"), roomy)
    assert failures == ["section 'A': 20 min outside the thorough pace range 25-60"]


def test_a_part_count_out_of_range_is_named() -> None:
    assert rules.check_part_count(a_request(1.5), good_outline()) == ["parts: 2 for 1.5 h, expected 1"]
    assert rules.check_part_count(a_request(6), good_outline()) == ["parts: 2 for 6 h, expected 3-5"]


# --- fixes --------------------------------------------------------------------------------------


def test_unknown_citations_are_dropped_and_nothing_is_invented() -> None:
    outline = good_outline()
    outline[0].sections[0] = a_section("Free cash flow", sources=[GHOST, FCFF])
    outline[0].sections[1] = a_section("Forecasting", sources=[GHOST])
    fixed, changes = rules.drop_unknown_citations(HITS, outline)
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
    merged, changes = rules.merge_near_duplicates(outline)
    terminal = merged[1].sections[1]
    assert (terminal.title, terminal.minutes) == ("Terminal value", 50)
    assert terminal.objectives == [*good_outline()[1].sections[1].objectives, *extra.objectives]
    assert terminal.sources == [TV, WACC]
    assert merged[1].minutes == 80 and rules.check_part_sums(merged) == []
    assert changes == ["merged section 'Terminal values' into its near-duplicate 'Terminal value'"]


def test_merged_objectives_are_capped_at_six() -> None:
    many = [f"Apply idea {i}" for i in range(5)]
    a, b = (
        a_section("Terminal value", objectives=many),
        a_section("Terminal values", objectives=[*many[::-1], "Apply X"]),
    )
    merged, _ = rules.merge_near_duplicates([a_part("Value", a, b)])
    assert len(merged[0].sections[0].objectives) == 6


def test_rebalance_leaves_a_good_outline_as_it_is() -> None:
    assert rules.rebalance(a_request(), good_outline()) == (good_outline(), [])


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
    assert rules.check_part_count(a_request(6), fixed) == []
    assert [s.title for p in fixed for s in p.sections] == [s.title for s in sections]  # order kept
    assert "split part 'Everything' in two (too few parts)" in changes


def test_a_two_hour_course_of_one_section_gets_two_parts() -> None:
    fixed, _ = rebalanced(a_request(2), [a_part("All", a_section("Free cash flow", 120))])
    assert len(fixed) == 2 and rules.check_part_count(a_request(2), fixed) == []


def test_rebalance_refuses_an_outline_without_sections() -> None:
    with pytest.raises(PlanningError):
        rules.rebalance(a_request(), [PlannedPart(title="Empty", minutes=60, sections=[])])


def rebalanced(request: CourseRequest, outline: list[PlannedPart]) -> tuple[list[PlannedPart], list[str]]:
    fixed, changes = rules.rebalance(request, outline)
    assert budget_failures(request, fixed) == []
    return fixed, changes


def budget_failures(request: CourseRequest, outline: list[PlannedPart]) -> list[str]:
    return [
        *rules.check_budget(request, outline),
        *rules.check_part_sums(outline),
        *rules.check_section_minutes(request, outline),
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
    fixed, _ = rules.rebalance(request, outline)
    assert budget_failures(request, fixed) == []
    assert sum(s.minutes for p in fixed for s in p.sections) == request.target_minutes
    assert all(type(s.minutes) is int for p in fixed for s in p.sections)
    assert len(fixed) <= rules.part_count_range(hours)[1]
    cited = {r.key for p in outline for s in p.sections for r in s.sources}
    assert {r.key for p in fixed for s in p.sections for r in s.sources} <= cited
    assert rules.rebalance(request, fixed) == (fixed, [])


@given(OUTLINES, HOURS, st.sampled_from(Pace))
@settings(max_examples=60, deadline=None)
def test_the_fixes_together_leave_no_duplicates_and_no_unknown_citations(
    outline: list[PlannedPart], hours: float, pace: Pace
) -> None:
    request = a_request(hours, pace=pace)
    fixed, _ = rules.apply_fixes(request, HITS, outline)
    assert budget_failures(request, fixed) == []
    assert rules.check_duplicates(fixed) == []
    assert not [f for f in rules.check_citations(HITS, fixed) if "not retrieved" in f]


WORDS = st.sampled_from(
    ["cash", "flow", "free", "value", "terminal", "wacc", "beta", "risk", "(part", "1)", "2)"]
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.lists(WORDS, min_size=0, max_size=6).map(" ".join),
            st.lists(st.sampled_from(["Explain beta", "Apply WACC", "Compute free cash flow"]), max_size=2),
        ),
        max_size=14,
    )
)
def test_the_filtered_duplicate_search_finds_exactly_the_pairs_an_all_pairs_search_finds(
    specs: list[tuple[str, list[str]]],
) -> None:
    sections = [SectionPlan(title=title, minutes=30, objectives=objectives) for title, objectives in specs]
    brute = [
        (i, j)
        for i in range(len(sections))
        for j in range(i + 1, len(sections))
        if rules.is_near_duplicate(sections[i], sections[j])
    ]
    assert rules._duplicate_pairs([rules._key(s) for s in sections]) == brute
