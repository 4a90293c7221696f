"""What POST /books checks before it reads a document: the name, the declared type, the size."""

from __future__ import annotations

import pytest

from chalicelib.ingest.upload import MAX_UPLOAD_BYTES, UploadRefused, check_upload, safe_filename


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("C:\\Users\\me\\Valuation.pdf", "Valuation.pdf"),
        ("Économie politique.epub", "Économie politique.epub"),
        ("a<b>|c?.html", "a_b__c_.html"),
        ("  .hidden.txt  ", "hidden.txt"),
        ("x" * 200 + ".md", "x" * 117 + ".md"),
        ("", ""),
    ],
)
def test_a_file_name_keeps_only_its_last_component_in_plain_characters(sent: str, kept: str) -> None:
    assert safe_filename(sent) == kept


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("book.pdf", "application/pdf"),
        ("book.PDF", "application/octet-stream"),
        ("book.epub", None),
        ("notes.md", "text/markdown; charset=utf-8"),
        ("notes.md", "text/plain"),
        ("page.xhtml", "application/xhtml+xml"),
        ("notes.txt", "text/plain"),
    ],
)
def test_a_supported_name_with_an_agreeing_type_passes(name: str, content_type: str | None) -> None:
    upload = check_upload(b"data", name, content_type)
    assert upload.filename == name and upload.data == b"data"


@pytest.mark.parametrize(
    ("data", "name", "content_type", "kind"),
    [
        (b"data", None, None, "missing"),
        (b"data", "../", None, "missing"),
        (b"data", "book.docx", None, "unsupported"),
        (b"data", "book", "application/pdf", "unsupported"),
        (b"data", "book.pdf", "text/html", "unsupported"),
        (b"data", "notes.txt", "text/markdown", "unsupported"),
        (b"", "book.pdf", None, "empty"),
        (b"a" * (MAX_UPLOAD_BYTES + 1), "book.txt", None, "too_large"),
    ],
)
def test_what_cannot_be_read_is_refused_before_it_is_read(
    data: bytes, name: str | None, content_type: str | None, kind: str
) -> None:
    with pytest.raises(UploadRefused) as refused:
        check_upload(data, name, content_type)
    assert refused.value.kind == kind
