"""The checks of an outline: each catches its defect and names it, and near-duplicates are found
without comparing every pair."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core import checks
from chalicelib.core.models import SectionPlan
from tests.support.outline_fixtures import FCFF, GHOST, HITS, TV, a_part, a_request, a_section, good_outline


def test_a_good_outline_passes_every_check() -> None:
    assert checks.check_outline(a_request(), HITS, good_outline()) == []


def test_an_outline_thirty_percent_over_budget_fails_the_budget_check() -> None:
    outline = [a_part("Cash flows", a_section("Free cash flow", 26), *(a_section(t, 26) for t in "ABCD"))]
    outline.append(a_part("Value", a_section("Terminal value", 26, sources=[TV])))
    failures = checks.check_outline(a_request(), HITS, outline)
    assert "budget: 156 min vs target 120 (±5%)" in failures


def test_a_part_whose_sections_do_not_add_up_is_named() -> None:
    outline = good_outline()
    outline[1] = outline[1].model_copy(update={"minutes": 65})
    assert checks.check_part_sums(outline) == ["part 2 'Value': sections sum to 60 min, part says 65"]


def test_a_citation_to_a_chapter_that_was_not_retrieved_is_a_defect() -> None:
    outline = good_outline()
    outline[0].sections[0] = a_section("Free cash flow", 30, sources=[FCFF, GHOST])
    assert checks.check_citations(HITS, outline) == [
        "section 'Free cash flow': cites chapter valuation#99 which was not retrieved"
    ]


def test_every_section_must_cite_a_retrieved_chapter() -> None:
    some = good_outline()
    some[0].sections[0] = some[0].sections[0].model_copy(update={"sources": []})
    some[1].sections[0] = some[1].sections[0].model_copy(update={"sources": [GHOST]})
    assert checks.check_citations(HITS, some) == [
        "section 'Free cash flow': cites no retrieved chapter",
        "section 'Cost of capital': cites chapter valuation#99 which was not retrieved",
        "section 'Cost of capital': cites no retrieved chapter",
    ]


def test_sections_with_nearly_the_same_title_are_duplicates() -> None:
    outline = good_outline()
    outline[1].sections[1] = a_section("The terminal values", 30, sources=[TV])
    outline[0].sections[1] = a_section("Terminal value", 30, objectives=["Estimate the value", "Explain it"])
    assert checks.check_duplicates(outline) == [
        "sections 'Terminal value' and 'The terminal values' are near-duplicates"
    ]


def test_sections_with_the_same_objectives_are_duplicates_whatever_their_titles() -> None:
    objectives = ["Apply the Gordon growth model", "Explain stable growth"]
    a, b = (
        a_section("Closing the forecast", objectives=objectives),
        a_section("Horizon value", objectives=objectives),
    )
    assert checks.is_near_duplicate(a, b)
    assert not checks.is_near_duplicate(a, a_section("Horizon value"))


def test_the_pieces_of_a_split_section_are_not_duplicates_of_each_other() -> None:
    first, second = a_section("Terminal value (part 1)"), a_section("Terminal value (part 2)")
    assert not checks.is_near_duplicate(first, second.model_copy(update={"objectives": first.objectives}))
    assert checks.is_near_duplicate(first, a_section("Terminal value (part 1)"))


def test_an_objective_without_an_action_verb_is_named() -> None:
    outline = good_outline()
    outline[0].sections[0] = a_section("Free cash flow", objectives=["Apply FCFF", "Understanding of NOPAT"])
    assert checks.check_objectives(a_request(), outline) == [
        "section 'Free cash flow': objective 'Understanding of NOPAT' does not begin with an action verb"
    ]


def test_too_few_or_too_many_objectives_fail() -> None:
    outline = good_outline()
    outline[0].sections[0] = a_section("Free cash flow", objectives=["Apply FCFF"])
    outline[0].sections[1] = a_section("Forecasting", objectives=[f"Apply idea {i}" for i in range(7)])
    assert checks.check_objectives(a_request(), outline) == [
        "section 'Free cash flow': 1 objectives, expected 2-6",
        "section 'Forecasting': 7 objectives, expected 2-6",
    ]


def test_expert_objectives_at_the_remember_or_understand_level_fail() -> None:
    outline = [
        a_part("Value", a_section("WACC", 60, objectives=["Define WACC", "Explain WACC", "Assess WACC"]))
    ]
    failures = checks.check_objectives(a_request(1, "expert"), outline)
    assert "objectives of section 'WACC' are mostly below the 'expert' level" in failures
    assert "section 'WACC': objective 'Define WACC' is below the 'expert' level" in failures
    assert "section 'WACC': objective 'Explain WACC' is below the 'expert' level" in failures


def test_overview_objectives_that_are_mostly_analysis_or_design_fail() -> None:
    outline = [
        a_part("Value", a_section("WACC", 60, objectives=["Design a model", "Critique WACC", "Explain WACC"]))
    ]
    failures = checks.check_objectives(a_request(1, "overview"), outline)
    assert failures == ["objectives of section 'WACC' are mostly above the 'overview' level"]


def test_sections_outside_the_hard_bounds_or_the_pace_are_named() -> None:
    outline = [a_part("Value", a_section("Long", 95), a_section("Short", 12), a_section("Fine", 13))]
    failures = checks.check_section_minutes(a_request(2, pace="moderate"), outline)
    assert failures == [
        "section 'Long': 95 min outside 10-90",
        "section 'Short': 12 min outside the moderate pace range 15-35",
        "section 'Fine': 13 min outside the moderate pace range 15-35",
    ]


def test_a_short_course_may_have_one_section_below_the_pace_only_when_arithmetic_forces_it() -> None:
    forced = [a_part("Value", a_section("Terminal value", 15))]
    assert checks.check_section_minutes(a_request(0.25, pace="thorough"), forced) == []
    split = [a_part("Value", a_section("Terminal value", 10), a_section("Exit multiples", 14))]
    assert len(checks.check_section_minutes(a_request(0.4, pace="thorough"), split)) == 2
    roomy = [a_part("A", a_section("A", 20)), a_part("B", a_section("B", 50), a_section("C", 50))]
    failures = checks.check_section_minutes(a_request(2, pace="thorough"), roomy)
    assert failures == ["section 'A': 20 min outside the thorough pace range 25-60"]


def test_a_part_count_out_of_range_is_named() -> None:
    assert checks.check_part_count(a_request(1.5), good_outline()) == ["parts: 2 for 1.5 h, expected 1"]
    assert checks.check_part_count(a_request(6), good_outline()) == ["parts: 2 for 6 h, expected 3-5"]


# --- near-duplicates ----------------------------------------------------------------------------


WORDS = st.sampled_from(
    ["cash", "flow", "free", "value", "terminal", "wacc", "beta", "risk", "(part", "1)", "2)"]
)


@pytest.mark.slow
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
        if checks.is_near_duplicate(sections[i], sections[j])
    ]
    assert checks.duplicate_pairs(sections) == brute
