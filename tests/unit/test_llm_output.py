"""Reading the model's answers: durations, citation ids, JSON wherever it hides, markdown
outlines, the strict schema, and their mapping to plans."""

from __future__ import annotations

import pytest

from chalicelib.core.models import ChapterRef
from chalicelib.planning.llm_output import (
    OutlineAnswer,
    PartsAnswer,
    SectionsAnswer,
    UnreadableAnswer,
    citation_keys,
    clean_title,
    find_json,
    json_schema,
    parse_answer,
    parse_minutes,
)
from chalicelib.planning.openai_planner import to_sections


@pytest.mark.parametrize(
    ("value", "minutes"),
    [
        (25, 25),
        (25.4, 25),
        ("25", 25),
        ("25 min", 25),
        ("25 minutes", 25),
        ("45m", 45),
        ("1.5 hours", 90),
        ("1.5 h", 90),
        ("about 2 hrs", 120),
        ("1 hour 30 minutes", 90),
        ("1 h 30 min", 90),
        ("1:30 h", 90),
        ("1\u00bd hours", 90),
        ("20\u201330 minutes", 25),
        ("20 \u2014 30 min", 25),
        ("20-30", 25),
        ("20 to 30 min", 25),
        ("1-1.5 hours", 75),
        ("session 1 - 45 min", 45),
        ("n/a", None),
        (None, None),
        (True, None),
    ],
)
def test_durations_are_read_in_minutes_hours_and_ranges(value: object, minutes: int | None) -> None:
    assert parse_minutes(value) == minutes


def test_hours_fields_count_in_hours() -> None:
    assert parse_minutes(1.5, default_unit="h") == 90


def test_citation_ids_are_found_in_text_objects_and_lists_and_never_guessed() -> None:
    assert citation_keys("see val-1a2b#4, and val-1a2b # 5; stats#12") == [
        "val-1a2b#4",
        "val-1a2b#5",
        "stats#12",
    ]
    assert citation_keys([{"book_id": "a", "chapter_number": 3}, "b#2", {"id": "c#1"}]) == [
        "a#3",
        "b#2",
        "c#1",
    ]
    assert citation_keys("Chapter 4 of the valuation book") == []
    assert citation_keys(["a#1", "a#1"]) == ["a#1"]


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("**Part 1: Foundations** (90 minutes)", "Foundations"),
        ("1. **Time value of money** \u2014 25 min", "Time value of money"),
        ("### Section 2.1: Discounting (20\u201325 min) [valuation#2]", "Discounting"),
        ("- *Cost of capital*: 30 minutes", "Cost of capital"),
        ("Part II - Advanced topics, 1.5 hours", "Advanced topics"),
        (
            "Why valuation matters: practice session 1 \u2014 45 min",
            "Why valuation matters: practice session 1",
        ),
        ("Top 10 tools - 25 min", "Top 10 tools"),
    ],
)
def test_titles_lose_their_markup_numbering_durations_and_ids(raw: str, title: str) -> None:
    assert clean_title(raw) == title


def test_json_is_found_bare_in_fences_in_prose_and_with_trailing_commas() -> None:
    assert find_json('{"a": 1}') == {"a": 1}
    assert find_json('Sure!\n```json\n{"a": [1, 2,],}\n```\nAnything else?') == {"a": [1, 2]}
    assert find_json('The outline is {"a": {"b": 2}} as requested.') == {"a": {"b": 2}}
    assert find_json("\u201cno\u201d json here") is None


def test_json_answers_with_other_key_names_and_string_minutes_are_understood() -> None:
    text = """{"course": {"title": "DCF", "sections": [{"name": "**Discounting**", "duration": "20-30 min",
        "learning_objectives": "Explain discounting; Apply the PV formula (val#2)",
        "citations": [{"book_id": "val", "chapter_number": 2}]}]}}"""
    answer = parse_answer(text, "sections")
    assert isinstance(answer, SectionsAnswer)
    [section] = answer.sections
    assert (section.title, section.minutes, section.sources) == ("Discounting", 25, ["val#2"])
    assert section.objectives == ["Explain discounting", "Apply the PV formula"]


def test_a_bare_list_is_taken_as_the_items() -> None:
    answer = parse_answer(
        '[{"title": "A", "minutes": 20, "objectives": ["Explain x"], "sources": "v#1"}]', "sections"
    )
    assert isinstance(answer, SectionsAnswer) and answer.sections[0].sources == ["v#1"]


PARTS_TEXT = """Here is a plan for your course.

# Mastering DCF Valuation

**Part 1: Foundations** (1.5 hours)
Chapters: val#1, val#2

**Part 2 \u2013 Cash flows and discount rates** \u2014 90 minutes
Chapters: val#4, val#6, bogus#9
"""

SECTIONS_TEXT = """Sure! Here are the sections.

1. **Time value of money** (20\u201330 min)
   - Explain discounting and compounding
   - Apply the present value formula to a cash flow stream
   Sources: val#2
2. **Free cash flow** \u2014 35 minutes
   Objectives:
   1. Calculate FCFF from an income statement
   2. Use NOPAT to derive reinvestment (val#4)

### Section 3: Terminal value (0.5 hours) [val#8]
- Estimate a terminal value with the Gordon growth model
- Compare exit multiples with stable growth
"""

OUTLINE_TEXT = """## Part 1: Foundations (60 min)
### Time value of money (30 min)
- Explain discounting
- Apply PV
Sources: val#2
### Free cash flow (30 min)
- Calculate FCFF
- Use NOPAT
## Part 2: Discount rates (60 min)
1. Cost of equity \u2014 30 min
   - Estimate the CAPM cost of equity
   - Analyze betas
2. WACC - 30 min
   - Compute WACC
   - Apply WACC weights
"""


def test_a_markdown_parts_answer_is_read() -> None:
    answer = parse_answer(PARTS_TEXT, "parts")
    assert isinstance(answer, PartsAnswer)
    assert answer.title == "Mastering DCF Valuation"
    assert [(p.title, p.minutes, p.chapters) for p in answer.parts] == [
        ("Foundations", 90, ["val#1", "val#2"]),
        ("Cash flows and discount rates", 90, ["val#4", "val#6", "bogus#9"]),
    ]


def test_a_markdown_sections_answer_is_read() -> None:
    answer = parse_answer(SECTIONS_TEXT, "sections")
    assert isinstance(answer, SectionsAnswer)
    assert [(s.title, s.minutes, s.sources) for s in answer.sections] == [
        ("Time value of money", 25, ["val#2"]),
        ("Free cash flow", 35, ["val#4"]),
        ("Terminal value", 30, ["val#8"]),
    ]
    assert answer.sections[1].objectives == [
        "Calculate FCFF from an income statement",
        "Use NOPAT to derive reinvestment",
    ]


def test_a_markdown_outline_is_read() -> None:
    answer = parse_answer(OUTLINE_TEXT, "outline")
    assert isinstance(answer, OutlineAnswer)
    assert [(p.title, p.minutes, [s.title for s in p.sections]) for p in answer.parts] == [
        ("Foundations", 60, ["Time value of money", "Free cash flow"]),
        ("Discount rates", 60, ["Cost of equity", "WACC"]),
    ]
    assert answer.parts[1].sections[0].objectives == ["Estimate the CAPM cost of equity", "Analyze betas"]


def test_prose_without_an_outline_is_unreadable() -> None:
    with pytest.raises(UnreadableAnswer):
        parse_answer("I'm sorry, I can't help with that.", "sections")
    with pytest.raises(UnreadableAnswer):
        parse_answer('{"sections": "none"}', "sections")


def test_the_schema_is_strict_and_offers_only_the_allowed_ids() -> None:
    schema = json_schema("outline", ["b#2", "a#1"])
    section = schema["$defs"]["SectionAnswer"]
    assert section["additionalProperties"] is False
    assert section["required"] == ["title", "minutes", "objectives", "sources"]
    assert section["properties"]["sources"]["items"]["enum"] == ["a#1", "b#2"]
    assert schema["required"] == ["parts"] and schema["additionalProperties"] is False
    assert "enum" not in json_schema("sections")["$defs"]["SectionAnswer"]["properties"]["sources"]["items"]


def test_unknown_ids_are_dropped_and_reported_never_replaced() -> None:
    answer = parse_answer(SECTIONS_TEXT, "sections")
    assert isinstance(answer, SectionsAnswer)
    sections, dropped = to_sections(answer.sections, {"val#2", "val#4"})
    assert [s.sources for s in sections] == [
        [ChapterRef(book_id="val", chapter_number=2)],
        [ChapterRef(book_id="val", chapter_number=4)],
        [],
    ]
    assert dropped == ["section 'Terminal value': dropped unknown chapter id val#8"]
