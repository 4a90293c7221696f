"""The structure heuristics on small documents made here: bold numbered headings in a PDF
without outline, folders in several languages, folders whose table of contents nests pages
under chapters, EPUB labels that are file names, navigation wrapped in a title or in parts,
and back matter under many names."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.ingest import read_document
from chalicelib.ingest.document import RawChapter
from chalicelib.ingest.matter import content_chapters, matter_kind, number_chapters
from tests.ingest.made import Line, epub, pdf_bytes, prose


def titles(path: Path) -> list[tuple[int, str]]:
    document = read_document(path)
    return [(n, t) for n, t, _ in number_chapters(content_chapters(document.chapters, document.title))]


def page(title: str, body: str, head: str = "", extra: str = "") -> str:
    return f"<html><head><title>{title}</title>{head}</head><body>{extra}{body}</body></html>"


def text(topic: str) -> str:
    return "<p>" + " ".join(prose(topic)) + "</p>"


# --- PDF ----------------------------------------------------------------------------------


def test_a_pdf_whose_headings_are_bold_numbered_body_size_lines(tmp_path: Path) -> None:
    topics = ["harbour", "lighthouse", "tide"]
    contents: list[Line] = [(11.0, "Contents", True)]
    contents += [(11.0, f"{n} The {t} chapter ........ {n * 2}", True) for n, t in enumerate(topics, 1)]
    chapters: list[list[Line]] = [
        [
            (11.0, f"{n} The {topic} chapter", True),
            *[(11.0, line) for line in prose(topic, 6)],
            (11.0, f"{n}.1 Where the {topic} starts", True),
            *[(11.0, line) for line in prose(topic, 6)],
        ]
        for n, topic in enumerate(topics, start=1)
    ]
    index: list[Line] = [(11.0, "Index", True), *[(11.0, f"tide, {n}") for n in range(20)]]
    path = tmp_path / "bold.pdf"
    path.write_bytes(pdf_bytes([contents, *chapters, index]))
    assert titles(path) == [
        (1, "The harbour chapter"),
        (2, "The lighthouse chapter"),
        (3, "The tide chapter"),
    ]
    document = read_document(path)
    assert not document.warnings
    harbour = document.chapters[0]
    assert harbour.headings == ["Where the harbour starts"]
    assert "harbour matters" in harbour.text and "lighthouse" not in harbour.text
    assert "tide, 19" not in document.chapters[2].text  # the index after the last chapter is apart


def test_bold_lines_without_numbers_are_not_taken_for_chapters(tmp_path: Path) -> None:
    pages: list[list[Line]] = [
        [(11.0, "Note", True), *[(11.0, line) for line in prose(f"page {n}")]] for n in range(3)
    ]
    path = tmp_path / "notes.pdf"
    path.write_bytes(pdf_bytes(pages))
    assert "no outline and no headings" in read_document(path).warnings[0]


def test_a_chapter_title_set_on_two_lines_is_one_chapter(tmp_path: Path) -> None:
    pages: list[list[Line]] = [
        [(20.0, "The harbour and"), (20.0, "its keepers"), *[(11.0, line) for line in prose("harbour")]],
        [(20.0, "The tide"), (14.0, "Spring tides"), *[(11.0, line) for line in prose("tide")]],
    ]
    path = tmp_path / "wrapped.pdf"
    path.write_bytes(pdf_bytes(pages))
    document = read_document(path)
    assert [c.title for c in document.chapters] == ["The harbour and its keepers", "The tide"]
    assert document.chapters[1].headings == ["Spring tides"]


# --- folders ------------------------------------------------------------------------------


def test_a_folder_in_several_languages_is_read_in_english(tmp_path: Path) -> None:
    folder = tmp_path / "guide"
    folder.mkdir()
    names = {"en": ["Harbours", "Tides"], "fr": ["Ports", "Marées"], "de": ["Häfen", "Gezeiten"]}
    for language, (first, second) in names.items():
        links = (
            f'<ul><li><a href="b.{language}.html">{second}</a></li>'
            f'<li><a href="a.{language}.html">{first}</a></li></ul>'
        )
        (folder / f"index.{language}.html").write_text(page(f"Guide {language}", links))
        (folder / f"a.{language}.html").write_text(page(first, f"<h1>{first}</h1>{text(first)}"))
        (folder / f"b.{language}.html").write_text(page(second, f"<h1>{second}</h1>{text(second)}"))
    document = read_document(folder)
    assert [c.title for c in document.chapters] == ["Tides", "Harbours"]  # the index's order
    assert document.title == "Guide en"
    assert any("3 languages (de, en, fr)" in w and "the en pages" in w for w in document.warnings)


def test_a_folder_without_english_reads_its_untagged_pages_or_its_largest_language(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    for language in ["", "fr/", "de/"]:
        (folder / language).mkdir(parents=True, exist_ok=True)
        for name in ["one", "two"]:
            (folder / f"{language}{name}.html").write_text(
                page(name, f"<h1>{language}{name}</h1>{text(name)}")
            )
    assert [c.title for c in read_document(folder).chapters] == ["one", "two"]
    (folder / "de" / "three.html").write_text(page("three", f"<h1>de/three</h1>{text('three')}"))
    for name in ["one.html", "two.html"]:
        (folder / name).unlink()
    assert [c.title for c in read_document(folder).chapters] == ["de/one", "de/three", "de/two"]


def test_a_folder_with_files_named_like_languages_but_no_variants_reads_them_all(tmp_path: Path) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    for name in ["intro.es.html", "setup.it.html"]:  # no page exists in two languages
        (folder / name).write_text(page(name, f"<h1>{name}</h1>{text(name)}"))
    document = read_document(folder)
    assert len(document.chapters) == 2 and not document.warnings


def test_a_folder_follows_its_nested_table_of_contents(tmp_path: Path) -> None:
    """A DocBook- or Sphinx-like book: the index lists chapters, and under them their section
    pages; a section page listed nowhere joins its chapter by its "up" link; redirect pages and
    pages the contents do not list are left out; navigation bars stay out of the text."""
    folder = tmp_path / "book"
    folder.mkdir()
    toc = (
        '<div class="toc"><dl class="toc">'
        '<dt><a href="ch1.html">1. Harbours</a></dt>'
        '<dd><dl><dt><a href="ch1s2.html">1.2 Quays</a></dt></dl></dd>'
        '<dt><a href="ch2.html">2. Tides</a></dt>'
        "</dl></div>"
    )
    nav = '<div class="navheader"><a href="ch2.html">Next</a> chapter list</div>'
    (folder / "index.html").write_text(page("Sea Book", f"<h1>Sea Book</h1>{toc}"))
    (folder / "ch1.html").write_text(
        page(
            "Harbours",
            f'<h2>Chapter 1. Harbours<a class="headerlink" href="#h">¶</a></h2>{text("harbour")}',
            extra=nav,
        )
    )
    (folder / "ch1s2.html").write_text(page("Quays", f"<h3>1.2 Quays</h3>{text('quay')}"))
    up = '<div class="header"><p>Up: <a href="ch1s2.html" rel="up">Quays</a></p></div>'
    (folder / "ch1s3.html").write_text(
        page("Bollards", f"<h4>1.2.1 Bollards</h4>{text('bollard')}", extra=up)
    )
    (folder / "ch2.html").write_text(page("Tides", f"<h2>Chapter 2. Tides</h2>{text('tide')}", extra=nav))
    (folder / "old-name.html").write_text(
        page("moved", "<p>moved</p>", head='<meta http-equiv="refresh" content="0; url=ch2.html">')
    )
    (folder / "search.html").write_text(page("Search", f"<h1>Search</h1>{text('search')}"))
    document = read_document(folder)
    assert titles(folder) == [(1, "Harbours"), (2, "Tides")]
    harbours = document.chapters[0]
    assert harbours.headings == ["1.2 Quays", "1.2.1 Bollards"]
    assert all(word in harbours.text for word in ("harbour matters", "quay matters", "bollard matters"))
    assert "Next" not in harbours.text and "Up:" not in harbours.text and "¶" not in harbours.title
    assert document.warnings == [
        f"{folder}: 1 pages the table of contents (index.html) does not link to were left out: search.html"
    ]


def test_a_folder_without_an_index_page_uses_the_page_linking_to_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "manual"
    folder.mkdir()
    chapters = ["Tides", "Harbours", "Winds", "Currents"]
    links = "".join(f'<li><a href="{name.lower()}.html">{name}</a></li>' for name in chapters)
    (folder / "manual_toc.html").write_text(page("Manual", f"<h1>The Manual</h1><ul>{links}</ul>"))
    for name in chapters:
        (folder / f"{name.lower()}.html").write_text(page(name, f"<h1>{name}</h1>{text(name)}"))
    document = read_document(folder)
    assert [c.title for c in document.chapters] == chapters and document.title == "The Manual"


# --- EPUB ---------------------------------------------------------------------------------


def test_epub_labels_that_are_file_names_give_way_to_the_chapter_heading(tmp_path: Path) -> None:
    pages = {
        f"ch0{n}.xhtml": f"<h1>{name}</h1><p>{' '.join(prose(name))}</p>"
        for n, name in enumerate(["Tides", "Winds"], 1)
    }
    nav = '<ol><li><a href="ch01.xhtml">ch01</a></li><li><a href="ch02.xhtml">index_split_002</a></li></ol>'
    document = read_document(epub(tmp_path / "slugs.epub", pages, nav=nav))
    assert [c.title for c in document.chapters] == ["Tides", "Winds"]
    assert not document.chapters[0].text.startswith("Tides")


def test_epub_navigation_wrapped_in_the_book_title_and_grouped_in_unnamed_parts(tmp_path: Path) -> None:
    names = ["Tides", "Winds", "Harbours", "Currents"]
    pages = {
        f"c{n}.xhtml": f"<h1>{n}. {name}</h1><p>{' '.join(prose(name))}</p>"
        for n, name in enumerate(names, 1)
    }
    entries = [f'<li><a href="c{n}.xhtml">{n}. {name}</a></li>' for n, name in enumerate(names, 1)]
    nav = (
        '<ol><li><a href="c1.xhtml">Made Book</a></li><li><a href="c1.xhtml">Made Book</a><ol>'
        f"<li><span>Foundations</span><ol>{''.join(entries[:2])}</ol></li>"
        f"<li><span>Practice</span><ol>{''.join(entries[2:])}</ol></li>"
        "</ol></li></ol>"
    )
    assert titles(epub(tmp_path / "parts.epub", pages, nav=nav)) == list(enumerate(names, 1))


# --- back matter --------------------------------------------------------------------------

INDEX_TEXT = "\n".join(f"entry {n}, {n * 3}" for n in range(60))
PROSE = " ".join(prose("topic", 200))


@pytest.mark.parametrize(
    ("title", "body", "skipped"),
    [
        ("Concept Index", INDEX_TEXT, True),
        ("Index of Data Types", INDEX_TEXT, True),
        ("General Index: F \u2013 L", INDEX_TEXT, True),
        ("B Indices", INDEX_TEXT, True),
        ("The B-Tree Index", PROSE, False),  # a chapter about an index, in prose
        ("A GNU Free Documentation License", PROSE, True),
        ("BSD-3-Clause License", PROSE, True),
        ("B.1 License for copying this manual", PROSE, True),
        ("Appendix A Copying This Manual", PROSE, True),
        ("Changes", PROSE, True),
        ("Page Not Found", PROSE, True),
        ("Licensing your own software", PROSE, False),
    ],
)
def test_back_matter_under_many_names(title: str, body: str, skipped: bool) -> None:
    assert (matter_kind(RawChapter(title=title, text=body)) is not None) == skipped


def test_a_folder_whose_contents_group_chapters_in_parts_under_a_site_banner(tmp_path: Path) -> None:
    """PostgreSQL-like: a preface, then parts ("I. Basics") listing numbered chapters, each page
    under the same site banner heading; a heading whose number sits in its own element."""
    folder = tmp_path / "manual"
    folder.mkdir()
    banner = "<h1>Sea Manual 2.0 Documentation</h1>"
    layout = {"I. Basics": ["Tides", "Winds"], "II. Practice": ["Harbours", "Currents"]}
    toc, number = '<dt><a href="preface.html">Preface</a></dt>', 0
    (folder / "preface.html").write_text(page("Preface", f"{banner}<h2>Preface</h2>{text('preface')}"))
    for part, names in layout.items():
        slug = part.split()[1].lower()
        (folder / f"{slug}.html").write_text(page(part, f"{banner}<h2>{part}</h2><p>A part.</p>"))
        entries = ""
        for name in names:
            number += 1
            entries += f'<dt><a href="{name.lower()}.html">{number}. {name}</a></dt>'
            heading = f"<h2>{number}<tt>&nbsp;</tt>{name}</h2>"
            (folder / f"{name.lower()}.html").write_text(page(name, f"{banner}{heading}{text(name)}"))
        toc += f'<dt><a href="{slug}.html">{part}</a></dt><dd><dl>{entries}</dl></dd>'
    (folder / "index.html").write_text(page("Sea Manual", f'{banner}<div class="toc"><dl>{toc}</dl></div>'))
    document = read_document(folder)
    assert [c.title for c in document.chapters] == [
        "Preface",
        "1 Tides",
        "2 Winds",
        "3 Harbours",
        "4 Currents",
    ]
    assert titles(folder) == [(1, "Tides"), (2, "Winds"), (3, "Harbours"), (4, "Currents")]  # a short preface
    assert document.title == "Sea Manual 2.0 Documentation" and not document.warnings


def test_a_folder_whose_only_table_of_contents_is_the_sidebar_of_every_page(tmp_path: Path) -> None:
    """mdBook-like: each page carries the whole table of contents in a <nav> sidebar, sections
    in a list after their chapter's entry; index.html is a copy of the first page."""
    folder = tmp_path / "book"
    folder.mkdir()
    pages = {"intro.html": "Introduction", "ch1.html": "1. Tides", "ch1-1.html": "1.1. Spring tides"}
    pages |= {"ch2.html": "2. Winds", "ch2-1.html": "2.1. Trade winds", "print.html": "Whole book"}
    sidebar = (
        '<nav class="sidebar"><ol class="chapter"><li><a href="intro.html">Introduction</a></li>'
        '<li><a href="ch1.html"><strong>1.</strong> Tides</a></li>'
        '<li><ol class="section">'
        '<li><a href="ch1-1.html"><strong>1.1.</strong> Spring tides</a></li></ol></li>'
        '<li><a href="ch2.html"><strong>2.</strong> Winds</a></li>'
        '<li><ol class="section">'
        '<li><a href="ch2-1.html"><strong>2.1.</strong> Trade winds</a></li></ol></li>'
        "</ol></nav>"
    )
    for name, title in pages.items():
        body = f"<h1>{title.split(' ', 1)[-1]}</h1>{text(title)}"
        (folder / name).write_text(page(title, body, extra=sidebar))
    (folder / "index.html").write_text((folder / "intro.html").read_text())
    document = read_document(folder)
    assert [c.title for c in document.chapters] == ["Introduction", "Tides", "Winds"]
    assert (
        document.chapters[1].headings == ["Spring tides"]
        and "Spring tides matters" in document.chapters[1].text
    )
    assert "print.html" in document.warnings[0]


def test_plain_text_appendices_and_index_after_the_last_chapter_are_parts_of_their_own(
    tmp_path: Path,
) -> None:
    """Texinfo's plain text: numbered chapters underlined with stars, then an appendix (a licence)
    and an index that must not swell the last chapter."""
    chapters = "".join(
        f"{n} {name}\n{'*' * (len(name) + 2)}\n\n{' '.join(prose(name))}\n\n"
        for n, name in [(1, "Tides"), (2, "Winds")]
    )
    licence = "GNU Free Documentation License\n\n" + " ".join(prose("licence", 100))
    back = (
        f"Appendix A Long Examples\n************************\n\n{' '.join(prose('example', 120))}\n\n"
        f"Appendix B GNU Free Documentation License\n*****\n\n{licence}\n\nIndex\n*****\n\n* tides: 1\n"
    )
    path = tmp_path / "manual.txt"
    path.write_text(f"The Manual\n\n{chapters}{back}")
    assert titles(path) == [(1, "Tides"), (2, "Winds"), (3, "Appendix A Long Examples")]
    winds = read_document(path).chapters[1]
    assert "licence" not in winds.text and not winds.text.startswith("*")


def test_a_pdf_whose_chapters_open_pages_with_an_unnumbered_bold_title(tmp_path: Path) -> None:
    pages: list[list[Line]] = []
    for topic in ["Harbours", "Lighthouses", "Tides"]:
        pages.append(
            [(11.0, "Sea Book", False), (11.0, topic, True), *[(11.0, line) for line in prose(topic)]]
        )
        pages.append([(11.0, "Sea Book", False), *[(11.0, line) for line in prose(topic + " again")]])
    path = tmp_path / "openings.pdf"
    path.write_bytes(pdf_bytes(pages))
    document = read_document(path)
    assert [c.title for c in document.chapters] == ["Harbours", "Lighthouses", "Tides"]
    assert "Harbours again matters" in document.chapters[0].text and not document.warnings


def test_a_letter_after_numbered_chapters_labels_an_appendix() -> None:
    chapters = [RawChapter(title=f"{n} Chapter {n}", text=PROSE) for n in range(1, 4)]
    chapters += [
        RawChapter(title="A Suggested Responses", text=" ".join(prose("reply", 20))),
        RawChapter(title="B Long Examples", text=PROSE),
    ]
    kept = [c.title for c in content_chapters(chapters)]
    assert kept == ["1 Chapter 1", "2 Chapter 2", "3 Chapter 3", "B Long Examples"]
    # without numbered chapters before it, "A Tour of the Harbour" is a title, not a label
    tour = RawChapter(title="A Tour of the Harbour", text=" ".join(prose("tour", 20)))
    assert content_chapters([tour, *chapters[:1]]) == [tour, chapters[0]]
