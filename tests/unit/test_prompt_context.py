"""What the model is shown: the compact chapter projection under its token budget, and each
phase's prompt stating the rules of docs/planning.md#the-rules for this request."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.core import rules
from chalicelib.core.models import (
    ChapterRef,
    CourseRequest,
    Pace,
    PartPlan,
    PlannedPart,
    Preferences,
    SectionPlan,
)
from chalicelib.planning.context import (
    PHASES,
    ContextBudgets,
    chapter_index,
    estimate_tokens,
    parts_prompt,
    project_chapters,
    review_prompt,
    sections_prompt,
    template,
)
from tests.support.chapter_fixtures import all_chapters, dcf_hits


def a_request(hours: float = 6, depth: str = "balanced", pace: str = "moderate") -> CourseRequest:
    prefs = Preferences.model_validate({"depth": depth, "pace": pace})
    return CourseRequest(query='Learn "DCF" valuation', hours=hours, preferences=prefs)


def test_tokens_are_estimated_at_four_characters_each() -> None:
    assert [estimate_tokens(t) for t in ("", "abc", "abcd", "abcde")] == [0, 1, 1, 2]


def test_a_small_set_is_shown_in_full_grouped_by_book() -> None:
    hits = dcf_hits()[:3]
    projection = project_chapters(hits, 5000)
    text = projection.text
    assert text.startswith(f'Book "{hits[0].book_title}"') and text.count("Book ") == 1
    for hit in hits:
        assert f"- {hit.ref.key} {hit.chapter_title}: {hit.summary}" in text
        assert "; ".join(hit.topics) in text and "; ".join(hit.key_concepts) in text
    assert projection.keys == [hit.ref.key for hit in hits]


@pytest.mark.parametrize("budget", [2500, 1200, 600, 150])
def test_the_projection_fits_its_budget_and_keeps_the_most_similar_chapters(budget: int) -> None:
    hits = all_chapters()
    projection = project_chapters(hits, budget)
    assert estimate_tokens(projection.text) <= budget
    shown = set(projection.keys)
    left_out = [hit for hit in hits if hit.ref.key not in shown]
    if left_out:
        assert min(h.similarity for h in hits if h.ref.key in shown) >= max(h.similarity for h in left_out)
    assert all(f"- {key} " in projection.text for key in shown)


def test_the_projection_shortens_before_it_leaves_chapters_out() -> None:
    hits = all_chapters()[:14]
    full = project_chapters(hits, 100_000)
    tight = project_chapters(hits, estimate_tokens(full.text) // 2)
    assert tight.keys == full.keys and len(tight.text) < len(full.text)


def test_the_chapter_index_has_ids_and_titles_only() -> None:
    hit = dcf_hits()[0]
    index = chapter_index([hit], 100)
    assert index.text.splitlines()[1] == f"- {hit.ref.key} {hit.chapter_title}"


def test_every_template_has_a_system_and_a_user_part() -> None:
    for phase in PHASES:
        system, user = template(phase)
        assert "JSON" in system.template and "$" in user.template


@pytest.mark.parametrize(
    ("hours", "depth", "pace", "parts", "sizes"),
    [
        (1.5, "overview", "quick", "Use 1 part ", "10-20"),
        (3, "balanced", "moderate", "Use 2 or 3 parts", "15-35"),
        (20, "expert", "thorough", "Use 3 to 5 parts", "25-60"),
    ],
)
def test_the_parts_prompt_states_the_rules_for_the_request(
    hours: float, depth: str, pace: str, parts: str, sizes: str
) -> None:
    request, hits = a_request(hours, depth, pace), dcf_hits()
    prompt = parts_prompt(request, hits, ContextBudgets())
    assert parts in prompt.user and f"{request.target_minutes} minutes in all" in prompt.user
    assert f"sections of {sizes} minutes" in prompt.user and f"Depth: {depth}. Pace: {pace}." in prompt.user
    assert "Use only these ids: " + ", ".join(h.ref.key for h in hits) in prompt.user
    assert "Request: \"Learn 'DCF' valuation\"" in prompt.user
    assert prompt.allowed == {h.ref.key for h in hits}
    assert "$" not in prompt.user and "$" not in prompt.system


def test_the_parts_prompt_never_holds_more_than_its_budget_of_chapters() -> None:
    prompt = parts_prompt(a_request(), all_chapters(), ContextBudgets(parts=300))
    context = prompt.user.split("Chapters retrieved for this request:\n", 1)[1].split("\n\nAnswer", 1)[0]
    assert estimate_tokens(context) <= 300 and len(prompt.allowed) < len(all_chapters())


def a_part(chapters: list[ChapterRef], minutes: int = 120) -> PartPlan:
    return PartPlan(title="Cash flows", minutes=minutes, chapters=chapters)


def test_the_sections_prompt_has_the_parts_chapters_sizes_and_bloom_levels() -> None:
    hits = dcf_hits()
    mine = [hits[0].ref, hits[3].ref]
    parts = [a_part([hits[1].ref]), a_part(mine)]
    earlier = [[SectionPlan(title="Why value?", minutes=60, objectives=["Explain value"], sources=[])]]
    prompt = sections_prompt(a_request(4, "technical", "moderate"), hits, parts, 1, earlier, ContextBudgets())

    assert prompt.allowed == {ref.key for ref in mine}
    assert re.findall(r"^- (\S+#\d+) ", prompt.user, re.MULTILINE) == [ref.key for ref in mine]
    fewest, most = rules.section_count_range(120, Pace.MODERATE)
    assert f"{fewest} to {most} sections of 15-35 minutes" in prompt.user
    assert "adding up to exactly 120" in prompt.user or "add up to exactly 120" in prompt.user
    assert "in this order: apply, analyze, apply" in prompt.user
    assert "analyze: " + ", ".join(rules.BLOOM_VERBS["analyze"][:6]) in prompt.user
    assert 'Sections already planned: "Why value?"' in prompt.user
    assert 'Part 2: "Cash flows", 120 minutes' in prompt.user


def test_the_sections_prompt_shows_every_parts_title_minutes_and_chapters() -> None:
    hits = dcf_hits()
    parts = [
        PartPlan(title="Why 'value'?", minutes=50, chapters=[hits[1].ref]),
        PartPlan(title='The "cash" flows', minutes=70, chapters=[hits[0].ref, hits[3].ref]),
        PartPlan(title="Practice", minutes=40, chapters=[]),
    ]
    prompt = sections_prompt(a_request(), hits, parts, 1, [], ContextBudgets())

    overview = prompt.user.split("The course's parts:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert overview == [
        f"  1. \"Why 'value'?\", 50 min; chapters: {hits[1].ref.key}",
        f"  2. \"The 'cash' flows\" (this part), 70 min; chapters: {hits[0].ref.key}, {hits[3].ref.key}",
        '  3. "Practice", 40 min; chapters: none named',
    ]
    assert "Sections already planned: none" in prompt.user  # planned in parallel: none seen


def test_a_part_that_names_no_retrieved_chapter_is_offered_all_of_them() -> None:
    hits = dcf_hits()
    prompt = sections_prompt(a_request(), hits, [a_part([])], 0, [], ContextBudgets())
    assert prompt.allowed == {h.ref.key for h in hits}


def test_earlier_titles_are_capped_keeping_the_latest() -> None:
    earlier = [
        [SectionPlan(title=f"Section number {k}", minutes=20, objectives=[], sources=[]) for k in range(200)]
    ]
    prompt = sections_prompt(
        a_request(), dcf_hits(), [a_part([])], 0, earlier, ContextBudgets(earlier_titles=100)
    )
    line = prompt.user.split("Sections already planned: ", 1)[1].split("\n", 1)[0]
    assert (
        estimate_tokens(line) <= 100 and '"Section number 199"' in line and '"Section number 0"' not in line
    )


def test_the_review_prompt_has_the_failed_checks_the_outline_and_the_chapter_index() -> None:
    hits = dcf_hits()
    section = SectionPlan(title="Discounting", minutes=30, objectives=["Apply PV"], sources=[hits[0].ref])
    outline = [PlannedPart(title="Basics", minutes=30, sections=[section])]
    failed = ["budget: 30 min vs target 120 (±5%)", "section 'Discounting': 1 objectives, expected 2-6"]
    prompt = review_prompt(a_request(2), hits, outline, failed, ContextBudgets())

    assert all(f"- {check}" in prompt.user for check in failed)
    data = json.loads(prompt.user.split("Outline:\n", 1)[1].split("\n", 1)[0])
    assert data == {
        "parts": [
            {
                "title": "Basics",
                "minutes": 30,
                "sections": [
                    {
                        "title": "Discounting",
                        "minutes": 30,
                        "objectives": ["Apply PV"],
                        "sources": [hits[0].ref.key],
                    }
                ],
            }
        ]
    }
    assert all(f"- {h.ref.key} {h.chapter_title}" in prompt.user for h in hits)
    assert hits[0].summary not in prompt.user  # the reviewer needs ids and titles, not summaries
