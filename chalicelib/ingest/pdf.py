"""PDF reader (pypdfium2): chapters from the outline (bookmarks), else from headings set in
larger type, else page-range chunks with a warning. Refuses encrypted and text-less (scanned)
files."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from ..distribution import LOCAL_EXTRA
from .document import Document, DocumentError, RawChapter, clean_line, clean_text
from .matter import is_matter_title
from .tree import chapter_nodes

PAGES_PER_CHUNK = 10
MIN_TEXT_PAGES_SHARE = 0.2  # fewer pages with text than this share: a scan
MIN_CHARS_ON_A_TEXT_PAGE = 40
HEADING_SIZE_RATIO = 1.3  # a heading's type is at least this much larger than the body's
Node = tuple[str, int | None, list[Any]]  # an outline entry: title, page index, children
Line = tuple[int, str, float, bool]  # page index, text, type size, bold


def read_pdf(path: Path) -> Document:
    try:
        import pypdfium2 as pdfium
    except ImportError as error:  # pragma: no cover - an install problem, said plainly
        raise DocumentError(f"{path}: reading PDF needs pypdfium2: {LOCAL_EXTRA}") from error
    try:
        pdf = pdfium.PdfDocument(str(path))  # an empty user password is tried by PDFium itself
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise DocumentError(
                f"{path}: the PDF is encrypted (it needs a password): decrypt it first"
            ) from None
        raise DocumentError(f"{path}: not a readable PDF: {error}") from None
    try:
        return _read(pdf, path)
    finally:
        pdf.close()


def _read(pdf: Any, path: Path) -> Document:
    pages = [_page_text(pdf, index) for index in range(len(pdf))]
    if not pages:
        raise DocumentError(f"{path}: the PDF has no pages")
    with_text = sum(1 for text in pages if len(text.strip()) >= MIN_CHARS_ON_A_TEXT_PAGE)
    if with_text < max(1, MIN_TEXT_PAGES_SHARE * len(pages)):
        raise DocumentError(
            f"{path}: no text layer: OCR is not supported (only {with_text} of {len(pages)} pages hold text)"
        )
    warnings: list[str] = []
    meta = pdf.get_metadata_dict()
    chapters = _from_outline(pdf, pages, meta.get("Title", ""))
    if not chapters:
        lines = [line for index in range(len(pdf)) for line in _sized_lines(pdf, index)]
        chapters = (
            _from_heading_sizes(lines, pages)
            or _from_numbered_headings(lines, pages)
            or _from_page_openings(lines, pages)
        )
    if not chapters:
        chapters = _page_chunks(pages)
        warnings.append(
            f"{path}: no outline and no headings found: split into chunks of {PAGES_PER_CHUNK} pages"
        )
    return Document(
        title=clean_line(meta.get("Title", "")) or path.stem,
        author=clean_line(meta.get("Author", "")),
        chapters=chapters,
        warnings=warnings,
    )


def _page_text(pdf: Any, index: int) -> str:
    page = pdf[index]
    textpage = page.get_textpage()
    try:
        return str(textpage.get_text_bounded())
    finally:
        textpage.close()
        page.close()


# --- chapters from the outline ----------------------------------------------------------------


def _outline_tree(pdf: Any) -> list[Node]:
    """The outline as (title, page index, children) nodes."""
    roots: list[Node] = []
    stack: list[tuple[int, list[Node]]] = [(-1, roots)]
    try:
        for bookmark in pdf.get_toc(max_depth=8):
            dest = bookmark.get_dest()
            page = dest.get_index() if dest is not None else None
            node: Node = (clean_line(bookmark.get_title() or ""), page, [])
            while stack[-1][0] >= bookmark.level:
                stack.pop()
            stack[-1][1].append(node)
            stack.append((bookmark.level, node[2]))
    except Exception:  # a damaged outline: fall back to the type sizes
        return []
    return roots


def _chapter_level(nodes: list[Node], document_title: str = "") -> list[Node]:
    """The outline level that holds the chapters: below wrapping entries (the book's title) and
    below parts ("Part I", ...)."""
    return chapter_nodes(nodes, lambda n: n[0], lambda n: n[2], document_title)


def _from_outline(pdf: Any, pages: list[str], document_title: str = "") -> list[RawChapter]:
    nodes = [n for n in _chapter_level(_outline_tree(pdf), document_title) if n[1] is not None and n[0]]
    nodes.sort(key=lambda node: node[1] or 0)
    if len(nodes) < 2:
        return []
    chapters = []
    for index, (title, start, children) in enumerate(nodes):
        assert start is not None
        end = nodes[index + 1][1] if index + 1 < len(nodes) else len(pages)
        assert end is not None
        next_title = nodes[index + 1][0] if index + 1 < len(nodes) else None
        text = _slice(pages, start, max(end, start), title, next_title)
        headings = [child[0] for child in children if child[0]]
        chapters.append(RawChapter(title=title, text=clean_text(text), headings=headings))
    return chapters


def _loose(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


def _find(haystack: str, needle: str) -> int:
    """Where `needle` starts in `haystack`, ignoring case, spacing and punctuation; -1 if not."""
    key = _loose(needle)[:40]
    if not key:
        return -1
    positions = [i for i, ch in enumerate(haystack) if re.match(r"\w", ch)]
    loose = "".join(haystack[i] for i in positions).casefold()
    found = loose.find(key)
    return positions[found] if found >= 0 else -1


def _slice(pages: list[str], start: int, end: int, title: str, next_title: str | None) -> str:
    """Pages start..end, from the chapter's title on its first page to the next chapter's title
    when that chapter starts mid-page."""
    first = pages[start]
    at = _find(first, title)
    body = [first[at:] if at >= 0 else first, *pages[start + 1 : end]]
    if next_title is not None and end < len(pages) and end > start:
        last = pages[end]
        cut = _find(last, next_title)
        if cut > 0:
            body.append(last[:cut])
    return "\n".join(body)


# --- chapters from type sizes -----------------------------------------------------------------


def _type_sizes(lines: list[Line]) -> Counter[float]:
    """Characters set in each type size; the most common size is the body's."""
    weight: Counter[float] = Counter()
    for _, text, size, _ in lines:
        weight[size] += len(text)
    return weight


def _from_heading_sizes(lines: list[Line], pages: list[str]) -> list[RawChapter]:
    """Chapters start at lines set in the largest type that occurs on 2 to 80 lines of the
    document, at least 1.3 times the body's size (a title set on two lines counts once); lines
    in the next size down, still larger than the body, are their sub-headings."""
    weight = _type_sizes(lines)
    if not weight:
        return []
    body = weight.most_common(1)[0][0]
    sizes = sorted({s for s in weight if s >= body * HEADING_SIZE_RATIO}, reverse=True)
    for size in sizes:
        heads = _joined_lines(lines, size)
        if 2 <= len(heads) <= 80:
            chapters = _split_at_headings(pages, [(p, t) for _, p, t in heads])
            below = [s for s in weight if body * 1.1 <= s < size]
            if below:
                subs = _joined_lines(lines, max(below))
                starts = [at for at, _, _ in heads] + [len(lines)]
                for index, chapter in enumerate(chapters):
                    chapter.headings = [
                        clean_line(t) for at, _, t in subs if starts[index] < at < starts[index + 1]
                    ]
            return chapters
    return []


def _joined_lines(lines: list[Line], size: float) -> list[tuple[int, int, str]]:
    """(position, page, text) of the lines in type of `size`; consecutive ones on a page joined."""
    found: list[tuple[int, int, str]] = []
    for at, (page, text, line_size, _) in enumerate(lines):
        if line_size != size:
            continue
        previous = found[-1] if found else None
        if previous and previous[1] == page and lines[at - 1][2] == size and at > 0:
            found[-1] = (previous[0], page, f"{previous[2]} {text}")
        else:
            found.append((at, page, text))
    return [(a, p, t) for a, p, t in found if 3 <= len(t) <= 160 and re.search(r"[A-Za-z]", t)]


_CHAPTER_NUMBER = re.compile(
    r"^(?:(?:chapter|chap\.|appendix)\s+)?(\d{1,3})(?:\.|\s*[-\u2013\u2014:]|(?=\s))\s*(?P<title>[^\d\s.].{1,118})$",
    re.IGNORECASE,
)
_APPENDIX = re.compile(r"^appendix\s+[A-Z]\b", re.IGNORECASE)
_SECTION_NUMBER = re.compile(r"^(\d{1,3})\.(\d{1,3})\.?\s+(\S.{1,118})$")
_LEADERS = re.compile(r"(\s*\.){3,}\s*\d+\s*$|\s+\d+\s*$")  # "Title ....... 12": a contents line


def _from_numbered_headings(lines: list[Line], pages: list[str]) -> list[RawChapter]:
    """Chapters at numbered lines set apart from the body, in bold or larger type, but not larger
    enough for `_from_heading_sizes` ("1 Introduction", "Chapter 2: Tools" in bold body-size
    type): the longest run counting up from 1, after any contents page listing the same; "1.2"
    lines in the same style become sub-headings."""
    weight = _type_sizes(lines)
    if not weight:
        return []
    body = weight.most_common(1)[0][0]
    marked = [(p, t) for p, t, s, bold in lines if (bold or s > body + 0.4) and not _LEADERS.search(t)]
    run = _longest_run(marked)
    if not run:
        return []
    # after the last chapter, appendices and back matter in the same style are parts of their own
    back = [
        (position, 0, text)
        for position, (_, text) in enumerate(marked)
        if position > run[-1][0] and (_APPENDIX.match(text) or is_matter_title(text))
    ]
    run = run + back
    heads = [marked[position] for position, _, _ in run]
    chapters = _split_at_headings(pages, heads)
    starts = [position for position, _, _ in run] + [len(marked)]
    for index, chapter in enumerate(chapters):
        for _, text in marked[starts[index] + 1 : starts[index + 1]]:
            section = _SECTION_NUMBER.match(text)
            if section and int(section.group(1)) == run[index][1]:
                chapter.headings.append(clean_line(section.group(3)))
    return chapters


def _from_page_openings(lines: list[Line], pages: list[str]) -> list[RawChapter]:
    """Chapters at pages that open with a short line set apart in bold or larger type (a chapter
    titled "Introduction" in bold body-size type, starting a new page), when 2 or more pages and
    at most 60% of them do; running headers (a line opening most pages) are passed over."""
    weight = _type_sizes(lines)
    if not weight:
        return []
    body = weight.most_common(1)[0][0]
    by_page: dict[int, list[Line]] = {}
    for line in lines:
        by_page.setdefault(line[0], []).append(line)
    running = Counter(re.sub(r"\d+", "#", t) for page in by_page.values() for _, t, _, _ in page[:2])
    repeated = {text for text, count in running.items() if count >= max(3, 0.3 * len(by_page))}
    heads: list[tuple[int, str]] = []
    for page, page_lines in sorted(by_page.items()):
        opening = [
            ln for ln in page_lines if re.sub(r"\d+", "#", ln[1]) not in repeated and not ln[1].isdigit()
        ]
        if not opening:
            continue
        _, text, size, bold = opening[0]
        words = text.split()
        titled = (
            (bold or size > body + 0.4) and 1 <= len(words) <= 10 and text[:1].isupper() and len(text) > 2
        )
        # a chapter's running header opens each of its pages: its first page starts it
        if titled and not text.endswith(".") and (not heads or heads[-1][1] != text):
            heads.append((page, text))
    if not 2 <= len(heads) <= 0.6 * len(by_page):
        return []
    return _split_at_headings(pages, heads)


def _longest_run(marked: list[tuple[int, str]]) -> list[tuple[int, int, str]]:
    """(position, number, text) of the longest run of chapter numbers counting up from 1 (the
    last of equal ones: the body comes after its contents page)."""
    runs: list[list[tuple[int, int, str]]] = []
    for position, (_, text) in enumerate(marked):
        match = _CHAPTER_NUMBER.match(text)
        if not match or not re.search(r"[A-Za-z\u00c0-\uffff]", match.group("title")):
            continue
        number = int(match.group(1))
        if number == 1:
            runs.append([(position, number, text)])
        elif runs and number == runs[-1][-1][1] + 1:
            runs[-1].append((position, number, text))
    runs = [run for run in runs if len(run) >= 2]
    return max(reversed(runs), key=len) if runs else []


def _is_bold(textpage: Any, index: int, raw: Any) -> bool:
    import ctypes

    if raw.FPDFText_GetFontWeight(textpage, index) >= 600:
        return True
    name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    raw.FPDFText_GetFontInfo(textpage, index, name, 128, ctypes.byref(flags))
    return bool(re.search(rb"bold|black|heavy|semibold|demi", name.value, re.IGNORECASE)) or bool(
        flags.value & 0x40000  # ForceBold
    )


def _sized_lines(pdf: Any, index: int) -> list[Line]:
    """(page, text, type size, bold) of each line of a page; a line's size is its largest
    character's; it is bold when its first and last characters are."""
    import pypdfium2.raw as pdfium_c

    page = pdf[index]
    textpage = page.get_textpage()
    lines: list[Line] = []
    chars: list[str] = []
    size = 0.0
    first = last = -1
    try:

        def close() -> None:
            if "".join(chars).strip():
                bold = first >= 0 and all(_is_bold(textpage, at, pdfium_c) for at in (first, last))
                lines.append((index, " ".join("".join(chars).split()), round(size, 1), bold))

        for char_index in range(textpage.count_chars()):
            char = chr(pdfium_c.FPDFText_GetUnicode(textpage, char_index) or 32)
            if char in "\r\n":
                close()
                chars, size, first, last = [], 0.0, -1, -1
                continue
            chars.append(char)
            if not char.isspace():
                size = max(size, float(pdfium_c.FPDFText_GetFontSize(textpage, char_index)))
                first = char_index if first < 0 else first
                last = char_index
        close()
    finally:
        textpage.close()
        page.close()
    return lines


def _split_at_headings(pages: list[str], heads: list[tuple[int, str]]) -> list[RawChapter]:
    chapters = []
    for index, (page, title) in enumerate(heads):
        end, next_title = heads[index + 1] if index + 1 < len(heads) else (len(pages), None)
        text = _slice(pages, page, max(end, page), title, next_title)
        chapters.append(RawChapter(title=clean_line(title), text=clean_text(text)))
    return chapters


def _page_chunks(pages: list[str]) -> list[RawChapter]:
    chunks: list[RawChapter] = []
    for start in range(0, len(pages), PAGES_PER_CHUNK):
        end = min(start + PAGES_PER_CHUNK, len(pages))
        text = clean_text("\n".join(pages[start:end]))
        if text:
            chunks.append(RawChapter(title=f"Pages {start + 1}-{end}", text=text, label=str(len(chunks) + 1)))
    return chunks
