"""Real documents nobody here wrote (Debian's manuals as PDF, EPUB, HTML, plain text, and
Markdown made by pandoc): the chapters found are the ones their tables of contents list."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.ingest import read_document
from chalicelib.ingest.matter import content_chapters, number_chapters

pytestmark = pytest.mark.slow

MAINT_GUIDE = [
    "Getting started The Right Way",
    "First steps",
    "Modifying the source",
    "Required files under the debian directory",
    "Other files under the debian directory",
    "Building the package",
    "Checking the package for errors",
    "Updating the package",
    "Uploading the package",
]
FAQ = [
    "Definitions and overview",
    "Getting and installing Debian GNU/Linux",
    "Choosing a Debian distribution",
    "Compatibility issues",
    "Software available in the Debian system",
    "The Debian archives",
    "Basics of the Debian package management system",
    "The Debian package management tools",
    "Keeping your Debian system up-to-date",
    "Debian and the kernel",
    "Customizing your Debian GNU/Linux system",
    "Getting support for Debian GNU/Linux",
    "Contributing to the Debian Project",
    "Redistributing Debian GNU/Linux in a commercial product",
    "Changes expected in the next major release of Debian",
    "General information about the FAQ",
]
POLICY_CHAPTERS = [
    "About this manual",
    "The Debian Archive",
    "Binary packages",
    "Source packages",
    "Control files and their fields",
    "Package maintainer scripts and installation procedure",
    "Declaring relationships between packages",
    "Shared libraries",
    "The Operating System",
    "Files",
    "Customized programs",
    "Documentation",
]
DEBIAN_REFERENCE = [
    "GNU/Linux tutorials",
    "Debian package management",
    "The system initialization",
    "Authentication and access controls",
    "Network setup",
    "Network applications",
    "GUI System",
    "I18N and L10N",
    "System tips",
    "Data management",
    "Data conversion",
    "Programming",
]
BASH_CHAPTERS = [
    "Introduction",
    "Definitions",
    "Basic Shell Features",
    "Shell Builtin Commands",
    "Shell Variables",
    "Bash Features",
    "Job Control",
    "Command Line Editing",
    "Using History Interactively",
    "Installing Bash",
]


def chapters(path: Path) -> list[tuple[int, str]]:
    document = read_document(path)
    return [
        (number, title)
        for number, title, _ in number_chapters(content_chapters(document.chapters, document.title))
    ]


def numbered(titles: list[str]) -> list[tuple[int, str]]:
    return list(enumerate(titles, start=1))


def test_a_pdf_manual_follows_its_bookmarks(corpus: Path) -> None:
    # the outline's 10 entries: 9 chapters and a substantive appendix
    assert chapters(corpus / "maint-guide.en.pdf") == numbered([*MAINT_GUIDE, "Advanced packaging"])
    # a short "Appendix" (the document's history and format) is back matter
    assert chapters(corpus / "debian-reference.en.pdf") == numbered(DEBIAN_REFERENCE)


def test_an_epub_follows_its_navigation_without_title_page_contents_or_licence(corpus: Path) -> None:
    found = chapters(corpus / "policy.epub")
    assert found[:12] == numbered(POLICY_CHAPTERS)
    titles = [title for _, title in found]
    assert (
        "Upgrading checklist" in titles and "License" not in titles and "Debian Policy Manual" not in titles
    )
    assert len(found) == 22  # 12 chapters and 10 appendices

    reference = [title for _, title in chapters(corpus / "developers-reference.epub")]
    assert reference[0] == "Scope of This Document" and reference[-1] == "Overview of Debian Maintainer Tools"
    assert len(reference) == 9  # its title page, which lists the contents, is not a chapter


def test_plain_text_and_an_html_folder_give_the_same_chapters(corpus: Path) -> None:
    assert chapters(corpus / "debian-faq.txt") == numbered(FAQ)
    assert chapters(corpus / "debian-faq-html") == numbered(FAQ)  # in the order the index page links them


def test_a_single_html_file_splits_at_its_chapter_headings(corpus: Path) -> None:
    found = chapters(corpus / "bashref.html")
    assert found[:10] == numbered(BASH_CHAPTERS)
    # appendices: the bug-report note and the licence are skipped, the index too
    assert [title for _, title in found[10:]] == ["Appendix B Major Differences From The Bourne Shell"]


def test_a_markdown_folder_follows_its_index(corpus: Path) -> None:
    found = chapters(corpus / "maint-guide-md")
    assert found == numbered([*MAINT_GUIDE, "Appendix A. Advanced packaging"])
    document = read_document(corpus / "maint-guide-md")
    assert document.title == "Debian New Maintainers' Guide"
    first = document.chapters[0]
    assert first.headings[:2] == ["1.1. Social dynamics of Debian", "1.2. Programs needed for development"]
