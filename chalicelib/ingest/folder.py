"""A folder of chapter files (HTML or Markdown): chapters in the order of the folder's table of
contents (an index page, SUMMARY.md, README.md, or the page that links to most of the others),
pages listed under a chapter in that table merged into it; without one, by file name. A folder
holding the same document in several languages is read in one of them."""

from __future__ import annotations

import hashlib
import locale
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .document import MAX_FOLDER_FILES, Document, DocumentError, RawChapter, clean_line, clean_text
from .html import Event, Heading, events, is_chrome, meta_author, page_title, parse_html, whole_page
from .markdown import markdown_root
from .tree import chapter_nodes

HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd"}
LANGUAGES_AT_MOST = 30  # a folder may hold the document in this many languages
_INDEX_NAMES = re.compile(r"^(index|summary|readme|contents|toc|top)\.\w+$", re.IGNORECASE)
_LISTS = {"ul", "ol", "dl"}
_NAVIGATION_WORDS = re.compile(
    r"^\W*(next|prev|previous|up|home|top|back|forward|index|contents|table of contents)?\W*$", re.IGNORECASE
)
_LANGUAGE_SHAPE = re.compile(r"^[a-z]{2,3}(?:[-_][a-z]{2,4})?$", re.IGNORECASE)
_NOT_LANGUAGES = {"c", "posix", "sh", "ts", "js", "py", "md", "html", "htm", "css", "txt"}


# --- which files ----------------------------------------------------------------------------


def chapter_files(folder: Path) -> list[Path]:
    """The folder's HTML and Markdown files, by name; a file present twice (a symbolic link, a
    copy) counts once; in a folder that holds the document in several languages, one
    language's files (see `pick_language`)."""
    return _limited(pick_language(_all_files(folder), folder)[0], folder)


def _limited(files: list[Path], folder: Path) -> list[Path]:
    if len(files) > MAX_FOLDER_FILES:
        raise DocumentError(f"{folder}: more than {MAX_FOLDER_FILES} chapter files")
    return files


def _all_files(folder: Path) -> list[Path]:
    root = folder.resolve()
    found: dict[bytes, Path] = {}
    candidates = [
        p for p in folder.rglob("*") if p.suffix.lower() in HTML_SUFFIXES | MARKDOWN_SUFFIXES and p.is_file()
    ]
    if len(candidates) > MAX_FOLDER_FILES * LANGUAGES_AT_MOST:  # one language's files are counted below
        raise DocumentError(
            f"{folder}: more than {MAX_FOLDER_FILES * LANGUAGES_AT_MOST} HTML or Markdown files"
        )

    # links first lose to the files they point to, and an index page to the page it copies
    # (an mdBook's index.html is its first chapter): the name the table of contents uses is kept
    def keep_first(p: Path) -> tuple[bool, bool, list[Any]]:
        return p.is_symlink(), bool(_INDEX_NAMES.match(p.name)), _natural(str(p.relative_to(folder)))

    for path in sorted(candidates, key=keep_first):
        if not path.resolve().is_relative_to(root):
            continue  # a link out of the folder is not part of the document
        found.setdefault(hashlib.sha256(path.read_bytes()).digest(), path)
    return sorted(found.values(), key=lambda p: _natural(str(p.relative_to(folder))))


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _is_language(token: str) -> bool:
    if not _LANGUAGE_SHAPE.match(token) or token.lower() in _NOT_LANGUAGES:
        return False
    key = token.lower().replace("-", "_")
    return key in locale.locale_alias or key.split("_")[0] in locale.locale_alias


def _language_of(relative: Path) -> tuple[str, str]:
    """(language tag or "", the path with the tag taken out): "ch01.fr.html" -> ("fr", "ch01.html"),
    "fr-FR/ch01.html" -> ("fr-FR", "ch01.html"), "guide.fr.html/ch1.html" -> ("fr", "guide.html/ch1.html")."""
    parts = list(relative.parts)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if not last and _is_language(part):
            return part, "/".join(parts[:index] + parts[index + 1 :])
        pieces = part.split(".")
        inner = pieces[1:-1] if last or len(pieces) > 2 else pieces[1:]
        for token in inner:
            if _is_language(token):
                pieces.remove(token)
                return token, "/".join([*parts[:index], ".".join(pieces), *parts[index + 1 :]])
    return "", "/".join(parts)


def pick_language(files: list[Path], folder: Path) -> tuple[list[Path], str | None]:
    """The files of one language when the folder holds the same pages in several ("ch01.en.html"
    beside "ch01.fr.html", "en-US/" beside "fr-FR/"): English if present, else the untagged
    pages, else the language with the most pages; and a warning saying so. Otherwise `files`."""
    tagged = [(_language_of(f.relative_to(folder)), f) for f in files]
    languages: dict[str, set[str]] = {}
    for (language, key), _ in tagged:
        languages.setdefault(language.lower().replace("_", "-"), set()).add(key)
    if len(languages) < 2:
        return files, None
    keys = list(languages.values())
    shared = any(keys[i] & keys[j] for i in range(len(keys)) for j in range(i + 1, len(keys)))
    if not shared:
        return files, None
    english = sorted(lang for lang in languages if lang == "en" or lang.startswith("en-"))
    most = max(languages, key=lambda k: len(languages[k]))
    chosen = english[0] if english else "" if "" in languages else most
    in_other = {key for lang, found in languages.items() if lang not in ("", chosen) for key in found}
    kept = [
        f
        for (language, key), f in tagged
        if language.lower().replace("_", "-") == chosen
        or (not language and key not in in_other and key not in languages.get(chosen, set()))
    ]
    named = ", ".join(lang or "untagged" for lang in sorted(languages))
    warning = (
        f"{folder}: the folder holds the document in {len(languages)} languages ({named}): read"
        f" {'the ' + chosen + ' pages' if chosen else 'the pages without a language tag'};"
        " add a folder holding one language to read another"
    )
    return kept, warning


# --- the table of contents -----------------------------------------------------------------


@dataclass
class _Entry:
    files: list[Path] = field(default_factory=list)
    label: str = ""


def _parse(path: Path) -> tuple[Any, dict[str, str]]:
    data = path.read_bytes()
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        return markdown_root(data, path)
    return parse_html(data, str(path)), {}


class _Files:
    """The chapter files, and which of them a link points to (resolved once per link)."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.by_real = {f.resolve(): f for f in files}
        self._cache: dict[tuple[Path, str], Path | None] = {}

    def target(self, page: Path, href: str) -> Path | None:
        """The chapter file a link on `page` points to, if it is one."""
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path:
            return None
        key = (page.parent, unquote(parts.path))
        if key not in self._cache:
            real = (key[0] / key[1]).resolve()
            if real not in self.by_real and real.is_dir():
                names = ("index.html", "index.htm", "README.md")
                real = next((real / n for n in names if (real / n).resolve() in self.by_real), real)
            self._cache[key] = self.by_real.get(real)
        return self._cache[key]


_TOC_CLASSES = re.compile(r"^(toc|mini-toc|menu|contents)$")


def _in_chrome(element: Any) -> bool:
    """Inside a navigation bar, sidebar, header or footer (a table of contents is not chrome)."""
    return any(
        is_chrome(a) and not any(_TOC_CLASSES.match(c) for c in (a.get("class") or "").split())
        for a in element.iterancestors()
    )


def _up_link(page: Path, root: Any, known: _Files) -> Path | None:
    """The page's parent as its navigation names it (rel="up", or the "up" access key of Texinfo,
    DocBook and Sphinx pages)."""
    for element in root.iter("a", "link"):
        rel = (element.get("rel") or "").lower().split()
        label = " ".join(
            [element.text_content() if element.tag == "a" else "", *element.xpath(".//img/@alt")]
        )
        named_up = label.strip().casefold() in {"up", "parent"}  # LaTeX2HTML's arrow image, "Up"
        if "up" in rel or "parent" in rel or (element.get("accesskey") or "").lower() == "u" or named_up:
            target = known.target(page, element.get("href") or "")
            if target is not None and target != page:
                return target
    return None


def _toc_links(page: Path, root: Any, known: _Files) -> list[tuple[Path, int, str]]:
    """(file, depth, link text) of the page's table of contents: the links in its lists (<ul>,
    <ol>, <dl>) that point to chapter files, the depth counting nested lists; lists in
    navigation chrome only when there are none elsewhere (an mdBook's sidebar is its table of
    contents, and lists the page itself); if the page has no such lists, its links at depth 1."""
    found: list[tuple[Path, int, str, bool]] = []
    for link in root.iter("a"):
        target = known.target(page, link.get("href") or "")
        if target is None:
            continue
        words = clean_line(link.text_content())
        if _NAVIGATION_WORDS.match(words):
            continue  # "Next", "Up", "Home": a navigation bar's link, not an entry
        depth = sum(1 for a in link.iterancestors() if a.tag in _LISTS)
        found.append((target, depth, words, _in_chrome(link)))
    body = [(f, d, t) for f, d, t, chrome in found if d > 0 and not chrome and f != page]
    sidebar = [(f, d, t) for f, d, t, chrome in found if d > 0 and chrome]
    # the sidebar when the body's lists name few pages (an introduction linking two chapters)
    listed = sidebar if len({i[0] for i in sidebar}) > 2 * len({i[0] for i in body}) else body
    if len({item[0] for item in listed}) >= 2:
        top = min(item[1] for item in listed)
        return [(f, d - top + 1, text) for f, d, text in listed]
    return [(f, 1, text) for f, _, text, chrome in found if f != page and not chrome]


def _find_index(folder: Path, known: _Files) -> tuple[Path, Any, dict[str, str]] | None:
    """The table of contents page: an index/SUMMARY/README/contents page at the top of the folder,
    else the page that links to the most chapter files (if it links to at least a third)."""
    files = known.files
    named = [f for f in files if f.parent == folder and _INDEX_NAMES.match(_language_of(Path(f.name))[1])]
    order = {"index": 0, "toc": 1, "contents": 2, "summary": 3, "top": 4, "readme": 5}
    named.sort(key=lambda f: order.get(f.name.split(".")[0].lower(), 9))
    for page in named[:1]:
        root, fields = _parse(page)
        return page, root, fields
    best: tuple[int, Path, Any, dict[str, str]] | None = None
    for page in files:
        if _is_redirect(page):
            continue
        root, fields = _parse(page)
        linked = len({f for f, _, _ in _toc_links(page, root, known)})
        if best is None or linked > best[0]:
            best = (linked, page, root, fields)
    if best and best[0] >= max(3, len(files) // 3):
        return best[1], best[2], best[3]
    return None


@dataclass
class _Node:
    text: str
    file: Path
    children: list[_Node] = field(default_factory=list)

    def files(self) -> list[Path]:
        return [self.file, *(f for child in self.children for f in child.files())]


def _tree(entries: list[tuple[Path, int, str]]) -> list[_Node]:
    roots: list[_Node] = []
    stack: list[tuple[int, list[_Node]]] = [(0, roots)]
    for file, depth, text in entries:
        node = _Node(text, file)
        while len(stack) > 1 and stack[-1][0] >= depth:
            stack.pop()
        stack[-1][1].append(node)
        stack.append((depth, node.children))
    return roots


def _grouped(entries: list[tuple[Path, int, str]], document_title: str) -> list[_Entry]:
    """Chapters from the table of contents: the entries of its chapter level (below a wrapping
    entry and below parts, as in an outline), the files listed below each merged into it."""
    chapters = chapter_nodes(_tree(entries), lambda n: n.text, lambda n: n.children, document_title)
    groups: list[_Entry] = []
    owner: dict[Path, _Entry] = {}
    for node in chapters:
        group = owner.get(node.file) or _Entry([], node.text)
        if group not in groups:
            groups.append(group)
        for file in node.files():
            if file not in owner:
                owner[file] = group
                group.files.append(file)
    return [group for group in groups if group.files]


def _is_redirect(path: Path) -> bool:
    """A page that only sends the browser elsewhere (Texinfo writes one per anchor)."""
    if path.suffix.lower() not in HTML_SUFFIXES:
        return False
    head = path.read_bytes()[:4096].lower()
    return b"http-equiv" in head and re.search(rb"http-equiv=[\"']?refresh", head) is not None


def _adopt(groups: list[_Entry], known: _Files, index: Path) -> None:
    """Pages the table of contents does not list (a Texinfo manual's sections, listed on their
    chapter's page only) join the chapter their "up" links lead to, in the order its pages
    link to them."""
    files = known.files
    owner = {f: number for number, group in enumerate(groups) for f in group.files}
    owner[index] = -1
    parents: dict[Path, Path | None] = {}
    roots: dict[Path, Any] = {}
    for page in files:
        if page not in owner:
            roots[page] = _parse(page)[0]
            parents[page] = _up_link(page, roots[page], known)

    def chapter_of(page: Path, depth: int = 0) -> int | None:
        if page in owner:
            return owner[page]
        parent = parents.get(page)
        return None if parent is None or depth > 20 else chapter_of(parent, depth + 1)

    for page in files:
        if page not in owner and (number := chapter_of(page)) is not None and number >= 0:
            owner[page] = number
    for number, group in enumerate(groups):
        members = {f for f, n in owner.items() if n == number and f not in group.files}
        _append_in_link_order(group, members, roots, known)


def _append_in_link_order(group: _Entry, members: set[Path], roots: dict[Path, Any], known: _Files) -> None:
    """`members` added to the chapter in the order its pages (and theirs, in turn) link to them."""
    for page in group.files:  # grows while it is read: a section's own sub-pages follow it
        if not members:
            break
        root = roots[page] if page in roots else _parse(page)[0]
        for link in root.iter("a"):
            target = known.target(page, link.get("href") or "")
            if target in members:
                group.files.append(target)
                members.discard(target)
    group.files.extend(sorted(members, key=lambda f: _natural(str(f))))


# --- reading ------------------------------------------------------------------------------


def read_folder(folder: Path) -> Document:
    files, language_warning = pick_language(_all_files(folder), folder)
    files = _limited(files, folder)
    if not files:
        raise DocumentError(f"{folder}: no HTML or Markdown files in the folder")
    warnings = [language_warning] if language_warning else []
    known = _Files(files)
    found = _find_index(folder, known)
    title, author = "", ""
    groups = [_Entry([f]) for f in files if not _is_redirect(f)]
    if found is not None:
        index, root, fields = found
        stream = list(events(root))
        title = fields.get("title") or whole_page(stream, "").title or page_title(root)
        author = fields.get("author") or meta_author(root)
        entries = _toc_links(index, root, known)
        listed = _grouped(entries, title)
        _adopt(listed, known, index)
        linked = {f for group in listed for f in group.files} | {f for f, _, _ in entries} | {index}
        left_out = [f for f in files if f not in linked and not _is_redirect(f)]
        if len(listed) >= 2:
            groups = listed
            if left_out:
                names = ", ".join(str(f.relative_to(folder)) for f in left_out[:5])
                more = f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
                warnings.append(
                    f"{folder}: {len(left_out)} pages the table of contents ({index.name}) does not"
                    f" link to were left out: {names}{more}"
                )
        else:  # an index that lists little: its links first, the other pages after, by name
            groups = listed + [_Entry([f]) for f in files if f not in linked and not _is_redirect(f)]
    pages = {path: _Page.read(path) for group in groups for path in group.files}
    banners = _banners(list(pages.values()))
    chapters: list[RawChapter] = []
    for group in groups:
        chapters.append(_chapter(group, pages, banners))
        author = author or next((pages[p].author for p in group.files if pages[p].author), "")
    return Document(
        title=clean_line(title) or folder.name, author=author, chapters=chapters, warnings=warnings
    )


@dataclass
class _Page:
    stream: list[Event]
    fields: dict[str, str]
    title: str  # the <title>
    author: str

    @classmethod
    def read(cls, path: Path) -> _Page:
        root, fields = _parse(path)
        author = fields.get("author") or meta_author(root)
        return cls(list(events(root)), fields, page_title(root), author)


def _banners(pages: list[_Page]) -> set[str]:
    """Headings repeated on most pages (a site's name in every page's header): not titles."""
    if len(pages) < 3:
        return set()
    counts = Counter(
        text for page in pages for text in {e.text for e in page.stream if isinstance(e, Heading)}
    )
    return {text for text, count in counts.items() if count >= max(3, 0.5 * len(pages))}


def _chapter(group: _Entry, pages: dict[Path, _Page], banners: set[str]) -> RawChapter:
    """One chapter from its pages: titled by the first page's heading (else the table of
    contents' link), the other pages' titles as its sub-headings."""
    parts: list[RawChapter] = []
    for number, path in enumerate(group.files):
        page = pages[path]
        label = group.label if number == 0 else ""
        fallback = page.fields.get("title") or label or page.title or path.stem
        stream = [e for e in page.stream if not (isinstance(e, Heading) and e.text in banners)]
        part = whole_page(stream, fallback)
        if page.fields.get("title"):
            part.title = page.fields["title"]
        parts.append(part)
    first, rest = parts[0], parts[1:]
    if not rest:
        return first
    text = "\n\n".join([first.text, *(f"{part.title}\n\n{part.text}" for part in rest)])
    headings = [*first.headings, *(part.title for part in rest)]
    return RawChapter(title=first.title, text=clean_text(text), headings=headings)
