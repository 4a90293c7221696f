"""The eval metrics on small hand-made outlines: each case would fail on a wrongly defined metric."""

from __future__ import annotations

import pytest

from chalicelib.evaluation import metrics
from chalicelib.evaluation.metrics import Catalog, CatalogChapter, Expected, Section

SUMMARY = (
    "Chemical equilibrium is reached when the forward and reverse reaction rates are equal and the "
    "concentrations of reactants and products stay constant over time."
)
CATALOG = Catalog.of(
    [
        CatalogChapter("Chem A", 13, "Fundamental Equilibrium Concepts", SUMMARY),
        CatalogChapter("Chem B", 13, "Fundamental  equilibrium concepts!", "Different text entirely."),
        CatalogChapter("Chem A", 8, "Advanced Theories of Covalent Bonding", SUMMARY + " Orbitals."),
        CatalogChapter("Chem B", 5, "Advanced Theories of Bonding", SUMMARY + " Orbitals!"),
        CatalogChapter("Chem A", 14, "Acid-Base Equilibria", "Acids donate protons; bases accept them."),
        CatalogChapter("Chem B", 14, "Buffers", "A buffer resists a change of pH."),
        CatalogChapter("History", 25, "The Great Depression", "The crash of 1929 began a long slump."),
    ]
)


def test_titles_are_normalised_with_nfkc_casefold_and_no_punctuation() -> None:
    assert metrics.normalise_title("Acid\u2013Base  Equilibria!") == metrics.normalise_title(
        "acidbase equilibria"
    )
    assert metrics.normalise_title("\ufb01rst Law") == "first law"  # NFKC folds the ligature
    assert metrics.normalise_title("STRASSE") == metrics.normalise_title("straße")  # casefold, not lower


def test_recall_counts_an_entry_covered_by_itself_or_its_counterpart() -> None:
    expected = [
        Expected(("Chem A", 13), ("Chem B", 13)),
        Expected(("Chem A", 14)),
        Expected(("History", 25)),
    ]
    sections = [Section(30, cites=(("Chem B", 13),)), Section(30, cites=(("Chem A", 14), ("Chem A", 14)))]
    assert metrics.recall(sections, expected) == pytest.approx(2 / 3)
    assert metrics.recall(sections, []) is None


def test_off_topic_is_the_share_of_minutes_citing_no_expected_book_and_uncited_counts() -> None:
    sections = [
        Section(60, cites=(("Chem A", 13), ("History", 25))),  # one expected book is enough
        Section(30, cites=(("History", 25),)),
        Section(10, cites=()),
    ]
    assert metrics.off_topic(sections, ["Chem A", "Chem B"]) == pytest.approx(0.4)
    assert metrics.off_topic(sections, []) is None


def test_taught_twice_counts_minutes_of_sections_repeating_earlier_material_from_another_book() -> None:
    sections = [
        Section(40, cites=(("Chem A", 13),)),
        Section(20, cites=(("Chem A", 13),)),  # the same chapter again from its book: no repeat
        Section(30, cites=(("Chem B", 13),)),  # same normalised title, other book: a repeat
        Section(10, cites=(("Chem B", 14),)),  # new material
    ]
    assert metrics.taught_twice(sections, CATALOG) == pytest.approx(0.3)


def test_near_identical_summaries_repeat_even_under_another_title() -> None:
    sections = [Section(50, cites=(("Chem A", 8),)), Section(50, cites=(("Chem B", 5),))]
    assert metrics.taught_twice(sections, CATALOG) == pytest.approx(0.5)


def test_a_named_counterpart_repeats_even_with_another_title_and_text() -> None:
    sections = [Section(50, cites=(("Chem A", 14),)), Section(50, cites=(("Chem B", 14),))]
    assert metrics.taught_twice(sections, CATALOG) == 0.0
    expected = [Expected(("Chem A", 14), ("Chem B", 14))]
    assert metrics.taught_twice(sections, CATALOG, expected) == pytest.approx(0.5)


def test_both_copies_in_one_section_are_not_taught_twice() -> None:
    sections = [Section(50, cites=(("Chem A", 13), ("Chem B", 13))), Section(50, cites=(("Chem A", 14),))]
    assert metrics.taught_twice(sections, CATALOG) == 0.0


def test_budget_error_uses_the_sum_of_section_minutes() -> None:
    sections = [Section(50), Section(60)]
    assert metrics.budget_error(sections, 2.0) == pytest.approx(10 / 120)


def test_citation_validity_counts_every_citation() -> None:
    sections = [Section(10, cites=(("Chem A", 13), ("Chem A", 99))), Section(10, cites=(("Nope", 1),))]
    assert metrics.citation_counts(sections, CATALOG) == (1, 3)


@pytest.mark.parametrize(
    ("objective", "level"),
    [
        ("Define equilibrium", 1),
        ("explain buffers", 2),
        ("Calculate the pH of a buffer", 3),
        ("Compare acids and bases", 4),
        ("Assess a titration curve", 5),
        ("Design a buffer", 6),
        ("Understand buffers", None),  # not a measurable verb: left out
        ("", None),
    ],
)
def test_bloom_level_is_the_level_of_the_first_word(objective: str, level: int | None) -> None:
    assert metrics.bloom_level(objective) == level


def test_mean_bloom_leaves_out_objectives_without_a_table_verb() -> None:
    sections = [Section(10, objectives=("Define a", "Understand b")), Section(10, objectives=("Design c",))]
    assert metrics.mean_bloom(sections) == pytest.approx(3.5)


def test_orders_must_increase_strictly_and_an_unknown_value_fails() -> None:
    assert metrics.strictly_increasing([15.0, 20.0, 30.0])
    assert not metrics.strictly_increasing([15.0, 15.0, 30.0])
    assert not metrics.strictly_increasing([15.0, None, 30.0])
