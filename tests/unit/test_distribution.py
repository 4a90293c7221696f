"""`coursegen --version`, `coursegen samples DIR` and what a first run is told."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from chalicelib.cli import main
from chalicelib.distribution import SamplesError, copy_samples, sample_files, version

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "library"


def test_in_a_checkout_the_version_is_pyprojects_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert version() == f"{declared} (source checkout)"
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"coursegen {declared} (source checkout)\n"


def test_the_samples_are_the_repositorys_sample_library() -> None:
    assert [entry.name for entry in sample_files()] == sorted(p.name for p in SAMPLES.glob("*.json"))


def test_samples_copies_every_book_file_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    books = tmp_path / "new" / "books"
    assert main(["samples", str(books)]) == 0
    assert sorted(p.name for p in books.iterdir()) == sorted(p.name for p in SAMPLES.glob("*.json"))
    assert all((books / p.name).read_bytes() == p.read_bytes() for p in SAMPLES.glob("*.json"))
    assert f"coursegen library load {books / '*.json'}" in capsys.readouterr().err


def test_samples_refuses_to_overwrite_and_writes_nothing_then_force_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "corporate-finance-valuation.json"
    kept.write_text("my own edits", encoding="utf-8")
    assert main(["samples", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "corporate-finance-valuation.json" in err and "--force" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept.name]  # nothing else written
    assert kept.read_text(encoding="utf-8") == "my own edits"

    copied = copy_samples(tmp_path, force=True)
    assert kept in copied and kept.read_bytes() == (SAMPLES / kept.name).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in SAMPLES.glob("*.json"))


def test_samples_into_a_file_is_refused_naming_it(tmp_path: Path) -> None:
    target = tmp_path / "books"
    target.write_text("", encoding="utf-8")
    with pytest.raises(SamplesError, match="books is not a folder"):
        copy_samples(target)


def test_a_failed_copy_removes_what_it_wrote(tmp_path: Path) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    last = sorted(p.name for p in SAMPLES.glob("*.json"))[-1]
    (folder / last).mkdir()  # a folder where the last file goes: replacing it fails
    with pytest.raises(SamplesError, match="cannot write the sample books"):
        copy_samples(folder, force=True)
    assert [p.name for p in folder.iterdir()] == [last]


def test_coursegen_without_a_command_says_how_to_get_started(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "usage: coursegen" in err
    assert "coursegen samples ./books" in err and "coursegen library load books/*.json" in err
