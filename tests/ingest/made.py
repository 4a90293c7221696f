"""Small documents made by the tests: PDFs with text in given type sizes, EPUBs, zip bombs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

Line = tuple[float, str] | tuple[float, str, bool]  # (type size in points, text[, bold])


def pdf_bytes(pages: Sequence[Sequence[Line]]) -> bytes:
    """A PDF whose pages hold `pages`' lines in Helvetica (bold where a line says so), top to
    bottom; no outline."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids).encode()
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count " + str(len(pages)).encode() + b" >>")
    objects.append(
        b"<< /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
        b" /F2 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >> >>"
    )
    for index, lines in enumerate(pages):
        stream = io.StringIO()
        y = 800.0
        for line in lines:
            size, text, bold = line[0], line[1], len(line) > 2 and bool(line[2])
            y -= size * 1.6
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            stream.write(f"BT /{'F2' if bold else 'F1'} {size} Tf 40 {y:.1f} Td ({escaped}) Tj ET\n")
        content = stream.getvalue().encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font 3 0 R >>"
            f" /Contents {page_ids[index] + 1} 0 R >>".encode()
        )
        objects.append(
            b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"endstream"
        )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def prose(topic: str, sentences: int = 12) -> list[str]:
    """Lines of plain sentences about `topic`, short enough for one PDF line each."""
    return [
        f"The {topic} matters in practice, and sentence {n} explains one more aspect of the {topic}."
        for n in range(1, sentences + 1)
    ]


def encrypted_pdf(path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes([[(11, line) for line in prose("key")]]))))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    with path.open("wb") as stream:
        writer.write(stream)
    return path


CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""


def epub(
    path: Path, pages: dict[str, str], nav: str | None = None, extra: dict[str, bytes] | None = None
) -> Path:
    """An EPUB 3 with `pages` (file name -> XHTML body) in reading order, and a navigation
    document with the `nav` list (an <ol>...</ol>) when given."""
    items = "".join(
        f'<item id="p{i}" href="{name}" media-type="application/xhtml+xml"/>' for i, name in enumerate(pages)
    )
    if nav is not None:
        items += '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
    spine = "".join(f'<itemref idref="p{i}"/>' for i in range(len(pages)))
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Made Book</dc:title>'
        f"<dc:creator>A. Maker</dc:creator></metadata><manifest>{items}</manifest>"
        f"<spine>{spine}</spine></package>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", CONTAINER)
        archive.writestr("OEBPS/content.opf", opf)
        for name, body in pages.items():
            archive.writestr(
                f"OEBPS/{name}", f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{body}</body></html>'
            )
        if nav is not None:
            archive.writestr(
                "OEBPS/nav.xhtml",
                '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><body>'
                f'<nav epub:type="toc">{nav}</nav></body></html>',
            )
        for name, data in (extra or {}).items():
            archive.writestr(f"OEBPS/{name}", data)
    return path
