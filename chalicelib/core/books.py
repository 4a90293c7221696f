"""A book as the library holds it (docs/formats.md#book-files): chapters with their summaries,
topics and key concepts, validated; its stable id, and the text of a chapter that gets embedded.
Reading files (and the legacy format) is the book_files adapter's."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

MAX_CHAPTER_NUMBER = 2**31 - 1  # the library stores chapter numbers as PostgreSQL integers


def no_nul(value: str) -> str:
    # PostgreSQL text (and jsonb) cannot hold NUL: refuse it here, with the field's name.
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL characters")
    return value


Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(no_nul)]
OptionalText = Annotated[StrictStr, StringConstraints(strip_whitespace=True), AfterValidator(no_nul)]


def check_unique_numbers(numbers: list[int], field: str) -> None:
    seen: set[int] = set()
    for index, number in enumerate(numbers):
        if number in seen:
            raise PydanticCustomError(
                "duplicate_chapter_number",
                "duplicate chapter number {number}",
                {"index": index, "field": field, "number": number},
            )
        seen.add(number)


class _BookModel(BaseModel):
    # Unknown fields are refused so a misspelt "key_concept" is reported, not silently dropped.
    model_config = ConfigDict(extra="forbid", frozen=True)


class BookSection(_BookModel):
    title: Text
    topics: list[Text] = []
    key_concepts: list[Text] = []


class Chapter(_BookModel):
    number: Annotated[StrictInt, Field(ge=0, le=MAX_CHAPTER_NUMBER)]
    title: Text
    summary: Text
    topics: list[Text] = []
    key_concepts: list[Text] = []
    sections: list[BookSection] = []


class Book(_BookModel):
    title: Text
    author: Text
    summary: OptionalText = ""
    # sha256 of the document a book was derived from (`coursegen library add`); part of its id,
    # so a second edition is another book and adding the same document again changes nothing.
    source_sha256: Annotated[StrictStr, StringConstraints(pattern=r"^(?:[0-9a-f]{64})?$")] = ""
    chapters: Annotated[list[Chapter], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_chapter_numbers(self) -> Book:
        check_unique_numbers([chapter.number for chapter in self.chapters], "number")
        return self


# --- identity and the text that gets embedded -------------------------------------------------


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def book_id(book: Book, owner: str | None = None) -> str:
    """Stable id from title and author (case and spacing ignored), the source document's hash
    for a book derived from one, and the owner of a book only its owner sees (None: shared).
    Reloading a book replaces it; two owners' copies of one document are two books."""
    key = f"{_normalise(book.title)}\n{_normalise(book.author)}"
    if book.source_sha256:
        key += f"\n{book.source_sha256}"
    if owner is not None:
        key += f"\nowner:{owner}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    ascii_title = unicodedata.normalize("NFKD", book.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:40].rstrip("-")
    return f"{slug or 'book'}-{digest[:10]}"


def chapter_text(chapter: Chapter) -> str:
    """What represents a chapter in the vector index: its title, summary, topics and concepts."""
    parts = [f"{chapter.title}.", chapter.summary]
    if chapter.topics:
        parts.append("Topics: " + "; ".join(chapter.topics) + ".")
    if chapter.key_concepts:
        parts.append("Key concepts: " + "; ".join(chapter.key_concepts) + ".")
    return " ".join(parts)
