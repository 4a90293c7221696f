"""The offline planner: every outline it makes passes every planning rule, deterministically."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.book_files import read_book_file
from chalicelib.core import checks, rules
from chalicelib.core.models import (
    ChapterHit,
    ChapterRef,
    CourseRequest,
    Depth,
    Pace,
    PartPlan,
    PlannedPart,
    Preferences,
    SectionPlan,
)
from chalicelib.errors import PlanningError
from chalicelib.planning import objectives, wording
from chalicelib.planning.offline import OfflinePlanner, course_title
from tests.support.chapter_fixtures import all_chapters, bare_chapter, chapter, dcf_hits

PLANNER = OfflinePlanner()
POOL = all_chapters()


def a_request(
    hours: float = 2.0, depth: str = "balanced", pace: str = "moderate", query: str = ""
) -> CourseRequest:
    preferences = Preferences(depth=Depth(depth), pace=Pace(pace))
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


def test_the_dcf_course_has_two_titled_parts_in_book_order() -> None:
    title, parts = PLANNER.plan_parts(a_request(), dcf_hits())
    assert title == "DCF Valuation"
    assert len(parts) == 2 and sum(p.minutes for p in parts) == 120
    assert all(p.title and not p.title.startswith("Part ") for p in parts)
    numbers = [ref.chapter_number for p in parts for ref in p.chapters]
    assert numbers == sorted(numbers)
    # The first part holds the most relevant chapter (4): it is the core, not "Foundations".
    assert not parts[0].title.startswith("Foundations")


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
    lowered = [t.lower() for t in titles]  # section titles are in title case
    assert any("gordon growth model" in t for t in lowered) and any("exit multiples" in t for t in lowered)
    assert all(s.sources == [terminal.ref] for p in outline for s in p.sections)
    assert checks.check_outline(request, [terminal], outline) == []


def test_a_chapter_with_nothing_to_split_still_fills_a_forty_hour_quick_course() -> None:
    request = a_request(40, "expert", "quick")
    _, outline = plan(request, [bare_chapter()])
    assert checks.check_outline(request, [bare_chapter()], outline) == []


def test_the_quarter_hour_course_is_one_section_even_at_a_thorough_pace() -> None:
    request = a_request(0.25, "overview", "thorough")
    _, outline = plan(request, dcf_hits())
    assert [[s.minutes for s in p.sections] for p in outline] == [[15]]
    assert checks.check_outline(request, dcf_hits(), outline) == []


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
    failures = checks.check_outline(request, hits, broken)
    for defect in ("budget:", "part 1 ", "outside", "not retrieved", "near-duplicates"):
        assert any(defect in failure for failure in failures), defect
    assert checks.check_outline(request, hits, PLANNER.revise(request, hits, broken, failures)) == []


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


@pytest.mark.slow
@given(HOURS, st.sampled_from(Depth), st.sampled_from(Pace), QUERIES, retrieved())
@settings(max_examples=80, deadline=None)
def test_every_offline_plan_passes_every_rule(
    hours: float, depth: Depth, pace: Pace, query: str, chapters: list[ChapterHit]
) -> None:
    request = a_request(hours, depth, pace, query)
    title, outline = plan(request, chapters)
    assert checks.check_outline(request, chapters, outline) == []
    sections = [s for p in outline for s in p.sections]
    assert sum(s.minutes for s in sections) == request.target_minutes and title
    retrieved_keys = {hit.ref.key for hit in chapters}
    assert all(s.sources and {r.key for r in s.sources} <= retrieved_keys for s in sections)
    levels = [rules.verb_level(o) for s in sections for o in s.objectives]
    if depth is Depth.EXPERT:
        assert not {"remember", "understand"} & set(levels)
    if depth is Depth.OVERVIEW:
        assert 2 * sum(level in ("remember", "understand") for level in levels) >= len(levels)
    assert_reads_well(outline)
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
    assert checks.check_outline(request, chapters, outline) == []
    assert_reads_well(outline)


# --- how the outline reads ----------------------------------------------------------------------


def assert_reads_well(outline: list[PlannedPart]) -> None:
    """The limits any outline keeps, whatever its chapters: short titles, distinct part titles,
    objectives unique across the course and of a readable length."""
    sections = [s for p in outline for s in p.sections]
    assert all(len(s.title) <= wording.TITLE_LIMIT for s in sections), [s.title for s in sections]
    assert all(len(p.title) <= wording.PART_TITLE_LIMIT for p in outline), [p.title for p in outline]
    assert len({p.title.lower() for p in outline}) == len(outline)
    lines = [o for s in sections for o in s.objectives]
    assert len({" ".join(o.lower().split()) for o in lines}) == len(lines), lines


SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"
VALUATION, STATEMENTS = "corporate-finance-valuation", "financial-statement-analysis"
# What the library retrieved for "Learn DCF valuation" from the sample books (chapter, similarity).
DCF_SAMPLE = [
    (VALUATION, 12, 0.407), (VALUATION, 1, 0.38), (VALUATION, 7, 0.358), (VALUATION, 8, 0.354),
    (VALUATION, 11, 0.352), (VALUATION, 3, 0.335), (STATEMENTS, 11, 0.331), (STATEMENTS, 9, 0.321),
    (VALUATION, 6, 0.307), (STATEMENTS, 4, 0.305),
]  # fmt: skip
SAMPLE_REQUESTS = [
    (2, "balanced", "moderate"), (6, "expert", "thorough"), (1, "overview", "quick"),
    (4, "technical", "moderate"), (20, "balanced", "quick"), (0.5, "overview", "thorough"),
]  # fmt: skip


def sample_hits(picks: list[tuple[str, int, float]]) -> list[ChapterHit]:
    books = {stem: read_book_file(SAMPLES / f"{stem}.json") for stem in {stem for stem, _, _ in picks}}
    hits = []
    for stem, number, similarity in picks:
        book = books[stem]
        chapter = next(c for c in book.chapters if c.number == number)
        hits.append(
            ChapterHit(
                book_id=stem,
                book_title=book.title,
                chapter_number=number,
                chapter_title=chapter.title,
                summary=chapter.summary,
                topics=list(chapter.topics),
                key_concepts=list(chapter.key_concepts),
                similarity=similarity,
            )
        )
    return hits


def plan_sample(hours: float, depth: str, pace: str) -> tuple[list[ChapterHit], list[PlannedPart]]:
    hits = sample_hits(DCF_SAMPLE)
    request = a_request(hours, depth, pace)
    _, outline = plan(request, hits)
    assert checks.check_outline(request, hits, outline) == []
    return hits, outline


def is_title_case(title: str) -> bool:
    words = title.replace("-", " ").replace(":", " ").split()
    return all(not w[0].isalpha() or w[0].isupper() or w in wording.SMALL_WORDS for w in words)


@pytest.mark.parametrize(("hours", "depth", "pace"), SAMPLE_REQUESTS)
def test_no_section_title_glues_two_chapter_titles_together_with_a_comma(
    hours: float, depth: str, pace: str
) -> None:
    hits, outline = plan_sample(hours, depth, pace)
    titles = [s.title for p in outline for s in p.sections]
    chapter_titles = [h.chapter_title for h in hits]
    for a in chapter_titles:
        for b in chapter_titles:
            assert not any(f"{a}, {b}" in t for t in titles if a != b), (a, b)
    assert all(is_title_case(t) for t in titles), titles
    assert_reads_well(outline)


@pytest.mark.parametrize(("hours", "depth", "pace"), SAMPLE_REQUESTS)
def test_objectives_are_unique_and_open_in_varied_ways(hours: float, depth: str, pace: str) -> None:
    _, outline = plan_sample(hours, depth, pace)
    lines = [o for p in outline for s in p.sections for o in s.objectives]
    openings = [" ".join(o.lower().split()[:2]) for o in lines]
    assert len(set(openings)) > 1 and 2 * len(set(openings)) >= len(lines), openings
    assert len({o.split()[0] for o in lines}) >= min(len(lines), 6)
    assert all(len(o) <= objectives.OBJECTIVE_LIMIT for o in lines)
    assert not any(" roic" in o or " wacc" in o or " capm" in o for o in lines)  # acronyms kept


def test_objectives_draw_on_topics_key_concepts_and_their_formulas() -> None:
    hits, outline = plan_sample(6, "expert", "thorough")
    text = " ".join(o for p in outline for s in p.sections for o in s.objectives)
    concepts = {c for hit in hits for c in hit.key_concepts}
    formulas = {c for c in concepts if "=" in c}
    named = {c.lower() for c in concepts - formulas}
    topics = {t.lower() for hit in hits for t in hit.topics} - named
    assert formulas and any(formula in text for formula in formulas)  # written as the book writes it
    assert any(concept in text.lower() for concept in named)
    assert any(topic in text.lower() for topic in topics)


def words_of(title: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[\w-]+", title) if w.lower() not in wording.SMALL_WORDS}


def test_the_two_hour_dcf_course_pairs_chapters_of_one_book_under_short_titles() -> None:
    hits, outline = plan_sample(2, "balanced", "moderate")
    chapter_title = {hit.ref.key: hit.chapter_title for hit in hits}
    paired = [s for p in outline for s in p.sections if len(s.sources) > 1]
    assert paired and all(len({r.book_id for r in s.sources}) == 1 for s in paired)
    for section in paired:
        first, second = (chapter_title[ref.key] for ref in section.sources)
        # Shorter than the two titles joined, and still naming each chapter.
        assert len(section.title) < len(f"{first} and {second}"), section.title
        assert words_of(section.title) & words_of(first) and words_of(section.title) & words_of(second)
    assert all(len(p.title) <= wording.PART_TITLE_LIMIT for p in outline)


def test_a_section_pairs_chapters_of_the_same_book_when_one_is_available() -> None:
    # Course order interleaves the books (7, 7, 8, 8); an hour has room for two sections.
    hits = [
        chapter("valuation", 7, 0.8), chapter("systems", 7, 0.78),
        chapter("valuation", 8, 0.77), chapter("systems", 8, 0.76),
    ]  # fmt: skip
    request = a_request(1)
    _, outline = plan(request, hits)
    sections = [s for p in outline for s in p.sections]
    assert checks.check_outline(request, hits, outline) == []
    assert any(len(s.sources) == 2 for s in sections)
    assert all(len({r.book_id for r in s.sources}) == 1 for s in sections)
    assert {tuple(r.chapter_number for r in s.sources) for s in sections if len(s.sources) == 2} == {(7, 8)}


def test_every_objective_shape_begins_with_a_verb_of_its_bloom_level() -> None:
    for level in rules.BLOOM_LEVELS:
        for quantitative in (False, True):
            assert all(rules.verb_level(shape) == level for shape in objectives.shapes(level, quantitative))


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Value Creation and the Purpose of the Firm", "Value Creation"),
        ("From Accounting Earnings to Free Cash Flow to the Firm", "Free Cash Flow to the Firm"),
        ("Terminal Value: Gordon Growth and Exit Multiples", "Terminal Value"),
        ("Inventory, Depreciation and Accounting Choices", "Accounting Choices"),
        ("Valuing Young and High-Growth Companies", "Valuing Young and High-Growth Companies"),
    ],
)
def test_a_chapter_has_a_short_name(title: str, name: str) -> None:
    assert wording.chapter_name(title) == name


@pytest.mark.parametrize(
    ("first", "second", "title"),
    [
        ("Valuing Young and High-Growth Companies", "Valuing Distressed and Declining Firms",
         "Valuing Young Companies and Distressed Firms"),
        ("Linear Regression and Gradient Descent", "Logistic Regression and Classification",
         "Linear and Logistic Regression"),
        ("Cost of Debt, Capital Structure and WACC", "The Cost of Equity and the CAPM",
         "Cost of Debt and Cost of Equity"),
        ("Querying with SQL: Selecting, Filtering and Sorting", "Joins and Set Operations",
         "From Querying with SQL to Joins and Set Operations"),
    ],
)  # fmt: skip
def test_two_chapters_make_one_short_title(first: str, second: str, title: str) -> None:
    assert wording.pair_title(wording.name_options(first), wording.name_options(second)) == title


def test_mid_sentence_words_keep_acronyms_and_names_but_lower_ordinary_words() -> None:
    vocabulary = wording.Vocabulary.of(all_chapters())
    assert wording.lower_inside("Growing perpetuity", vocabulary) == "growing perpetuity"
    assert wording.lower_inside("Merton model", vocabulary) == "Merton model"
    assert wording.lower_inside("Implied ROIC check", vocabulary) == "implied ROIC check"
    assert wording.lower_inside("Top-down revenue build", vocabulary) == "top-down revenue build"
    assert wording.title_case("exit multiple method vs. EV/EBITDA") == "Exit Multiple Method vs. EV/EBITDA"
