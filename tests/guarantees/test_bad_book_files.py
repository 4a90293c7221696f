"""Malformed book files are refused with an error naming the file (and the field), and leave the
library exactly as it was; well-formed ones with odd content load whole and read back intact."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import cli
from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.pg import ConnectionFactory, session
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.core.books import Book, Chapter, book_id
from chalicelib.errors import BookFileError
from tests.support.documents import get_path, set_path

from .support import Embedded, library_fingerprint

NEW: dict[str, Any] = {
    "title": "Cash and Value",
    "author": "R. Okafor",
    "summary": "Valuation from the cash a business makes.",
    "chapters": [
        {
            "number": 1,
            "title": "Free cash flow",
            "summary": "From NOPAT to the cash left for investors.",
            "topics": ["free cash flow", "reinvestment"],
            "key_concepts": ["NOPAT", "FCFF"],
            "sections": [{"title": "NOPAT", "topics": ["operating taxes"], "key_concepts": ["NOPAT"]}],
        },
        {
            "number": 2,
            "title": "Discount rates",
            "summary": "The cost of capital a project must earn.",
            "topics": ["cost of capital"],
            "key_concepts": ["WACC"],
        },
    ],
}
LEGACY: dict[str, Any] = {
    "source_title": "Old Notes on Value",
    "author": "A. Writer",
    "source_summary": "Carried over from the old system.",
    "chapters": [
        {
            "chapter_number": 3,
            "chapter_title": "Discounting",
            "summary": "Time value of money.",
            "sections": [
                {"section_title": "Present value", "topics": ["discounting"], "key_concepts": ["PV"]},
            ],
        },
        {"chapter_number": 4, "chapter_title": "Annuities", "summary": "Level payments over time."},
    ],
}

# Text fields (a path into the book) and the integer field of each format.
NEW_TEXT = ["title", "author", "chapters.0.title", "chapters.1.summary", "chapters.0.topics.1"]
NEW_TEXT += ["chapters.0.sections.0.title", "chapters.1.key_concepts.0"]
LEGACY_TEXT = ["source_title", "author", "chapters.0.chapter_title", "chapters.1.summary"]
LEGACY_TEXT += ["chapters.0.sections.0.section_title", "chapters.0.sections.0.topics.0"]
REQUIRED = {
    "new": ["title", "author", "chapters", "chapters.0.number", "chapters.1.title", "chapters.0.summary"],
    "legacy": ["source_title", "author", "chapters", "chapters.1.chapter_number", "chapters.0.summary"],
}
NUMBER = {"new": "chapters.1.number", "legacy": "chapters.1.chapter_number"}
MAX_NUMBER = 2**31 - 1  # what the library's integer column holds


def field_name(path: str) -> str:
    """How an error message names a path: chapters.0.title -> chapters[0].title."""
    name = ""
    for part in path.split("."):
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
not_text = json_values.filter(lambda value: not isinstance(value, str))
not_an_integer = (
    json_values | st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x))
).filter(lambda value: isinstance(value, bool) or not isinstance(value, int))


@st.composite
def malformed_books(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A book with one defect, and the field the error must name."""
    kind = draw(st.sampled_from(["new", "legacy"]))
    book, text_fields = (NEW, NEW_TEXT) if kind == "new" else (LEGACY, LEGACY_TEXT)
    defect = draw(st.sampled_from(["missing", "not text", "blank", "NUL", "surrogate", "number", "extra"]))
    if defect == "missing":
        path = draw(st.sampled_from(REQUIRED[kind]))
        return set_path(book, path, ...), field_name(path)
    if defect in ("not text", "blank", "NUL", "surrogate"):
        path = draw(st.sampled_from(text_fields))
        text = get_path(book, path)
        value = {
            "not text": draw(not_text),
            "blank": draw(st.sampled_from(["", " ", "\t\n"])),
            "NUL": text + "\x00",
            "surrogate": text[:2] + draw(st.sampled_from(["\ud800", "\udfff", "\udc00x"])),
        }[defect]
        return set_path(book, path, value), field_name(path)
    if defect == "number":
        path = NUMBER[kind]
        bad = draw(st.integers(max_value=-1) | st.integers(min_value=MAX_NUMBER + 1) | not_an_integer)
        if kind == "legacy" and isinstance(bad, str):
            bad = "x" + bad  # the legacy format reads "3" as 3: keep it a non-number
        if kind == "legacy" and isinstance(bad, float) and bad == int(bad):
            bad += 0.5  # ... and 3.0 as 3
        taken = get_path(book, path.replace("1", "0", 1))
        value = draw(st.sampled_from([bad, taken]))  # out of range, not an integer, or a duplicate
        return set_path(book, path, value), field_name(path)
    if kind == "legacy":  # the legacy format ignores fields it does not know: drop the chapters
        return set_path(book, "chapters", draw(st.sampled_from([[], {}, "none"]))), "chapters"
    path = draw(st.sampled_from(["", "chapters.0.", "chapters.0.sections.0."]))
    keys = st.text(st.characters(exclude_characters="."), min_size=1, max_size=6)
    key = draw(keys.filter(lambda k: not k.isdigit() and k not in get_path_or_book(book, path)))
    return set_path(book, path + key, draw(json_values)), ""


def get_path_or_book(book: dict[str, Any], prefix: str) -> Any:
    return get_path(book, prefix.rstrip(".")) if prefix else book


def encode(book: Any) -> bytes:
    # ensure_ascii writes a lone surrogate as its \\u escape, as a careless exporter would
    return json.dumps(book, ensure_ascii=True).encode()


unreadable_files = st.one_of(
    st.binary(max_size=40),
    st.integers(1, len(encode(NEW)) - 1).map(lambda n: encode(NEW)[:n]),  # cut off
    st.sampled_from([b"", b"[]", b"null", b'"a book"', b"\xff\xfe{}", b"[" * 100_000, b'{"a": ' * 50_000]),
    st.binary(min_size=1, max_size=4).map(lambda junk: encode(NEW)[:30] + b"\xc3\x28" + junk),  # not UTF-8
)


def assert_refused_naming(error: BookFileError, path: Path, field: str) -> None:
    message = str(error)
    assert message.startswith(f"{path}: "), message
    assert "Traceback" not in message
    if field:
        assert f"{path}: {field}" in message, message


def test_any_malformed_book_file_is_refused_naming_file_and_field_and_the_library_is_unchanged(
    scratch_library: PgLibrary, scratch_connect: ConnectionFactory, embedded: Embedded, tmp_path: Path
) -> None:
    library_before = library_fingerprint(scratch_connect)
    cases: list[str] = []

    @settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @given(case=st.one_of(malformed_books(), unreadable_files.map(lambda raw: (raw, ""))))
    def refused(case: tuple[Any, str]) -> None:
        content, field = case
        path = tmp_path / "book.json"
        path.write_bytes(content if isinstance(content, bytes) else encode(content))
        with pytest.raises(BookFileError) as raised:
            scratch_library.load([read_book_file(path)], embedded.flow.deps.embedder)
        assert_refused_naming(raised.value, path, field)
        cases.append(field)

    refused()
    assert library_fingerprint(scratch_connect) == library_before
    assert len(cases) >= 100


odd_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=300).filter(
    lambda text: text.strip()
)


@st.composite
def odd_but_valid_books(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed books whose text is any Unicode and whose numbers span the allowed range."""
    numbers = draw(st.lists(st.integers(0, MAX_NUMBER), min_size=1, max_size=3, unique=True))
    chapters = [
        {
            "number": number,
            "title": draw(odd_text),
            "summary": draw(odd_text),
            "topics": draw(st.lists(odd_text, max_size=2)),
            "key_concepts": draw(st.lists(odd_text, max_size=2)),
        }
        for number in numbers
    ]
    return {"title": draw(odd_text), "author": draw(odd_text), "chapters": chapters}


def test_a_well_formed_book_with_any_text_loads_whole_and_reads_back_exactly(
    scratch_library: PgLibrary, scratch_connect: ConnectionFactory, embedded: Embedded, tmp_path: Path
) -> None:
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(book=odd_but_valid_books())
    def loads(book: dict[str, Any]) -> None:
        path = tmp_path / "odd.json"
        path.write_bytes(encode(book))
        parsed = read_book_file(path)
        scratch_library.load([parsed], embedded.flow.deps.embedder)
        in_order = sorted(parsed.chapters, key=lambda chapter: chapter.number)
        assert read_back(scratch_connect, book_id(parsed)) == parsed.model_copy(update={"chapters": in_order})

    loads()


def read_back(connect: ConnectionFactory, identifier: str) -> Book:
    with session(connect) as conn:
        [(title, author, summary)] = conn.run(
            "SELECT title, author, summary FROM books WHERE id = :id", id=identifier
        )
        rows = conn.run(
            "SELECT number, title, summary, topics, key_concepts, sections FROM chapters"
            " WHERE book_id = :id ORDER BY number",
            id=identifier,
        )
    chapters = [
        Chapter(number=n, title=t, summary=s, topics=tp, key_concepts=kc, sections=sec)
        for n, t, s, tp, kc, sec in rows
    ]
    return Book(title=title, author=author, summary=summary, chapters=chapters)


def test_a_batch_that_fails_inside_postgresql_leaves_the_library_as_it_was(
    scratch_library: PgLibrary, scratch_connect: ConnectionFactory, embedded: Embedded
) -> None:
    good = Book.model_validate(NEW)
    # Past the reader's checks (built without validation), refused by PostgreSQL mid-batch.
    broken = Book.model_construct(
        title="Broken",
        author="Nobody",
        summary="",
        chapters=[Chapter.model_construct(**{**NEW["chapters"][1], "number": 2**40, "sections": []})],
    )
    before = library_fingerprint(scratch_connect)

    with pytest.raises(Exception):  # noqa: B017 (the database's own error)
        scratch_library.load([good, broken], embedded.flow.deps.embedder)

    assert library_fingerprint(scratch_connect) == before


CLI_CASES = {
    "not JSON": (b"{ not json", ""),
    "nested too deep": (b"[" * 100_000, ""),
    "duplicate chapter": (encode(set_path(NEW, "chapters.1.number", 1)), "chapters[1].number"),
    "chapter number too large": (encode(set_path(NEW, "chapters.1.number", 2**40)), "chapters[1].number"),
    "legacy chapter number true": (
        encode(set_path(LEGACY, "chapters.1.chapter_number", True)),
        "chapters[1].chapter_number",
    ),
    "NUL in a topic": (encode(set_path(NEW, "chapters.0.topics.0", "a\x00b")), "chapters[0].topics[0]"),
    "unpaired surrogate": (encode(set_path(NEW, "author", "R. \ud800")), "author"),
    "no chapters": (encode(set_path(NEW, "chapters", [])), "chapters"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_coursegen_library_load_refuses_a_malformed_file_with_a_clear_error_and_loads_nothing(
    embedded: Embedded,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    project_logs: logging.Logger,
    case: str,
) -> None:
    content, field = CLI_CASES[case]
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_bytes(encode({**NEW, "title": "A Book That Must Not Load"}))
    bad.write_bytes(content)
    before = library_fingerprint(embedded.connect)

    status = cli.main(["--data-dir", str(embedded.data_dir), "library", "load", str(good), str(bad)])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(f"coursegen: error: {bad}: "), err
    assert "Traceback" not in err
    if field:
        assert f"{bad}: {field}" in err, err
    assert library_fingerprint(embedded.connect) == before
