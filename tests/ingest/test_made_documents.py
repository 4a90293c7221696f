"""Documents made here: each unreadable kind gets a clear error naming the file, and the
fallbacks (type sizes, page chunks, headings without navigation) find the chapters."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.ingest import DocumentError, ingest, read_document
from chalicelib.ingest.matter import content_chapters, number_chapters
from tests.ingest.made import encrypted_pdf, epub, pdf_bytes, prose


def titles(path: Path) -> list[tuple[int, str]]:
    document = read_document(path)
    return [(n, t) for n, t, _ in number_chapters(content_chapters(document.chapters, document.title))]


def refused(path: Path, *words: str) -> str:
    with pytest.raises(DocumentError) as caught:
        ingest(path)
    message = str(caught.value)
    assert str(path) in message and all(word in message for word in words), message
    return message


def test_an_encrypted_pdf(tmp_path: Path) -> None:
    refused(encrypted_pdf(tmp_path / "locked.pdf"), "encrypted", "password")


def test_a_scanned_pdf_without_a_text_layer(tmp_path: Path) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(pdf_bytes([[] for _ in range(5)]))
    refused(scan, "no text layer: OCR is not supported")


def test_an_epub_without_navigation_or_headings(tmp_path: Path) -> None:
    book = epub(tmp_path / "flat.epub", {"a.xhtml": "<p>" + " ".join(prose("flat")) + "</p>"})
    refused(book, "no navigation", "no headings")


def test_a_zip_bomb(tmp_path: Path) -> None:
    bomb = epub(tmp_path / "bomb.epub", {"a.xhtml": "<h1>One</h1>"}, extra={"zeros.bin": bytes(20 * 2**20)})
    refused(bomb, "zip bomb")


def test_a_file_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chalicelib.ingest.pipeline.MAX_DOCUMENT_BYTES", 1000)
    big = tmp_path / "big.txt"
    big.write_text("word " * 400)
    refused(big, "over the limit for one document")


def test_nothing_that_looks_like_a_chapter(tmp_path: Path) -> None:
    plain = tmp_path / "note.txt"
    plain.write_text("\n\n".join(prose("note")))
    refused(plain, "nothing that looks like a chapter")
    only_matter = tmp_path / "matter.md"
    only_matter.write_text("# Contents\n\n" + " ".join(prose("x")) + "\n\n# Index\n\n" + " ".join(prose("y")))
    refused(only_matter, "nothing that looks like a chapter")


def test_damaged_and_missing_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    refused(broken, "not a readable PDF")
    not_zip = tmp_path / "book.epub"
    not_zip.write_bytes(b"this is no zip")
    refused(not_zip, "not a readable EPUB")
    refused(tmp_path / "absent.md", "no such file")
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    refused(empty, "empty")


def test_a_pdf_without_outline_splits_at_its_large_type(tmp_path: Path) -> None:
    pages = [
        [(24.0, f"{n}. The {topic} chapter"), *[(11.0, line) for line in prose(topic)]]
        for n, topic in enumerate(["harbour", "lighthouse", "tide"], start=1)
    ]
    sized = tmp_path / "sized.pdf"
    sized.write_bytes(pdf_bytes(pages))
    assert titles(sized) == [
        (1, "The harbour chapter"),
        (2, "The lighthouse chapter"),
        (3, "The tide chapter"),
    ]


def test_a_pdf_with_uniform_type_is_cut_into_page_ranges_with_a_warning(tmp_path: Path) -> None:
    flat = tmp_path / "flat.pdf"
    flat.write_bytes(pdf_bytes([[(11, line) for line in prose(f"page {n}")] for n in range(12)]))
    document = read_document(flat)
    assert [c.title for c in document.chapters] == ["Pages 1-10", "Pages 11-12"]
    assert "no outline and no headings" in document.warnings[0]


def test_epub_navigation_into_one_file_splits_at_its_anchors(tmp_path: Path) -> None:
    body = "".join(
        f'<h2 id="c{n}">{name}</h2><p>{" ".join(prose(name))}</p>' for n, name in enumerate(["Alpha", "Beta"])
    )
    nav = '<ol><li><a href="all.xhtml#c0">Alpha</a></li><li><a href="all.xhtml#c1">Beta</a></li></ol>'
    book = epub(tmp_path / "one.epub", {"all.xhtml": body}, nav=nav)
    document = read_document(book)
    assert (document.title, document.author) == ("Made Book", "A. Maker")
    alpha, beta = document.chapters
    assert (alpha.title, beta.title) == ("Alpha", "Beta")
    assert "Alpha matters" in alpha.text and "Beta" not in alpha.text and "Alpha" not in beta.text


def test_epub_without_navigation_uses_headings(tmp_path: Path) -> None:
    pages = {
        f"{n}.xhtml": f"<h1>Part {name}</h1><p>{' '.join(prose(name))}</p>" for n, name in enumerate("ABC")
    }
    assert len(read_document(epub(tmp_path / "h.epub", pages)).chapters) == 3


def test_markdown_numbers_follow_the_document_and_front_matter_names_the_book(tmp_path: Path) -> None:
    text = "---\ntitle: Sea Book\nauthor: M. Mariner\n---\n# Sea Book\n\n## Preface\n\nShort.\n\n" + "".join(
        f"## Chapter {n}: {name}\n\n### {name} basics\n\n{' '.join(prose(name))}\n\n"
        for n, name in [(3, "Waves"), (4, "Winds")]
    )
    path = tmp_path / "sea.md"
    path.write_text(text)
    book = ingest(path)
    assert (book.title, book.author) == ("Sea Book", "M. Mariner")
    assert [(c.number, c.title) for c in book.chapters] == [(3, "Waves"), (4, "Winds")]
    assert book.chapters[0].topics == ["Waves basics"] and book.chapters[0].key_concepts
    assert ingest(path, title="Other", author="Me").source_sha256 == book.source_sha256


def test_plain_text_with_roman_chapter_lines(tmp_path: Path) -> None:
    text = "THE BOOK\n\n" + "".join(
        f"CHAPTER {roman}\n\n{name}\n\n{' '.join(prose(name))}\n\n"
        for roman, name in [("I", "Dawn"), ("II", "Dusk")]
    )
    path = tmp_path / "book.txt"
    path.write_text(text, encoding="cp1252")
    assert titles(path) == [(1, "Dawn"), (2, "Dusk")]


def test_the_lambda_handlers_never_load_the_parsers() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, app; print([m for m in sys.modules if m.startswith('chalicelib.ingest')"
        " or m.split('.')[0] in ('lxml', 'pypdfium2', 'yake', 'markdown_it')])"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
