"""Book files and the legacy book-summary JSON (docs/formats.md#book-files), read and validated
into `Book` (chalicelib.core.books).

Every error names the file and the field path, e.g. `x.json: chapters[3].number: duplicate ...`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..core.books import (
    MAX_CHAPTER_NUMBER,
    Book,
    BookSection,
    Chapter,
    OptionalText,
    Text,
    check_unique_numbers,
)
from ..errors import BookFileError

MAX_ERRORS_SHOWN = 5


def _not_a_bool(value: object) -> object:
    # The legacy format reads numbers leniently ("3" is 3), but true is not chapter 1.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "must be an integer")
    return value


# --- the legacy book-summary format -----------------------------------------------------------


class _LegacyModel(BaseModel):
    # The old system's files carry fields we do not use (page_range, ...): ignore them.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _LegacySection(_LegacyModel):
    section_title: Text
    topics: list[Text] = []
    key_concepts: list[Text] = []


class _LegacyChapter(_LegacyModel):
    # lax: the old files sometimes wrote "3"
    chapter_number: Annotated[int, Field(ge=0, le=MAX_CHAPTER_NUMBER), BeforeValidator(_not_a_bool)]
    chapter_title: Text
    summary: Text
    sections: list[_LegacySection] = []


class _LegacyBook(_LegacyModel):
    source_title: Text
    author: Text
    source_summary: OptionalText | None = None
    chapters: Annotated[list[_LegacyChapter], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_chapter_numbers(self) -> _LegacyBook:
        check_unique_numbers([chapter.chapter_number for chapter in self.chapters], "chapter_number")
        return self

    def to_book(self) -> Book:
        return Book(
            title=self.source_title,
            author=self.author,
            summary=self.source_summary or "",
            chapters=[_legacy_chapter(chapter) for chapter in self.chapters],
        )


def _union(lists: list[list[str]]) -> list[str]:
    return list(dict.fromkeys(item for items in lists for item in items))


def _legacy_chapter(chapter: _LegacyChapter) -> Chapter:
    return Chapter(
        number=chapter.chapter_number,
        title=chapter.chapter_title,
        summary=chapter.summary,
        topics=_union([section.topics for section in chapter.sections]),
        key_concepts=_union([section.key_concepts for section in chapter.sections]),
        sections=[
            BookSection(title=s.section_title, topics=s.topics, key_concepts=s.key_concepts)
            for s in chapter.sections
        ],
    )


# --- reading and describing errors ------------------------------------------------------------

_FRIENDLY = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "string_too_short": "must not be empty",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "list_type": "must be a list",
    "too_short": "must not be empty",
    "model_type": "must be an object",
    "string_unicode": "must be valid Unicode text (it holds an unpaired surrogate)",
    "greater_than_equal": "must be 0 or more",
    "less_than_equal": f"must be at most {MAX_CHAPTER_NUMBER}",
    "string_pattern_mismatch": "must be 64 lowercase hexadecimal digits (a sha256) or empty",
}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):  # an odd key (empty, spaces, control characters)
            path += f"[{json.dumps(part)}]"
        else:
            path += f".{part}" if path else part
    return path or "(book)"


def _describe(error: Any) -> str:
    if error["type"] == "duplicate_chapter_number":
        ctx = error["ctx"]
        return f"chapters[{ctx['index']}].{ctx['field']}: {error['msg']}"
    return f"{_field_path(error['loc'])}: {_FRIENDLY.get(error['type'], error['msg'])}"


def parse_book(data: object, source: str = "book") -> Book:
    """Validate decoded JSON (new or legacy format) into a Book; errors are prefixed by `source`."""
    if not isinstance(data, dict):
        raise BookFileError(f"{source}: a book file holds one JSON object, not {type(data).__name__}")
    is_legacy = _looks_legacy(data)
    try:
        return _LegacyBook.model_validate(data).to_book() if is_legacy else Book.model_validate(data)
    except ValidationError as error:
        problems = [_describe(item) for item in error.errors()]
        more = len(problems) - MAX_ERRORS_SHOWN
        shown = "; ".join(f"{source}: {problem}" for problem in problems[:MAX_ERRORS_SHOWN])
        raise BookFileError(shown + (f" (and {more} more)" if more > 0 else "")) from None


def _looks_legacy(data: dict[str, Any]) -> bool:
    """Whether a file is in the legacy format, even with its title missing, so that its errors
    name the legacy fields it was meant to have."""
    if "title" in data:
        return False
    if "source_title" in data or "source_summary" in data:
        return True
    chapters = data.get("chapters")
    first = chapters[0] if isinstance(chapters, list) and chapters else None
    return isinstance(first, dict) and bool({"chapter_number", "chapter_title"} & first.keys())


def read_book_file(path: str | Path) -> Book:
    """Read and validate one book file. Raises BookFileError naming the file and field."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise BookFileError(f"{name}: cannot read the file: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")  # tolerate a byte-order mark, as editors on Windows write one
    except UnicodeDecodeError as error:
        raise BookFileError(f"{name}: not UTF-8 text (invalid byte at offset {error.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BookFileError(
            f"{name}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise BookFileError(f"{name}: not a book: its JSON is nested too deeply to read") from None
    return parse_book(data, name)
