"""EPUB 2 and 3 (a zip of XHTML files): chapters from the navigation document or the NCX table
of contents, else from the headings of the reading order. The archive is checked for size and
compression ratio before anything is unpacked."""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .document import (
    MAX_COMPRESSION_RATIO,
    MAX_UNPACKED_BYTES,
    Document,
    DocumentError,
    RawChapter,
    clean_line,
    clean_text,
)
from .html import Anchor, Event, Heading, chapter_level, events, parse_html, split_chapters
from .tree import chapter_nodes

MAX_MEMBERS = 10_000
_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
    "x": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
}


@dataclass
class NavEntry:
    title: str
    target: str  # "<file in the archive>#<fragment>" or "<file>"
    children: list[NavEntry] = field(default_factory=list)


def open_archive(path: Path) -> zipfile.ZipFile:
    """The EPUB's zip, refused if it would unpack to too much (a zip bomb)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise DocumentError(f"{path}: not a readable EPUB (zip) file: {error}") from None
    members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members) or 1
    if (
        len(members) > MAX_MEMBERS
        or unpacked > MAX_UNPACKED_BYTES
        or unpacked / packed > MAX_COMPRESSION_RATIO
    ):
        archive.close()
        raise DocumentError(
            f"{path}: refused as a possible zip bomb: {len(members)} files unpacking to {unpacked} bytes "
            f"({unpacked / packed:.0f} times their packed size; limits {MAX_UNPACKED_BYTES} bytes, "
            f"{MAX_COMPRESSION_RATIO} times)"
        )
    return archive


def _read(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    try:
        with archive.open(name) as member:
            data = member.read(MAX_UNPACKED_BYTES + 1)  # the header may lie about the size
    except KeyError:
        raise DocumentError(f"{path}: the EPUB names {name!r} but does not contain it") from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DocumentError(f"{path}: {name}: damaged in the archive: {error}") from None
    if len(data) > MAX_UNPACKED_BYTES:
        raise DocumentError(f"{path}: refused as a possible zip bomb: {name} unpacks past the limit")
    return data


def _xml(data: bytes, name: str) -> Any:
    import lxml.etree

    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
    try:
        root = lxml.etree.fromstring(data, parser=parser)
    except lxml.etree.XMLSyntaxError as error:
        raise DocumentError(f"{name}: not readable XML: {error}") from None
    if root is None:
        raise DocumentError(f"{name}: not readable XML")
    return root


def _join(base: str, href: str) -> str:
    parts = urlsplit(href)
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base), unquote(parts.path)))
    return joined + (f"#{parts.fragment}" if parts.fragment else "")


def read_epub(path: Path) -> Document:
    with open_archive(path) as archive:
        container = _xml(_read(archive, "META-INF/container.xml", path), f"{path}: container.xml")
        opf_name = container.xpath("string(//c:rootfile/@full-path)", namespaces=_NS)
        if not opf_name:
            raise DocumentError(f"{path}: the EPUB's container.xml names no package document")
        opf = _xml(_read(archive, opf_name, path), f"{path}: {opf_name}")
        title = clean_line(opf.xpath("string(//dc:title)", namespaces=_NS))
        author = clean_line(", ".join(a.text or "" for a in opf.xpath("//dc:creator", namespaces=_NS)))
        manifest = {
            item.get("id"): (
                item.get("href") or "",
                item.get("media-type") or "",
                item.get("properties") or "",
            )
            for item in opf.xpath("//opf:manifest/opf:item", namespaces=_NS)
        }
        spine = [
            _join(opf_name, manifest[ref.get("idref")][0])
            for ref in opf.xpath("//opf:spine/opf:itemref", namespaces=_NS)
            if ref.get("idref") in manifest and ref.get("linear") != "no"
        ]
        nav = _navigation(archive, path, opf, opf_name, manifest)
        stream: list[Event] = []
        for name in spine:
            stream.append(Anchor(name))
            root = parse_html(_read(archive, name, path), f"{path}: {name}")
            stream.extend(_qualified(events(root), name))
    chapters = _by_navigation(stream, nav, title) if nav else []
    if not chapters:
        level, _ = chapter_level(stream)
        if level is None:
            raise DocumentError(f"{path}: the EPUB has no navigation (table of contents) and no headings")
        chapters = split_chapters(stream, level)
    return Document(title=title or path.stem, author=author, chapters=chapters)


def _qualified(stream: Any, name: str) -> Any:
    for event in stream:
        yield Anchor(f"{name}#{event.id}") if isinstance(event, Anchor) else event


def _navigation(
    archive: zipfile.ZipFile, path: Path, opf: Any, opf_name: str, manifest: dict[str, Any]
) -> list[NavEntry]:
    for href, _, properties in manifest.values():
        if "nav" in properties.split():
            name = _join(opf_name, href)
            root = parse_html(_read(archive, name, path), f"{path}: {name}")
            tocs = [
                n
                for n in root.iter("nav")
                if "toc" in (n.get("epub:type") or n.get(f"{{{_NS['epub']}}}type") or n.get("role") or "")
            ]
            lists = (tocs or list(root.iter("nav")))[:1]
            entries = (
                _nav_list(lists[0].find(".//ol"), name)
                if lists and lists[0].find(".//ol") is not None
                else []
            )
            if entries:
                return entries
    ncx_id = opf.xpath("string(//opf:spine/@toc)", namespaces=_NS)
    ncx_href = manifest.get(ncx_id, ("", "", ""))[0] or next(
        (href for href, media, _ in manifest.values() if media == "application/x-dtbncx+xml"), ""
    )
    if ncx_href:
        name = _join(opf_name, ncx_href)
        root = _xml(_read(archive, name, path), f"{path}: {name}")
        nav_map = root.find("ncx:navMap", _NS)
        return _ncx_points(nav_map, name) if nav_map is not None else []
    return []


def _nav_list(ol: Any, base: str) -> list[NavEntry]:
    entries = []
    for li in ol.iterchildren("li"):
        link = next((a for a in li.iterchildren() if a.tag in ("a", "span")), None)
        if link is None:
            continue
        sub = li.find("ol")
        href = link.get("href") or ""
        entry = NavEntry(clean_line(link.text_content()), _join(base, href) if href else "")
        entry.children = _nav_list(sub, base) if sub is not None else []
        if not entry.target and entry.children:
            entry.target = entry.children[0].target
        entries.append(entry)
    return entries


def _ncx_points(parent: Any, base: str) -> list[NavEntry]:
    entries = []
    for point in parent.findall("ncx:navPoint", _NS):
        label = clean_line(point.xpath("string(ncx:navLabel/ncx:text)", namespaces=_NS))
        src = point.xpath("string(ncx:content/@src)", namespaces=_NS)
        entries.append(NavEntry(label, _join(base, src) if src else "", _ncx_points(point, base)))
    return entries


def _chapter_entries(entries: list[NavEntry], document_title: str = "") -> list[NavEntry]:
    """The navigation level that holds the chapters (below wrapping entries and below parts)."""
    entries = chapter_nodes(entries, lambda e: e.title, lambda e: e.children, document_title)
    return [e for e in entries if e.title and e.target]


_SLUG = re.compile(r"^[\w.-]+$")


def _is_slug(title: str, target: str) -> bool:
    """A navigation label that is a file name rather than a title ("ch01", "index_split_003",
    "part0005.xhtml"): one word holding digits, underscores or a file extension, or the name
    of the file it points to."""
    name = posixpath.basename(target.split("#")[0])
    stem = name.rsplit(".", 1)[0]
    loose = title.strip().casefold()
    if loose in {name.casefold(), stem.casefold()}:
        return True
    return bool(_SLUG.match(loose)) and bool(re.search(r"\d|_|\.x?html?$", loose)) and not loose.isdigit()


def _by_navigation(stream: list[Event], nav: list[NavEntry], document_title: str = "") -> list[RawChapter]:
    entries = _chapter_entries(nav, document_title)
    positions: dict[str, int] = {}
    for index, event in enumerate(stream):
        if isinstance(event, Anchor):
            positions.setdefault(event.id, index)
    starts = sorted(((positions[e.target], e) for e in entries if e.target in positions), key=lambda s: s[0])
    chapters = []
    for number, (start, entry) in enumerate(starts):
        end = starts[number + 1][0] if number + 1 < len(starts) else len(stream)
        part = stream[start:end]
        text = clean_text(
            "".join(
                f"\n{e.text}\n" if isinstance(e, Heading) else e for e in part if not isinstance(e, Anchor)
            )
        )
        title = entry.title
        if _is_slug(title, entry.target):  # the chapter's own first heading names it
            title = next((e.text for e in part if isinstance(e, Heading) and e.text), title)
        if text.startswith(title):
            text = text[len(title) :].strip()
        headings = [child.title for child in entry.children if child.title]
        chapters.append(RawChapter(title=title, text=text, headings=headings))
    return chapters
