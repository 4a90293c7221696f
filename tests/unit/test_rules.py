"""The planning rules as numbers: part and section ranges, the budget, Bloom levels, apportioning."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core import rules
from chalicelib.core.models import Depth, Pace


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
