"""The coursegen commands for courses and library hygiene: list, show, export, retry and delete
a course; remove a book; warn when a reloaded book loses chapters; refuse an empty library."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.cli import main
from chalicelib.core.books import book_id
from chalicelib.core.models import Outline
from chalicelib.render import outline_markdown
from tests.support.waiting import wait_until

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"
DATABASES = SAMPLES / "databases-sql-data-engineering.json"
NUTRITION = SAMPLES / "nutrition-exercise-physiology.json"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="coursegen-cli-courses-"))
    os.chmod(path, 0o755)  # reachable by the unprivileged PostgreSQL user when tests run as root
    LocalPostgres(path).ensure_running()  # kept running across commands, as `db start` would
    yield path
    LocalPostgres(path).stop()
    shutil.rmtree(path, ignore_errors=True)


def coursegen(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), *args])


def listed_ids(data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert coursegen(data_dir, "courses", "list", *args) == 0
    return [line.split()[0] for line in capsys.readouterr().out.splitlines()]


def test_with_an_empty_library_generate_says_so_and_makes_no_course(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert coursegen(data_dir, "generate", "Learn DCF valuation", "--hours", "1") == 1
    err = capsys.readouterr().err
    assert "the library is empty" in err and "no chapter" not in err
    assert "coursegen samples ./books" in err  # how a first run gets books
    assert listed_ids(data_dir, capsys) == []


def test_a_failed_course_is_listed_shown_and_resumed_by_retry(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert coursegen(data_dir, "library", "load", str(NUTRITION)) == 0
    assert coursegen(data_dir, "generate", "Learn SQL joins and indexing", "--hours", "1") == 1
    assert "failed in search" in capsys.readouterr().err
    [course_id] = listed_ids(data_dir, capsys, "--status", "failed")

    assert coursegen(data_dir, "courses", "show", course_id) == 0
    shown = capsys.readouterr().out
    assert "status   failed\n" in shown and "error    in search: no chapter" in shown
    assert f"coursegen courses retry {course_id}" in shown
    assert coursegen(data_dir, "courses", "export", course_id) == 1
    assert "only a complete course has an outline" in capsys.readouterr().err

    assert coursegen(data_dir, "library", "load", str(DATABASES)) == 0
    capsys.readouterr()
    assert coursegen(data_dir, "courses", "retry", course_id) == 0
    retried = capsys.readouterr()
    assert retried.out.startswith("# ") and "Sources: " in retried.out
    assert retried.err.startswith("[  0.0s] queued\n") and retried.err.rstrip().endswith("complete")
    assert listed_ids(data_dir, capsys, "--status", "failed") == []

    assert coursegen(data_dir, "courses", "show", course_id, "--json") == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["course_id"], body["status"], body["retries"], body["error"]) == (
        course_id,
        "complete",
        1,
        None,
    )
    assert coursegen(data_dir, "courses", "retry", course_id) == 1
    assert "only a failed course can be retried" in capsys.readouterr().err


def test_a_course_is_exported_listed_in_pages_and_deleted(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert coursegen(data_dir, "library", "load", str(DATABASES)) == 0
    for hours in ("1", "0.5"):
        assert coursegen(data_dir, "generate", "Learn SQL joins and indexing", "--hours", hours) == 0
    capsys.readouterr()
    everything = listed_ids(data_dir, capsys)
    assert len(everything) >= 2

    assert coursegen(data_dir, "courses", "list", "--limit", "1") == 0
    first = capsys.readouterr()
    assert [line.split()[0] for line in first.out.splitlines()] == everything[:1]
    cursor = first.err.split("--cursor ")[1].strip()
    assert listed_ids(data_dir, capsys, "--limit", "1", "--cursor", cursor) == everything[1:2]

    newest = everything[0]
    assert coursegen(data_dir, "courses", "export", newest, "--format", "json") == 0
    outline = Outline.model_validate_json(capsys.readouterr().out)
    assert outline.course_id == newest and outline.hours == 0.5
    assert coursegen(data_dir, "courses", "export", newest, "--format", "md") == 0
    assert capsys.readouterr().out == outline_markdown(outline)
    assert coursegen(data_dir, "courses", "show", newest) == 0
    assert outline_markdown(outline) in capsys.readouterr().out

    assert coursegen(data_dir, "courses", "delete", newest) == 0
    assert f"deleted course {newest}" in capsys.readouterr().err
    assert listed_ids(data_dir, capsys) == everything[1:]
    assert coursegen(data_dir, "courses", "show", newest) == 1
    assert f"no course {newest!r}" in capsys.readouterr().err
    assert coursegen(data_dir, "courses", "list", "--limit", "0") == 1
    assert "limit must be" in capsys.readouterr().err
    assert coursegen(data_dir, "courses", "list", "--cursor", cursor[:-2]) == 1
    assert capsys.readouterr().err == (
        "coursegen: error: --cursor is not one `courses list` printed: copy it unchanged\n"
    )


def test_reloading_a_book_with_fewer_chapters_warns_which_disappear(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = read_book_file(DATABASES)
    assert coursegen(data_dir, "library", "load", str(DATABASES)) == 0
    assert "warning" not in capsys.readouterr().err  # the same chapters again
    shorter = tmp_path / "shorter.json"
    shorter.write_text(
        json.dumps(book.model_copy(update={"chapters": book.chapters[:-2]}).model_dump(mode="json"))
    )

    assert coursegen(data_dir, "library", "load", str(shorter)) == 0

    err = capsys.readouterr().err
    dropped = book.chapters[-2:]
    assert f"{book.title!r} replaces the loaded book, which had {len(book.chapters)} chapters" in err
    for chapter in dropped:
        assert f"{chapter.number} \u201c{chapter.title}\u201d" in err
    assert coursegen(data_dir, "library", "list") == 0
    assert f"({len(book.chapters) - 2} chapters)" in capsys.readouterr().out


def test_removing_books_by_title_or_id_and_refusing_an_ambiguous_title(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nutrition = read_book_file(NUTRITION)
    namesake = nutrition.model_copy(update={"author": "Someone Else"})
    other = tmp_path / "namesake.json"
    other.write_text(json.dumps(namesake.model_dump(mode="json")))
    assert coursegen(data_dir, "library", "load", str(NUTRITION), str(other)) == 0
    capsys.readouterr()

    assert coursegen(data_dir, "library", "remove", nutrition.title) == 1
    err = capsys.readouterr().err
    assert "2 books are titled" in err and book_id(nutrition) in err and book_id(namesake) in err

    assert coursegen(data_dir, "library", "remove", book_id(namesake)) == 0
    assert "removed" in capsys.readouterr().err
    assert coursegen(data_dir, "library", "remove", nutrition.title) == 0
    capsys.readouterr()
    assert coursegen(data_dir, "library", "list") == 0
    assert nutrition.title not in capsys.readouterr().out
    assert coursegen(data_dir, "library", "remove", "No Such Book") == 1
    assert "no book has the id or title 'No Such Book'" in capsys.readouterr().err


def test_once_every_book_is_removed_generate_says_the_library_is_empty(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert coursegen(data_dir, "library", "list") == 0
    titles = [line.rsplit("[", 1)[1].rstrip("]") for line in capsys.readouterr().out.splitlines()]
    for identifier in titles:
        assert coursegen(data_dir, "library", "remove", identifier) == 0
    capsys.readouterr()
    assert coursegen(data_dir, "generate", "Learn SQL joins", "--hours", "1") == 1
    assert "the library is empty" in capsys.readouterr().err


def test_with_an_empty_library_a_posted_course_fails_saying_so(data_dir: Path) -> None:
    # The commands above left this data folder's workflow as the process-wide one; the library
    # is empty since the previous test.
    assert coursegen(data_dir, "courses", "list") == 0
    try:
        client = Client(app, stage_name="local")
        posted = client.http.post(
            "/courses",
            headers={"Content-Type": "application/json"},
            body=b'{"query": "Learn SQL", "hours": 1}',
        )
        assert posted.status_code == 202
        course_id = posted.json_body["course_id"]

        def ended() -> dict[str, Any] | None:
            body: dict[str, Any] = client.http.get(f"/courses/{course_id}").json_body
            return body if body["status"] in ("complete", "failed") else None

        body = wait_until(ended, timeout=30, what="the course to end")
        assert body is not None
        assert body["status"] == "failed"
        assert body["error"]["phase"] == "search"
        assert body["error"]["reason"].startswith("the library is empty")
    finally:
        bootstrap.reset()
