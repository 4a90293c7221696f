"""The objectives lint: broken template objectives are flagged, well-written ones with names,
acronyms and formulas pass."""

from __future__ import annotations

import pytest

from chalicelib.evaluation import lint
from chalicelib.evaluation.lint import ChapterText, Names

NAMES = Names(
    prose=[
        "Franklin Roosevelt launched the New Deal in 1933. Le Ch\u00e2telier's principle predicts the shift.",
        "A monopoly chooses output where marginal revenue equals marginal cost. Learning is a change.",
        "Classical conditioning is a kind of learning; operant learning is another.",
    ],
    terms=["Tennessee Valley Authority", "Aufbau principle", "checks and balances"],
    titles=["How a Profit-Maximizing Monopoly Chooses Output and Price", "What Is Learning?"],
)
HISTORY = ChapterText("The New Deal", "Relief, recovery and reform programs of the 1930s; Social Security.")
CHEMISTRY = ChapterText(
    "Acid-Base Equilibria", "Calculate the pH of a buffer from the acid ionization constant; pH = 7.35."
)


def codes(objective: str, chapters: tuple[ChapterText, ...] = (CHEMISTRY,)) -> list[str]:
    return [problem.code for problem in lint.lint_objective(objective, chapters, NAMES)]


@pytest.mark.parametrize(
    "objective",
    [
        "Explain how the New Deal changed the role of Franklin Roosevelt's government",
        "Apply Le Ch\u00e2telier's principle to a buffer",
        "Calculate the pH of a buffer step by step",  # a quantitative chapter: the phrase fits
        "Describe the Tennessee Valley Authority",
        "Compare DNA and mRNA",
        "Identify the 4Ps and the five Cs of pricing",
        "Use the Aufbau principle to predict electron configurations",
        "Explain the difference between pH and pOH: both are logarithmic",
    ],
)
def test_well_written_objectives_pass(objective: str) -> None:
    assert lint.lint_objective(objective, (CHEMISTRY,), NAMES) == []


def test_an_objective_must_start_with_a_verb_of_the_bloom_table() -> None:
    assert codes("Understand buffers") == [lint.NOT_A_VERB]
    assert codes("Buffers and their uses") == [lint.NOT_A_VERB]


def test_a_pasted_title_with_its_capitals_is_a_fragment() -> None:
    found = codes("Compute the How a profit-maximizing monopoly Chooses output and price step by step")
    assert lint.CAPITAL in found
    assert codes("Illustrate what is Learning? with an example") == [lint.FRAGMENT, lint.CAPITAL]
    assert codes("Use Early Ideas in atomic theory on a buffer") == [lint.FRAGMENT]
    assert codes("Apply the core ideas of Atoms, Molecules, and Ions") == [lint.FRAGMENT]
    assert codes("Explain the Rise of the Cities in a buffer") == [lint.FRAGMENT]


def test_a_lone_capital_mid_sentence_is_flagged_unless_it_is_a_name() -> None:
    assert codes("Summarize the marketing Concept") == [lint.CAPITAL]
    assert codes("Summarize what Roosevelt did") == []  # capitalised mid-sentence in the library
    assert codes("Summarize what Franklin Roosevelt did") == []  # a run the library writes
    assert codes("Summarize what Franklin did") == [lint.CAPITAL]  # only ever seen starting a sentence


def test_quantitative_templates_do_not_fit_chapters_with_nothing_to_calculate() -> None:
    assert codes("Calculate checks and balances for a worked example", (HISTORY,)) == [lint.TEMPLATE]
    assert codes("Estimate concurrent powers from realistic inputs", (HISTORY,)) == [lint.TEMPLATE]
    assert codes("Demonstrate social security step by step", (HISTORY,)) == [lint.TEMPLATE]
    assert codes("Calculate the pH of a buffer", (HISTORY, CHEMISTRY)) == []  # one quantitative chapter
    assert codes("Explain the goals of the New Deal", (HISTORY,)) == []


def test_template_machinery_fits_nowhere() -> None:
    assert codes("Explain buffers (exercise 2)") == [lint.TEMPLATE]
    assert codes("Explain the main ideas of this section") == [lint.TEMPLATE]


def test_a_word_twice_in_a_row_is_flagged() -> None:
    assert codes("Explain the the buffer") == [lint.REPEAT]
    assert codes("Explain negotiation negotiation tactics") == [lint.REPEAT]


def test_a_chapter_is_quantitative_with_a_formula_a_number_or_a_word_of_calculation() -> None:
    assert CHEMISTRY.quantitative
    assert not HISTORY.quantitative  # a year is no number to calculate with
    assert ChapterText("Gases", "We calculate things.").quantitative
    assert ChapterText("Blood", "Normal blood pH is 7.35 to 7.45.").quantitative
    assert not ChapterText("Culture", "Norms, values and symbols; the concept of culture.").quantitative
    assert ChapterText("Pricing", "Break-even analysis compares fixed costs with the price.").quantitative
