"""Plain text: chapters start at "Chapter N" lines, else at numbered lines ("3. Title") that
count up from 1 after the table of contents, else at Markdown-style headings."""

from __future__ import annotations

import re
from pathlib import Path

from .document import Document, DocumentError, RawChapter, clean_line, clean_text
from .matter import is_matter_title

_CHAPTER_LINE = re.compile(r"^(?:chapter|chap\.)\s+(\d{1,3}|[ivxlc]{1,7})\b[.:]?\s*(.*)$", re.IGNORECASE)
_NUMBERED_LINE = re.compile(r"^(\d{1,3})\.?\s+([A-Z\u00c0-\u024f\"'`(].{2,120})$")
_UNDERLINE = re.compile(r"^(=+|-+)\s*$")


def decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")  # the other encoding plain-text books are commonly in
    except UnicodeDecodeError as error:
        raise DocumentError(f"{path}: not UTF-8 text (invalid byte at offset {error.start})") from None


def read_text(path: Path, data: bytes) -> Document:
    lines = decode(data, path).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    starts = _chapter_lines(lines) or _numbered_lines(lines)
    starts += _back_matter_lines(lines, starts[-1][0] + 1) if starts else []
    if len(starts) < 2:
        raise DocumentError(
            f"{path}: nothing that looks like a chapter (no 'Chapter N' lines, no numbered headings)"
        )
    title = next(
        (clean_line(line) for line in lines if line.strip() and not set(line.strip()) <= set("-=*")), ""
    )
    chapters = []
    for index, (line_no, label, heading) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(lines)
        body = lines[line_no + 1 : end]
        if not heading:  # "CHAPTER IV" with its title on the next line
            while body and not body[0].strip():
                body = body[1:]
            heading, body = (clean_line(body[0]), body[1:]) if body else ("", body)
        while body and _HEADING_UNDERLINE.match(body[0].strip() or "-"):  # the title's underline
            body = body[1:]
        subs = [
            clean_line(m.group(1))
            for line in body
            if (m := re.match(rf"^\s*{re.escape(label)}\.\d+\.?\s+(\S.*)$", line))
        ]
        chapters.append(
            RawChapter(
                title=clean_line(heading) or f"Chapter {label}",
                text=clean_text("\n".join(body)),
                headings=subs,
                label=label.upper() or None,
            )
        )
    return Document(title=title or path.stem, author="", chapters=chapters)


_APPENDIX_LINE = re.compile(r"^appendix\s+([A-Z])\b[.:]?\s*(.*)$", re.IGNORECASE)
_HEADING_UNDERLINE = re.compile(r"^([*=])\1{2,}\s*$")


def _back_matter_lines(lines: list[str], after: int) -> list[tuple[int, str, str]]:
    """After the last chapter: "Appendix A Title" lines, and short lines underlined with "***"
    (Texinfo's plain text sets "Index" so), each a part of its own (appendices, the index, a
    licence) rather than the tail of the last chapter."""
    found = []
    for number in range(after, len(lines) - 1):
        line = lines[number].strip()
        if not line or lines[number][:1].isspace() or (number and lines[number - 1].strip()):
            continue
        underline = _HEADING_UNDERLINE.match(lines[number + 1].strip())
        # "***" marks a chapter-level heading (Texinfo); "===" only a back-matter title ("Index")
        starred = underline is not None and (underline.group(1) == "*" or is_matter_title(line))
        underlined = starred and len(line.split()) <= 8
        match = _APPENDIX_LINE.match(line)
        if match:
            found.append((number, match.group(1), line))  # "Appendix A …": the back-matter rules see it
        elif underlined and not re.match(r"^\d+(\.\d+)+\s", line):
            found.append((number, "", line))
    return found


def _chapter_lines(lines: list[str]) -> list[tuple[int, str, str]]:
    found = []
    for number, line in enumerate(lines):
        match = _CHAPTER_LINE.match(line.strip())
        if match and (number == 0 or not lines[number - 1].strip()):
            found.append((number, match.group(1), match.group(2).strip()))
    return _last_run(found)


def _numbered_lines(lines: list[str]) -> list[tuple[int, str, str]]:
    found = []
    for number, line in enumerate(lines):
        match = _NUMBERED_LINE.match(line)  # at the margin: indented lines are lists
        if match and (number == 0 or not lines[number - 1].strip()):
            found.append((number, match.group(1), match.group(2).strip()))
    return _last_run(found)


def _last_run(found: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """The last run counting up from 1 (the body, after a table of contents that numbers the
    same chapters); labels that are not numbers are kept as they come."""
    if not found or not all(label.isdigit() for _, label, _ in found):
        return found
    runs: list[list[tuple[int, str, str]]] = []
    for item in found:
        number = int(item[1])
        if number == 1:
            runs.append([item])
        elif runs and number == int(runs[-1][-1][1]) + 1:
            runs[-1].append(item)
    runs = [run for run in runs if len(run) >= 2]
    return max(reversed(runs), key=len) if runs else []
