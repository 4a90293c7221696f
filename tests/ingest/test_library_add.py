"""`coursegen library add` on real documents: book files written, one transaction, progress per
chapter, the same document added twice is a no-op, and courses cite the chapters found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chalicelib.adapters.book_files import read_book_file
from chalicelib.cli import main
from tests.ingest.made import encrypted_pdf
from tests.ingest.test_real_documents import HARDEN, M4, numbered

pytestmark = pytest.mark.slow


def coursegen(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), *args])


def listing(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert coursegen(data_dir, "library", "list") == 0
    return capsys.readouterr().out.splitlines()


def course_sources(data_dir: Path, query: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code = coursegen(data_dir, "generate", query, "--hours", "2", "--json")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    outline = json.loads(captured.out)
    assert abs(outline["total_minutes"] - 120) <= 6
    sections = [section for part in outline["parts"] for section in part["sections"]]
    assert sections and all(section["sources"] for section in sections)
    return [source for section in sections for source in section["sources"]]


def test_adding_real_documents_then_generating_courses_that_cite_them(
    corpus: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = [corpus / "maint-guide.en.pdf", corpus / "policy.epub", corpus / "debian-faq-html"]
    out = tmp_path / "books"
    assert coursegen(data_dir, "library", "add", *map(str, documents), "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert "maint-guide.en.pdf: chapter 1 of 10: Getting started The Right Way" in err
    assert "policy.epub: chapter 22 of 22" in err
    assert "added 3 book(s), 48 chapters" in err
    written = sorted(out.glob("*.json"))
    assert len(written) == 3
    for path in written:  # each derived file is a valid book file, carrying its document's hash
        book = read_book_file(path)
        assert len(book.source_sha256) == 64 and all(chapter.summary for chapter in book.chapters)
    books = listing(data_dir, capsys)
    assert len(books) == 3 and any(
        "Debian Policy Manual" in line and "(22 chapters)" in line for line in books
    )

    # adding the same documents again changes nothing and says so
    assert coursegen(data_dir, "library", "add", str(documents[0]), str(documents[2])) == 0
    assert capsys.readouterr().err.count("already in the library") == 2
    assert listing(data_dir, capsys) == books

    cited = course_sources(
        data_dir, "Learn to write debian/control, debian/rules and debian/changelog", capsys
    )
    assert any(s["book_title"] == "Debian New Maintainers' Guide" for s in cited)

    cited = course_sources(data_dir, "Learn the stable, testing and unstable Debian distributions", capsys)
    assert any(s["book_title"] == "The Debian GNU/Linux FAQ" for s in cited)

    cited = course_sources(
        data_dir, "Learn package relationships: Depends, Conflicts, Breaks, Provides", capsys
    )
    assert any(s["book_title"] == "Debian Policy Manual" for s in cited)


def test_books_split_across_pages_are_added_and_cited_by_their_chapters(
    corpus: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = [corpus / "harden-html", corpus / "m4-html"]
    assert coursegen(data_dir, "library", "add", *map(str, documents), "--out", str(tmp_path)) == 0
    err = capsys.readouterr().err
    assert "warning: " + str(documents[0]) + ": the folder holds the document in 8 languages" in err
    assert "harden-html: chapter 13 of 13" in err and "m4-html: chapter 17 of 17" in err

    cited = course_sources(
        data_dir, "Learn to secure a Debian server: SSH, firewall and intrusion detection", capsys
    )
    harden = {s["chapter_title"] for s in cited if s["book_title"] == "Securing Debian Manual"}
    assert harden and harden <= {title for _, title in numbered(HARDEN)} | {"Appendix B. Appendix"}

    cited = course_sources(data_dir, "Learn m4 macros: defining macros, quoting and recursion", capsys)
    m4 = {s["chapter_title"] for s in cited if s["book_title"] == "GNU M4 1.4.19 macro processor"}
    assert m4 and m4 <= set(M4)


def test_an_unreadable_document_leaves_the_library_unchanged(
    corpus: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = listing(data_dir, capsys)
    locked = encrypted_pdf(tmp_path / "locked.pdf")
    code = coursegen(data_dir, "library", "add", str(corpus / "debian-faq.txt"), str(locked))
    err = capsys.readouterr().err
    assert code == 1 and "locked.pdf: the PDF is encrypted" in err
    assert listing(data_dir, capsys) == before


def test_a_second_edition_is_another_book(
    corpus: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "faq.txt"
    shutil.copy(corpus / "debian-faq.txt", first)
    assert coursegen(data_dir, "library", "add", str(first), "--title", "Debian FAQ", "--author", "SPI") == 0
    second = tmp_path / "faq-2.txt"
    second.write_text(first.read_text(encoding="utf-8") + "\nA corrected sentence for the second edition.\n")
    assert coursegen(data_dir, "library", "add", str(second), "--title", "Debian FAQ", "--author", "SPI") == 0
    capsys.readouterr()
    editions = [line for line in listing(data_dir, capsys) if line.startswith("Debian FAQ ")]
    assert len(editions) == 2 and all("SPI  (16 chapters)" in line for line in editions)
