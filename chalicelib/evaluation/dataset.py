"""The evaluation set on disk: the annotated requests file and the library folder of book files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..adapters.book_files import read_book_file
from ..core.books import Book
from ..core.models import Depth, Pace
from ..errors import CourseGenError
from .metrics import Catalog, CatalogChapter, ChapterKey, Expected


class EvalSetError(CourseGenError):
    """The requests file or the library folder cannot be used; the message names the file."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChapterEntry(_Model):
    book: str
    chapter: int

    @property
    def key(self) -> ChapterKey:
        return (self.book, self.chapter)


class ExpectedChapter(ChapterEntry):
    counterpart: ChapterEntry | None = None

    @property
    def expected(self) -> Expected:
        return Expected(self.key, self.counterpart.key if self.counterpart else None)


class EvalRequest(_Model):
    """One annotated request: what a learner sends, and what a good course must do."""

    id: Annotated[str, Field(min_length=1)]
    query: str
    hours: float
    depth: Depth = Depth.BALANCED
    pace: Pace = Pace.MODERATE
    expect_books: list[str] = []
    expect_chapters: list[ExpectedChapter] = []
    off_topic_books: list[str] = []
    note: str = ""

    @property
    def expects_refusal(self) -> bool:
        return not self.expect_books

    @property
    def expected(self) -> list[Expected]:
        return [entry.expected for entry in self.expect_chapters]


def read_requests(path: Path) -> list[EvalRequest]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise EvalSetError(f"{path}: cannot read the requests: {error.strerror or error}") from None
    except ValueError as error:
        raise EvalSetError(f"{path}: the requests are not valid JSON: {error}") from None
    if not isinstance(raw, list):
        raise EvalSetError(f"{path}: expected a JSON list of requests")
    requests = []
    for index, item in enumerate(raw):
        try:
            requests.append(EvalRequest.model_validate(item))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise EvalSetError(f"{path}: request [{index}] {where}: {first['msg']}") from None
    ids = [request.id for request in requests]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise EvalSetError(f"{path}: request ids used twice: {', '.join(duplicates)}")
    return requests


def read_library(folder: Path) -> list[Book]:
    """Every book file (*.json) of the folder, validated, in name order."""
    if not folder.is_dir():
        raise EvalSetError(f"{folder}: not a folder of book files")
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise EvalSetError(f"{folder}: holds no book file (*.json)")
    return [read_book_file(path) for path in paths]


def catalog_of(books: list[Book]) -> Catalog:
    return Catalog.of(
        CatalogChapter(book.title, chapter.number, chapter.title, chapter.summary)
        for book in books
        for chapter in book.chapters
    )
