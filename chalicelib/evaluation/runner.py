"""`coursegen eval`: loads the library into a throwaway data folder with its own embedded
PostgreSQL, generates every request through the workflow `coursegen generate` uses, scores the
outlines and prints the table. The folder and its server are removed afterwards."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from ..config import Settings
from ..core.books import Book
from ..core.models import CourseRequest, Outline, Preferences, Status
from ..errors import CourseGenError
from ..workflow import Workflow
from . import lint, report
from .dataset import EvalRequest, EvalSetError, catalog_of, read_library, read_requests
from .metrics import ChapterKey, Section

COURSE_TIMEOUT = 300.0  # seconds one course may take before it counts as failed
POLL = 0.02  # seconds between reads of a course's state while it is built


def run(
    requests_path: Path,
    library_dir: Path,
    app: Any,
    *,
    planner: str | None = None,
    only: Sequence[str] = (),
    as_json: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Evaluate and print; 0 when every threshold is met, 1 otherwise."""
    out, err = out or sys.stdout, err or sys.stderr
    requests = select(read_requests(requests_path), only)
    books = read_library(library_dir)
    catalog = catalog_of(books)
    texts = chapter_texts(books)
    names = names_of(books, requests)
    results = []
    with throwaway_workflow(books, app, planner, err) as (flow, user):
        for index, request in enumerate(requests, start=1):
            outcome = generate(flow, user, request)
            result = report.score(request, outcome, catalog, texts.get, names)
            results.append(result)
            verdict = "pass" if result.passed else "MISS: " + "; ".join(result.misses)
            took = f"{outcome.status} in {outcome.seconds:.1f} s"
            print(f"[{index:>2}/{len(requests)}] {request.id}: {took}, {verdict}", file=err)
    evaluation = report.build_report(requests, results)
    if as_json:
        out.write(json.dumps(report.as_json(evaluation), indent=2) + "\n")
    else:
        out.write(report.render_text(evaluation))
    return 0 if evaluation.passed else 1


def select(requests: list[EvalRequest], only: Sequence[str]) -> list[EvalRequest]:
    if not only:
        return requests
    known = {request.id for request in requests}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise EvalSetError(f"no request with id {', '.join(map(repr, unknown))}")
    wanted = set(only)
    return [request for request in requests if request.id in wanted]


def chapter_texts(books: Sequence[Book]) -> dict[ChapterKey, lint.ChapterText]:
    texts = {}
    for book in books:
        for chapter in book.chapters:
            parts = [chapter.summary, *chapter.topics, *chapter.key_concepts]
            for section in chapter.sections:
                parts += [section.title, *section.topics, *section.key_concepts]
            texts[(book.title, chapter.number)] = lint.ChapterText(chapter.title, " ".join(parts))
    return texts


def names_of(books: Sequence[Book], requests: Sequence[EvalRequest]) -> lint.Names:
    """The library's names, from its running text (chapter summaries and the queries), its
    glossary terms (natural casing) and its titles (where a lower-case word proves a common one)."""
    prose = [request.query for request in requests]
    terms: list[str] = []
    titles: list[str] = []
    for book in books:
        for chapter in book.chapters:
            prose.append(chapter.summary)
            terms += chapter.key_concepts
            titles += [chapter.title, *chapter.topics]
            for section in chapter.sections:
                terms += section.key_concepts
                titles += [section.title, *section.topics]
    return lint.Names(prose, terms, titles)


@contextmanager
def throwaway_workflow(
    books: Sequence[Book], app: Any, planner: str | None, err: TextIO
) -> Iterator[tuple[Workflow, str]]:
    """The local workflow over a new data folder holding only `books`; removed on exit."""
    from .. import bootstrap
    from ..adapters.localpg import LocalPostgres

    folder = Path(tempfile.mkdtemp(prefix="coursegen-eval-"))
    os.chmod(folder, 0o755)  # PostgreSQL runs as an unprivileged user when we run as root
    server = LocalPostgres(folder, durable=False)  # thrown away: crash safety buys nothing
    try:
        started = time.monotonic()
        server.ensure_running()
        settings = replace(Settings.from_env(), runtime="local", aws=None, data_dir=folder)
        if planner:
            settings = replace(settings, planner=planner)
        flow = bootstrap.configure(settings, app)
        bootstrap.make_library_admin(settings).load(list(books), flow.deps.embedder)
        chapters = sum(len(book.chapters) for book in books)
        print(
            f"loaded {len(books)} book(s), {chapters} chapters into a throwaway library in "
            f"{time.monotonic() - started:.1f} s (planner {settings.planner}, embedder {settings.embedder})",
            file=err,
        )
        try:
            yield flow, settings.local_user
        finally:
            _wait_for_the_bus(flow)
    finally:
        bootstrap.reset()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def generate(
    flow: Workflow, user: str, request: EvalRequest, timeout: float = COURSE_TIMEOUT
) -> report.Outcome:
    """Submit the request and wait for the course to end, as `coursegen generate` does."""
    started = time.monotonic()
    try:
        course_request = CourseRequest(
            query=request.query,
            hours=request.hours,
            preferences=Preferences(depth=request.depth, pace=request.pace),
        )
    except ValidationError as error:
        return report.Outcome("invalid", reason=str(error.errors()[0]["msg"]))
    try:
        state = flow.submit(user, course_request)
    except CourseGenError as error:  # the query could not be embedded: this course fails, not the run
        return report.Outcome(
            "failed", phase="request", reason=str(error), seconds=time.monotonic() - started
        )
    while True:
        current = flow.deps.state_store.get(state.course_id)
        assert current is not None
        if current.status.is_terminal:
            break
        if time.monotonic() - started > timeout:
            return report.Outcome(
                "timeout", reason=f"still {current.status.value} after {timeout:g} s", seconds=timeout
            )
        time.sleep(POLL)
    _wait_for_the_bus(flow)
    seconds = time.monotonic() - started
    if current.status is Status.FAILED:
        failure = current.error
        return report.Outcome(
            "failed",
            phase=failure.phase if failure else "",
            reason=failure.reason if failure else "",
            seconds=seconds,
        )
    outline = flow.view(user, state.course_id).outline
    assert outline is not None
    return report.Outcome("complete", sections=sections_of(outline), seconds=seconds)


def sections_of(outline: Outline) -> tuple[Section, ...]:
    return tuple(
        Section(
            minutes=section.minutes,
            objectives=tuple(section.objectives),
            cites=tuple((source.book_title, source.chapter_number) for source in section.sources),
            title=section.title,
        )
        for part in outline.parts
        for section in part.sections
    )


def _wait_for_the_bus(flow: Workflow) -> None:
    from ..adapters.local_bus import LocalBus

    if isinstance(flow.deps.publisher, LocalBus):
        flow.deps.publisher.wait_idle(timeout=10)
