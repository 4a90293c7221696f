"""HTML (and Markdown, rendered to HTML) into chapters: a page's text as a stream of headings,
anchors and text, split at the heading level that holds the chapters."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..distribution import LOCAL_EXTRA
from .document import Document, DocumentError, RawChapter, clean_line, clean_text

_SKIPPED_TAGS = {"script", "style", "noscript", "template", "nav", "svg", "math", "head", "button"}
# Navigation bars of generated HTML books (DocBook, Sphinx, mkdocs, ...), not their content.
# (whole class names: "toc" is chrome, an Asciidoctor body's "toc-left" is not)
_SKIPPED_CLASSES = re.compile(
    r"^(navheader|navfooter|docnav|navigation|nav-panel|breadcrumbs?|sidebar|sphinxsidebar|related|toc|"
    r"headerlink|mini-toc|menu|copiable-anchor)$"
)
# Page headers and footers (a Texinfo page's "Next: … Up: …" line, a copyright footer): chrome
# unless they hold a heading (some pages put their title in a header).
_CHROME_UNLESS_HEADING = re.compile(r"^(header|footer)$")
_HEADING_TAGS = {f"h{n}" for n in range(1, 7)}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "pre",
    "blockquote", "br", "hr", "figure", "figcaption", "body", "main", "aside", "header", "footer",
}  # fmt: skip


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Anchor:
    id: str


Event = Heading | Anchor | str


_CHARSET = re.compile(
    rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)|<\?xml[^>]+encoding=["']([A-Za-z0-9_.:-]+)""", re.I
)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def decode_html(data: bytes) -> str:
    """The page as text: its declared encoding, else UTF-8, else Windows-1252."""
    declared = _CHARSET.search(data[:4096])
    encodings = [(declared.group(1) or declared.group(2)).decode()] if declared else []
    for encoding in [*encodings, "utf-8-sig", "cp1252", "latin-1"]:
        try:
            return _XML_DECLARATION.sub("", data.decode(encoding))
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1")  # pragma: no cover - latin-1 decodes any bytes


def parse_html(data: bytes, name: str) -> Any:
    try:
        import lxml.etree
        import lxml.html
    except ImportError as error:  # pragma: no cover
        raise DocumentError(f"{name}: reading HTML needs lxml: {LOCAL_EXTRA}") from error
    if not data.strip():
        raise DocumentError(f"{name}: the file is empty")
    try:
        # no network, no entity expansion: a hostile file cannot reach out or blow up
        parser = lxml.html.HTMLParser(no_network=True, remove_comments=True, huge_tree=False)
        return lxml.html.document_fromstring(decode_html(data), parser=parser)
    except (lxml.etree.ParserError, ValueError) as error:
        raise DocumentError(f"{name}: not readable HTML: {error}") from None


def page_title(root: Any) -> str:
    found = root.find(".//title")
    return clean_line(found.text_content()) if found is not None else ""


def meta_author(root: Any) -> str:
    for meta in root.iter("meta"):
        if (meta.get("name") or "").lower() in {"author", "dc.creator"}:
            return clean_line(meta.get("content") or "")
    return ""


def events(root: Any) -> Iterator[Event]:
    """Headings, anchors (element ids) and text of the page body, in document order."""
    body = root.find("body")
    yield from _walk(body if body is not None else root)


def is_chrome(element: Any) -> bool:
    """Navigation, sidebars, permalinks and page headers/footers: not the document's text."""
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in _SKIPPED_TAGS:
        return True
    if tag == "body":
        return False
    classes = (element.get("class") or "").split()
    if any(_SKIPPED_CLASSES.match(name) for name in classes):
        return True
    if any(_CHROME_UNLESS_HEADING.match(name) for name in classes) or tag in {"header", "footer"}:
        return not any(isinstance(e.tag, str) and e.tag in _HEADING_TAGS for e in element.iter())
    return False


def heading_text(element: Any) -> str:
    """A heading's words without its permalink ("¶") or other chrome inside it."""
    return clean_line(_raw_text(element))


def _raw_text(element: Any) -> str:
    parts: list[str] = [element.text or ""]
    for child in element:
        if not is_chrome(child):
            parts.append(_raw_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _walk(element: Any) -> Iterator[Event]:
    tag = element.tag if isinstance(element.tag, str) else ""
    if is_chrome(element):
        if element.tail:
            yield element.tail
        return
    yield from _anchors(element, tag)
    if re.fullmatch(r"h[1-6]", tag):
        yield Heading(int(tag[1]), heading_text(element))
    else:
        if tag in _BLOCK_TAGS:
            yield "\n"
        if element.text:
            yield element.text
        for child in element:
            yield from _walk(child)
        if tag in _BLOCK_TAGS:
            yield "\n"
    if element.tail:
        yield element.tail


def _anchors(element: Any, tag: str) -> Iterator[Event]:
    """The link targets an element defines: its id, an <a name>, and inside a heading the ids of
    its descendants (a table of contents may point at any of them)."""
    if element.get("id"):
        yield Anchor(element.get("id"))
    if element.get("name") and tag == "a":
        yield Anchor(element.get("name"))
    if re.fullmatch(r"h[1-6]", tag):
        for child in element.iter():
            if child is not element and child.get("id"):
                yield Anchor(child.get("id"))


def chapter_level(stream: list[Event]) -> tuple[int | None, str]:
    """The heading level of the chapters, and the document's title if one heading above that
    level names the whole document."""
    counts = Counter(e.level for e in stream if isinstance(e, Heading) and e.text)
    if not counts:
        return None, ""
    levels = sorted(counts)
    # One or two headings above the rest name the document (title, a "top" page), not chapters.
    level = next((lv for lv in levels if counts[lv] >= 3), None) or next(
        (lv for lv in levels if counts[lv] >= 2), levels[0]
    )
    above = [e.text for e in stream if isinstance(e, Heading) and e.text and e.level < level]
    return level, above[0] if above else ""


def split_chapters(stream: list[Event], level: int) -> list[RawChapter]:
    """One chapter per heading of `level`; deeper headings become its sub-headings; text before
    the first such heading is dropped (title pages, tables of contents)."""
    chapters: list[RawChapter] = []
    text: list[str] = []
    sub_level: int | None = None
    inside = False  # text under a heading above the chapters (a part's title page) is dropped
    for event in stream:
        if isinstance(event, Heading) and event.level < level and event.text:
            _close(chapters, text)
            text, inside = [], False
        elif isinstance(event, Heading) and event.level == level and event.text:
            _close(chapters, text)
            chapters.append(RawChapter(title=event.text, text=""))
            text, sub_level, inside = [], None, True
        elif not inside:
            continue
        elif isinstance(event, Heading) and event.text:
            sub_level = sub_level or event.level
            if event.level == sub_level:
                chapters[-1].headings.append(event.text)
            text.append(f"\n{event.text}\n")
        elif isinstance(event, str):
            text.append(event)
    _close(chapters, text)
    return chapters


def _close(chapters: list[RawChapter], text: list[str]) -> None:
    if chapters and text:
        chapters[-1].text = clean_text("".join(text))


def whole_page(stream: list[Event], fallback_title: str) -> RawChapter:
    """A page that is one chapter: titled by its first heading, sub-headings at the next level."""
    headings = [e for e in stream if isinstance(e, Heading) and e.text]
    title = headings[0].text if headings else fallback_title
    deeper = sorted({h.level for h in headings[1:] if h.level > headings[0].level}) if headings else []
    subs = [h.text for h in headings[1:] if deeper and h.level == deeper[0]]
    body = "".join(
        f"\n{e.text}\n" if isinstance(e, Heading) else e for e in stream if not isinstance(e, Anchor)
    )
    text = clean_text(body)
    if headings:  # the title is not part of the text
        text = text.split(title, 1)[-1].strip() if text.startswith(title) else text
    return RawChapter(title=title, text=text, headings=subs)


def read_html_file(path: Path, data: bytes | None = None) -> Document:
    root = parse_html(path.read_bytes() if data is None else data, str(path))
    return document_from_root(root, path)


def document_from_root(root: Any, path: Path) -> Document:
    stream = list(events(root))
    level, heading_title = chapter_level(stream)
    if level is None:
        raise DocumentError(f"{path}: no headings: nothing that looks like a chapter")
    chapters = split_chapters(stream, level)
    title = page_title(root) or heading_title or path.stem
    if heading_title and len(heading_title) < len(title):
        title = heading_title
    return Document(title=title, author=meta_author(root), chapters=chapters)
