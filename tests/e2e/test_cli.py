"""The coursegen command: loading a library, listing it, generating with progress, failing clearly."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "library"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="coursegen-cli-"))
    os.chmod(path, 0o755)  # reachable by the unprivileged PostgreSQL user when tests run as root
    LocalPostgres(path).ensure_running()  # kept running across commands, as `db start` would
    yield path
    LocalPostgres(path).stop()
    shutil.rmtree(path, ignore_errors=True)


def coursegen(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), *args])


def test_loading_listing_and_generating_a_course_as_json(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = sorted(SAMPLES.glob("*.json"))
    books = [read_book_file(path) for path in paths]
    assert coursegen(data_dir, "library", "load", *map(str, paths)) == 0
    chapters = sum(len(book.chapters) for book in books)
    assert f"loaded {len(books)} book(s), {chapters} chapters" in capsys.readouterr().err

    assert coursegen(data_dir, "library", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == len(books)
    assert all(any(line.startswith(book.title) for line in listing) for book in books), listing

    code = coursegen(
        data_dir, "generate", "Learn DCF valuation", "--hours", "1.5", "--pace", "quick", "--json"
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    outline = json.loads(captured.out)
    assert outline["query"] == "Learn DCF valuation" and outline["hours"] == 1.5
    assert outline["preferences"] == {"depth": "balanced", "pace": "quick"}
    assert abs(outline["total_minutes"] - 90) <= 4
    assert all(s["sources"] for p in outline["parts"] for s in p["sections"])
    assert "queued" in captured.err and captured.err.rstrip().endswith("complete")


def test_generate_prints_markdown_by_default(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    databases = SAMPLES / "databases-sql-data-engineering.json"
    assert coursegen(data_dir, "library", "load", str(databases)) == 0
    assert coursegen(data_dir, "generate", "Learn SQL joins and indexing", "--hours", "1") == 0
    out = capsys.readouterr().out
    assert out.startswith("# ") and "## Part 1." in out
    assert f"Sources: {read_book_file(databases).title}, ch. " in out


def test_a_bad_book_file_is_named_and_leaves_the_library_unchanged(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert coursegen(data_dir, "library", "list") == 0
    before = capsys.readouterr().out
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            {
                "title": "New Book",
                "author": "A. Writer",
                "chapters": [
                    {"number": 1, "title": "One", "summary": "s", "topics": ["t"], "key_concepts": ["k"]}
                ],
            }
        )
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"title": "Broken", "author": "B", "chapters": [{"number": "one"}]}))
    assert coursegen(data_dir, "library", "load", str(good), str(bad)) == 1
    err = capsys.readouterr().err
    assert "bad.json" in err and "chapters[0]" in err
    assert coursegen(data_dir, "library", "list") == 0
    assert capsys.readouterr().out == before


def test_an_invalid_request_exits_non_zero_with_the_reason(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert coursegen(data_dir, "generate", "Learn DCF valuation", "--hours", "41") == 1
    assert "hours" in capsys.readouterr().err


def test_a_course_the_library_cannot_ground_fails_with_the_reason(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert coursegen(data_dir, "generate", "zxqv wblorf snarg", "--hours", "1") == 1
    err = capsys.readouterr().err
    assert "failed in search" in err and "no chapter in the library" in err


@pytest.mark.slow
def test_the_readmes_other_demo_query_makes_a_course_from_the_sample_library(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (SAMPLES.parents[1] / "README.md").read_text(encoding="utf-8")
    found = re.search(r'make demo\s+QUERY="([^"]+)"\s+HOURS=(\S+?)`', readme)
    assert found, "the README no longer shows `make demo QUERY=... HOURS=...`"
    query, hours = found.groups()
    paths = sorted(SAMPLES.glob("*.json"))
    assert coursegen(data_dir, "library", "load", *map(str, paths)) == 0
    code = coursegen(data_dir, "generate", query, "--hours", hours, "--json")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["query"] == query


@pytest.mark.slow
def test_the_readmes_example_course_is_what_the_sample_library_gives(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (SAMPLES.parents[1] / "README.md").read_text(encoding="utf-8")
    example = readme[readme.index('"course": {"title"') :]
    part, part_minutes = re.search(r'\{"title": "([^"]+)", "minutes": (\d+), "sections"', example).groups()  # type: ignore[union-attr]
    section, minutes = re.search(r'\{"title": "([^"]+)", "minutes": (\d+),\n', example).groups()  # type: ignore[union-attr]
    objective = re.search(r'"objectives": \["([^"]+)"', example).group(1)  # type: ignore[union-attr]
    paths = sorted(SAMPLES.glob("*.json"))
    assert coursegen(data_dir, "library", "load", *map(str, paths)) == 0
    assert coursegen(data_dir, "generate", "Learn DCF valuation", "--hours", "2", "--json") == 0
    first = json.loads(capsys.readouterr().out)["parts"][0]
    assert (first["title"], first["minutes"]) == (part, int(part_minutes))
    assert (first["sections"][0]["title"], first["sections"][0]["minutes"]) == (section, int(minutes))
    assert first["sections"][0]["objectives"][0] == objective


def test_a_folder_given_to_library_load_stands_for_its_book_files(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    for name in ("databases-sql-data-engineering.json", "nutrition-exercise-physiology.json"):
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "notes.txt").write_text("not a book", encoding="utf-8")
    assert coursegen(data_dir, "library", "load", str(folder)) == 0
    assert "loaded 2 book(s)" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert coursegen(data_dir, "library", "load", str(empty)) == 1
    assert capsys.readouterr().err == f"coursegen: error: {empty}: no book files (*.json) in this folder\n"


@pytest.mark.slow  # the embedded default and WordLlama
def test_list_shows_an_owner_column_once_a_book_is_owned_and_remove_takes_an_owned_book(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib import bootstrap
    from chalicelib.config import Settings

    settings = Settings(runtime="local", data_dir=data_dir)
    library = bootstrap.make_library_admin(settings)
    sample = read_book_file(SAMPLES / "negotiation-leadership.json")
    upload = sample.model_copy(update={"title": "Uploaded Negotiation Notes"})
    (owned,) = library.load([upload], bootstrap.make_embedder(settings), owner="user-7")
    assert coursegen(data_dir, "library", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert any(line.startswith("Uploaded Negotiation Notes") and line.endswith("user-7") for line in listing)
    assert all(line.endswith(("user-7", "shared")) for line in listing), listing

    assert coursegen(data_dir, "library", "remove", owned.id) == 0
    capsys.readouterr()
    assert coursegen(data_dir, "library", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert not any("Uploaded Negotiation Notes" in line or line.endswith("shared") for line in listing)
