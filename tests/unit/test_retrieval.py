"""The query text and terms searched for, the evidence a chapter needs to enter a course, and one
copy of the material two books share."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from chalicelib.core.checks import check_citations
from chalicelib.core.models import ChapterHit, ChapterTwin
from chalicelib.core.retrieval import (
    Evidence,
    any_term_query,
    are_twins,
    collapse_twins,
    drop_retold,
    query_terms,
    relevant_chapters,
    search_text,
    select_relevant,
)
from tests.support.factories import a_hit, a_ref, a_state
from tests.support.outline_fixtures import a_part, a_section


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Learn DCF valuation", "DCF valuation"),
        ("learn about the CAPM", "the CAPM"),
        ("Teach me SQL joins", "SQL joins"),
        ("Please help me understand bond pricing", "bond pricing"),
        ("An introduction to serverless design", "serverless design"),
        ("Crash course on negotiation", "negotiation"),
        ("Machine learning basics", "Machine learning basics"),  # "learning" here is the subject
        ("Learn", "Learn"),  # nothing would be left: keep the query as it is
        # a long run of digits is an identifier, not a subject; shorter numbers are kept
        ("Learn about terminal value, answer lost 16738357790036", "terminal value, answer lost"),
        ("Learn bond pricing 2024117093512 for exam", "bond pricing for exam"),
        ("Learn about the 80486 processor", "the 80486 processor"),
        ("Teach me IFRS 16 and the 2008 crisis", "IFRS 16 and the 2008 crisis"),
        ("Learn 1234567890", "1234567890"),  # nothing else: keep it
    ],
)
def test_the_request_wording_is_stripped_and_the_subject_kept(query: str, expected: str) -> None:
    assert search_text(query) == expected


def test_query_terms_are_the_subject_words_once_each_and_safe_to_join() -> None:
    terms = query_terms(
        "Chemical equilibrium and acid-base chemistry: Le Châtelier's principle, pH; pH & (buffers)!"
    )
    assert terms == [
        "chemical",
        "equilibrium",
        "acid",
        "base",
        "chemistry",
        "le",
        "châtelier",
        "principle",
        "ph",
        "buffers",
    ]
    assert any_term_query(terms[:3]) == "chemical | equilibrium | acid"
    assert any_term_query(["ph", "buffers"], "AB") == "ph:AB | buffers:AB"
    assert query_terms("What is it, and how do I learn it?") == []


def hit(
    book: str,
    number: int,
    similarity: float,
    *,
    named: Sequence[str] = (),
    lexical: float = 0.0,
    title: str = "",
) -> ChapterHit:
    return a_hit(book, number, similarity).model_copy(
        update={"named": list(named), "lexical": lexical, "chapter_title": title or f"Chapter {number}"}
    )


TERMS = ["market", "structures", "perfect", "competition", "monopoly"]


def keys(hits: list[ChapterHit]) -> list[tuple[str, int]]:
    return [(h.book_id, h.chapter_number) for h in hits]


def test_a_chapter_the_query_names_enters_though_its_similarity_is_weak() -> None:
    # "Perfect Competition" embeds at 0.50 against a best of 0.76: a relative floor of 0.7 of the
    # best (0.53) cut it, though its title names two of the query's five terms.
    hits = [
        hit("econ", 7, 0.76, named=["market", "monopoly"], lexical=0.2, title="Monopoly"),
        hit("econ", 8, 0.50, named=["perfect", "competition"], lexical=0.3, title="Perfect Competition"),
        hit("econ", 9, 0.45, title="Labour Markets"),
    ]
    kept = select_relevant(hits, TERMS)
    assert set(keys(kept)) == {("econ", 7), ("econ", 8)}  # Labour Markets: neither similar nor named


def test_a_chapter_with_no_lexical_support_and_weak_similarity_is_cut_whatever_its_rank() -> None:
    # "Classes" of a programming book is the second-nearest vector to a classical-conditioning
    # query, but shares none of its terms: it does not enter.
    terms = ["classical", "conditioning", "pavlov", "stimulus", "response"]
    hits = [
        hit("psych", 6, 0.70, named=["classical", "conditioning", "pavlov"], lexical=0.3),
        hit("python", 10, 0.55, title="Classes"),
        hit("psych", 7, 0.40, named=["response"], lexical=0.1, title="Memory"),
    ]
    assert keys(select_relevant(hits, terms)) == [("psych", 6)]


def test_naming_two_terms_every_candidate_names_is_weak_evidence() -> None:
    # An equilibrium course: an anatomy chapter "The Chemical Level of Organization" names
    # "chemical" and "acid", as most chemistry chapters do; "Acid-Base Equilibria" also names
    # buffers and titrations, which only it does.
    terms = [
        "chemical",
        "equilibrium",
        "acid",
        "base",
        "chemistry",
        "constants",
        "ph",
        "buffers",
        "titrations",
    ]
    common = ["acid", "chemical"]
    hits = [
        hit("chem", 13, 0.67, named=["chemical", "equilibrium", "constants"], lexical=0.16),
        hit("chem", 14, 0.60, named=["acid", "base", "buffers", "ph", "titrations"], lexical=0.22),
        *(hit("chem", n, 0.55, named=common, lexical=0.1) for n in range(1, 8)),
        hit("anatomy", 2, 0.48, named=common, lexical=0.1, title="The Chemical Level of Organization"),
        hit("chem", 16, 0.42, named=["chemical", "buffers"], lexical=0.05, title="Buffers in Biochemistry"),
    ]
    kept = keys(select_relevant(hits, terms))
    assert ("anatomy", 2) not in kept  # 0.72 of the best: two common names need 0.75
    assert ("chem", 16) in kept  # 0.63 of the best, but it names a term few chapters name
    assert {("chem", 13), ("chem", 14)} <= set(kept)


def test_strong_similarity_alone_is_evidence_for_any_embedder() -> None:
    # A paraphrase shares no word with the chapter, but is as similar as the best hit.
    hits = [
        hit("b", 1, 0.62, named=["market", "monopoly"], lexical=0.2),
        hit("b", 2, 0.60),
        hit("b", 3, 0.35),
    ]
    assert keys(select_relevant(hits, TERMS)) == [("b", 1), ("b", 2)]


def test_no_chapter_with_evidence_means_no_chapters() -> None:
    # A woodworking request: one anatomy chapter is called "Joints" (one term of ten), and
    # nothing is similar: the library has nothing on the subject.
    terms = [
        "woodworking",
        "build",
        "bookshelf",
        "hand",
        "saws",
        "chisels",
        "wood",
        "joints",
        "varnish",
        "finish",
    ]
    hits = [hit("anatomy", 9, 0.25, named=["joints"], lexical=0.07, title="Joints"), hit("history", 2, 0.18)]
    assert select_relevant(hits, terms) == []
    assert select_relevant([], terms) == []


def test_a_shared_word_with_a_far_meaning_is_no_evidence_even_in_a_library_of_one_book() -> None:
    # "Learn SQL joins and indexing" against a nutrition book alone: the carbohydrate chapter names
    # "index" (glycemic index), a third of the query's terms, and is the best of a poor lot; shares
    # of the best similarity say nothing here, the cosine itself does.
    terms = ["sql", "joins", "indexing"]
    hits = [
        hit("nutrition", 2, 0.13, named=["indexing"], lexical=0.1, title="Carbohydrates and Glycogen"),
        hit("nutrition", 10, 0.10, title="Periodizing Nutrition"),
    ]
    assert select_relevant(hits, terms) == []
    weakly_named = hit("econ", 8, 0.31, named=["perfect", "competition"], lexical=0.3)
    assert keys(select_relevant([weakly_named], TERMS)) == [("econ", 8)]  # a real name, a near meaning


def test_a_chapter_naming_every_term_enters_though_the_embedder_does_not_know_the_word() -> None:
    # "Learn the CAPM" on the sample library: the offline embedder scores the two chapters titled
    # with the acronym 0.19, below the floor a chapter naming only some of the terms needs.
    capm = [
        hit("investing", 5, 0.196, named=["capm"], lexical=0.6, title="The CAPM and the Market Portfolio"),
        hit("valuation", 5, 0.187, named=["capm"], lexical=0.68, title="The Cost of Equity and the CAPM"),
    ]
    assert set(keys(select_relevant(capm, ["capm"]))) == {("investing", 5), ("valuation", 5)}
    partly = hit("valuation", 5, 0.187, named=["capm"], lexical=0.68)
    assert select_relevant([partly], ["capm", "arbitrage"]) == []  # naming half is not enough


def test_a_short_query_needs_only_one_named_term() -> None:
    hits = [
        hit("b", 1, 0.7, named=["monopoly"], lexical=0.2),
        hit("b", 2, 0.45, named=["monopoly"], lexical=0.1),
    ]
    assert keys(select_relevant(hits, ["monopoly"])) == [("b", 1), ("b", 2)]
    assert keys(select_relevant(hits, TERMS)) == [("b", 1)]


def test_relevance_blends_both_rankings_and_orders_the_chapters() -> None:
    hits = [
        hit("b", 1, 0.375, named=["market"], lexical=0.05),
        hit("b", 2, 0.306, named=["market", "monopoly"], lexical=0.16),
    ]
    kept = select_relevant(hits, TERMS, Evidence(min_similarity=0.2))
    assert keys(kept) == [("b", 2), ("b", 1)]  # the named chapter first, though less similar
    assert [h.relevance for h in kept] == pytest.approx(
        [(0.306 / 0.375 + 1) / 2, (1 + 0.05 / 0.16) / 2], abs=1e-6
    )


SUMMARY = (
    "The first law of thermodynamics relates heat, work and internal energy. Enthalpy changes are "
    "measured by calorimetry, and Hess's law combines the enthalpies of reactions to give those of "
    "reactions that cannot be measured directly; standard enthalpies of formation tabulate them."
)


def chapter(book: str, number: int, title: str, summary: str, relevance: float) -> ChapterHit:
    return a_hit(book, number).model_copy(
        update={
            "chapter_title": title,
            "summary": summary,
            "relevance": relevance,
            "book_title": f"Book {book}",
        }
    )


def test_copies_of_one_chapter_in_two_books_are_twins() -> None:
    a = chapter("chem", 5, "Thermochemistry", SUMMARY, 0.9)
    b = chapter(
        "atoms-first",
        9,
        "Thermochemistry",
        SUMMARY.replace("first law", "First Law") + " Bonds store it.",
        0.8,
    )
    renamed = chapter("atoms-first", 5, "Energy and Heat", SUMMARY, 0.7)
    other = chapter(
        "chem", 6, "Thermochemistry", "Gases are described by pressure, volume and temperature.", 0.6
    )
    assert are_twins(a, b) and are_twins(a, renamed)
    assert not are_twins(a, other)  # same title, other material
    assert not are_twins(a, a.model_copy(update={"chapter_number": 6}))  # one book: not twins


def test_twins_collapse_to_the_best_ranked_copy_which_carries_the_others() -> None:
    best = chapter("chem", 5, "Thermochemistry", SUMMARY, 0.9)
    hits = [
        best,
        chapter("bio", 2, "The Chemical Level", "Atoms bond into molecules.", 0.85),
        chapter("atoms-first", 9, "Thermochemistry", SUMMARY, 0.8),
        chapter("volume-2", 1, "Thermochemistry", SUMMARY, 0.5),
    ]
    collapsed = collapse_twins(hits)
    assert keys(collapsed) == [("chem", 5), ("bio", 2)]
    assert [(t.book_id, t.chapter_number, t.book_title) for t in collapsed[0].twins] == [
        ("atoms-first", 9, "Book atoms-first"),
        ("volume-2", 1, "Book volume-2"),
    ]


def test_relevant_chapters_are_grouped_by_book_with_one_copy_of_shared_material() -> None:
    hits = [
        hit(
            "atoms-first",
            9,
            0.70,
            named=["thermochemistry", "enthalpy"],
            lexical=0.3,
            title="Thermochemistry",
        ).model_copy(update={"summary": SUMMARY}),
        hit(
            "chem", 5, 0.69, named=["thermochemistry", "enthalpy"], lexical=0.3, title="Thermochemistry"
        ).model_copy(update={"summary": SUMMARY}),
        hit("chem", 2, 0.65, named=["atoms", "calorimetry"], lexical=0.2, title="Atoms"),
        hit("chem", 1, 0.66, named=["atoms"], lexical=0.1, title="Essential Ideas"),
    ]
    chosen = relevant_chapters(hits, ["thermochemistry", "enthalpy", "atoms", "calorimetry"])
    assert keys(chosen) == [("atoms-first", 9), ("chem", 1), ("chem", 2)]
    assert [t.book_id for t in chosen[0].twins] == ["chem"]


def test_a_section_may_cite_the_twin_of_a_retrieved_chapter() -> None:
    twin = ChapterTwin(
        book_id="atoms-first", book_title="Atoms First", chapter_number=9, chapter_title="Heat"
    )
    retrieved = a_hit("chem", 5).model_copy(update={"twins": [twin]})
    state = a_state(chapters=[retrieved])
    cited = state.chapter(twin.ref)
    assert cited is not None
    assert (cited.book_title, cited.chapter_number, cited.chapter_title) == ("Atoms First", 9, "Heat")
    assert cited.summary == retrieved.summary
    both = [a_part("Energy", a_section("Heat", sources=[retrieved.ref, twin.ref]))]
    assert check_citations([retrieved], both) == []
    stranger = [a_part("Energy", a_section("Heat", sources=[a_ref("atoms-first", 10)]))]
    assert check_citations([retrieved], stranger) != []


def test_material_another_book_already_tells_is_not_taught_again() -> None:
    # A pricing course: the marketing book's pricing chapter names price, strategy and products;
    # the business book's chapter names nothing more, so it would teach pricing a second time.
    # Its chapter on costs names something new and stays; so does the marketing book's second
    # chapter naming only what the first one names (one book, in its own order).
    kept = drop_retold(
        [
            hit("marketing", 12, 0.83, named=["price", "strategy", "product", "objectives"]),
            hit("business", 11, 0.65, named=["price", "product"]),
            hit("business", 14, 0.50, named=["price", "break", "even"]),
            hit("marketing", 9, 0.54, named=["product"]),
            hit("business", 16, 0.80, named=["product"]),  # as similar as the best: stays
        ]
    )
    assert keys(kept) == [("marketing", 12), ("business", 14), ("marketing", 9), ("business", 16)]
    assert drop_retold([]) == []
