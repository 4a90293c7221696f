"""Book files: the documented format, the legacy format, and errors that name file and field."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.book_files import parse_book, read_book_file
from chalicelib.core.books import Book, book_id, chapter_text
from chalicelib.errors import BookFileError, LibraryError
from tests.support.documents import set_path

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"

VALID: dict[str, Any] = {
    "title": "Pricing the Enterprise",
    "author": "M. Okonkwo",
    "summary": "Valuation from first principles.",
    "chapters": [
        {
            "number": 1,
            "title": "Value creation",
            "summary": "Why ROIC above WACC creates value.",
            "topics": ["return on invested capital"],
            "key_concepts": ["ROIC", "WACC"],
            "sections": [{"title": "Growth and returns", "topics": ["growth"], "key_concepts": ["ROIC"]}],
        },
        {
            "number": 2,
            "title": "Free cash flow",
            "summary": "From NOPAT to free cash flow.",
            "topics": ["free cash flow"],
            "key_concepts": ["NOPAT"],
        },
    ],
}

LEGACY: dict[str, Any] = {
    "source_title": "Old Book",
    "author": "A. Writer",
    "source_summary": "Carried over from the old system.",
    "chapters": [
        {
            "chapter_number": 3,
            "chapter_title": "Discounting",
            "summary": "Time value of money.",
            "sections": [
                {
                    "section_title": "Present value",
                    "topics": ["present value", "discount rate"],
                    "key_concepts": ["PV"],
                    "page_range": "40-52",
                },
                {
                    "section_title": "Annuities",
                    "topics": ["discount rate", "annuity"],
                    "key_concepts": ["PV", "annuity formula"],
                    "page_range": [53, 60],
                },
            ],
        }
    ],
}


def write(tmp_path: Path, content: str | bytes, name: str = "x.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def with_change(path: str, value: Any) -> dict[str, Any]:
    """VALID with the field at a dotted path (list indexes as numbers) set, or removed if ...."""
    return set_path(VALID, path, value)  # type: ignore[no-any-return]


def test_a_valid_book_file_is_read_into_a_book(tmp_path: Path) -> None:
    book = read_book_file(write(tmp_path, json.dumps(VALID)))
    assert book.title == "Pricing the Enterprise"
    assert [chapter.number for chapter in book.chapters] == [1, 2]
    assert book.chapters[0].sections[0].title == "Growth and returns"
    assert book.chapters[1].sections == []


def test_optional_fields_may_be_left_out(tmp_path: Path) -> None:
    minimal = {"title": "T", "author": "A", "chapters": [{"number": 1, "title": "C", "summary": "S"}]}
    book = read_book_file(write(tmp_path, json.dumps(minimal)))
    assert book.summary == ""
    assert book.chapters[0].topics == [] and book.chapters[0].key_concepts == []


def test_surrounding_whitespace_in_text_fields_is_trimmed() -> None:
    book = parse_book(with_change("chapters.0.title", "  Value creation \n"))
    assert book.chapters[0].title == "Value creation"


def test_a_legacy_book_summary_is_accepted_and_converted() -> None:
    book = parse_book(LEGACY)
    assert (book.title, book.author, book.summary) == (
        "Old Book",
        "A. Writer",
        "Carried over from the old system.",
    )
    chapter = book.chapters[0]
    assert (chapter.number, chapter.title, chapter.summary) == (3, "Discounting", "Time value of money.")
    assert [section.title for section in chapter.sections] == ["Present value", "Annuities"]


def test_a_legacy_chapter_gets_the_union_of_its_sections_topics_and_concepts_in_order() -> None:
    chapter = parse_book(LEGACY).chapters[0]
    assert chapter.topics == ["present value", "discount rate", "annuity"]
    assert chapter.key_concepts == ["PV", "annuity formula"]


def test_a_legacy_file_is_read_from_disk_too(tmp_path: Path) -> None:
    assert read_book_file(write(tmp_path, json.dumps(LEGACY))).title == "Old Book"


def test_legacy_errors_name_the_legacy_field() -> None:
    data = copy.deepcopy(LEGACY)
    data["chapters"].append({**data["chapters"][0]})
    expected = "old.json: chapters[1].chapter_number: duplicate chapter number 3"
    with pytest.raises(BookFileError) as raised:
        parse_book(data, "old.json")
    assert str(raised.value) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (with_change("chapters.1.number", 1), "chapters[1].number: duplicate chapter number 1"),
        (with_change("chapters.1.number", "2"), "chapters[1].number: must be an integer"),
        (with_change("chapters.1.number", -1), "chapters[1].number: must be 0 or more"),
        (with_change("chapters.0.title", "   "), "chapters[0].title: must not be empty"),
        (with_change("chapters.0.summary", ...), "chapters[0].summary: required field is missing"),
        (with_change("chapters.0.topics", "valuation"), "chapters[0].topics: must be a list"),
        (with_change("chapters.0.topics.0", 7), "chapters[0].topics[0]: must be a string"),
        (with_change("chapters.0.key_concepts.1", ""), "chapters[0].key_concepts[1]: must not be empty"),
        (
            with_change("chapters.0.sections.0.title", ...),
            "chapters[0].sections[0].title: required field is missing",
        ),
        (with_change("chapters.0.key_concept", ["x"]), "chapters[0].key_concept: unknown field"),
        (with_change("chapters", []), "chapters: must not be empty"),
        (with_change("chapters", ...), "chapters: required field is missing"),
        (with_change("chapters.0", "chapter one"), "chapters[0]: must be an object"),
        (with_change("author", ...), "author: required field is missing"),
        (with_change("title", None), "title: must be a string"),
        (with_change("summary", "bad \x00 byte"), "summary: must not contain NUL characters"),
    ],
)
def test_every_book_file_error_names_the_file_and_the_field(
    tmp_path: Path, data: dict[str, Any], expected: str
) -> None:
    path = write(tmp_path, json.dumps(data))
    with pytest.raises(BookFileError) as raised:
        read_book_file(path)
    assert f"{path}: {expected}" in str(raised.value)


def test_several_problems_are_reported_together() -> None:
    data = with_change("chapters.0.title", "")
    data["chapters"][1]["summary"] = ""
    with pytest.raises(BookFileError) as raised:
        parse_book(data, "b.json")
    message = str(raised.value)
    assert "b.json: chapters[0].title: must not be empty" in message
    assert "b.json: chapters[1].summary: must not be empty" in message


def test_a_file_that_is_not_json_is_reported_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, '{"title": "T",\n  "author": }')
    with pytest.raises(BookFileError, match=r"x\.json: not valid JSON: .* line 2 column"):
        read_book_file(path)


def test_an_empty_file_is_not_valid_json(tmp_path: Path) -> None:
    with pytest.raises(BookFileError, match=r"x\.json: not valid JSON"):
        read_book_file(write(tmp_path, ""))


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, '{"title": "Caf\xe9"}'.encode("latin-1"))
    with pytest.raises(BookFileError, match=r"x\.json: not UTF-8 text"):
        read_book_file(path)


def test_a_utf8_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + json.dumps(VALID).encode())
    assert read_book_file(path).title == "Pricing the Enterprise"


def test_a_json_array_is_not_a_book(tmp_path: Path) -> None:
    with pytest.raises(BookFileError, match=r"x\.json: a book file holds one JSON object, not list"):
        read_book_file(write(tmp_path, json.dumps([VALID])))


def test_a_missing_file_is_reported_by_name(tmp_path: Path) -> None:
    with pytest.raises(BookFileError, match=r"nope\.json: cannot read the file"):
        read_book_file(tmp_path / "nope.json")


def test_book_file_errors_are_library_errors() -> None:
    assert issubclass(BookFileError, LibraryError)


def test_book_id_is_deterministic_and_readable() -> None:
    book = parse_book(VALID)
    assert book_id(book) == book_id(parse_book(copy.deepcopy(VALID)))
    assert book_id(book).startswith("pricing-the-enterprise-")


def test_book_id_ignores_case_and_spacing_but_not_the_author() -> None:
    same = parse_book({**VALID, "title": "PRICING  the enterprise", "author": "m. okonkwo"})
    other_author = parse_book({**VALID, "author": "Somebody Else"})
    assert book_id(same) == book_id(parse_book(VALID))
    assert book_id(other_author) != book_id(parse_book(VALID))


def test_a_shared_book_keeps_its_id_and_each_owner_gets_another() -> None:
    book = parse_book(VALID)
    digest = hashlib.sha256(b"pricing the enterprise\nm. okonkwo").hexdigest()[:10]
    assert book_id(book) == book_id(book, None) == f"pricing-the-enterprise-{digest}"  # as before owners
    ids = {book_id(book), book_id(book, "alice"), book_id(book, "bob")}
    assert len(ids) == 3 and all(i.startswith("pricing-the-enterprise-") for i in ids)
    assert book_id(book, "alice") == book_id(parse_book(copy.deepcopy(VALID)), "alice")


def test_book_id_of_a_title_without_latin_letters_still_works() -> None:
    book = parse_book({**VALID, "title": "価値評価"})
    assert book_id(book).startswith("book-")


def test_chapter_text_holds_title_summary_topics_and_concepts() -> None:
    text = chapter_text(parse_book(VALID).chapters[0])
    for piece in ("Value creation", "ROIC above WACC", "return on invested capital", "WACC"):
        assert piece in text


def test_every_sample_book_is_a_valid_book_file() -> None:
    books = [read_book_file(path) for path in sorted(SAMPLES.glob("*.json"))]
    assert books and all(isinstance(book, Book) and book.chapters for book in books)
    assert len({book_id(book) for book in books}) == len(books)
