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


# --- books split across many pages by DocBook, Texinfo and Sphinx; several languages ---------

DEBMAKE = [
    "Overview",
    "Prerequisites",
    "Tool Setups",
    "Simple Example",
    "Basics",
    "debmake options",
    "Tips",
    "More Examples",
]
HARDEN = [
    "Introduction",
    "Before you begin",
    "Before and during the installation",
    "After installation",
    "Securing services running on your system",
    "Automatic hardening of Debian systems",
    "Debian Security Infrastructure",
    "Security tools in Debian",
    "Developer's Best Practices for OS Security",
    "Before the compromise",
    "After the compromise (incident response)",
    "Frequently asked Questions (FAQ)",
]
M4 = [
    "Introduction and preliminaries",
    "Invoking m4",
    "Lexical and syntactic conventions",
    "How to invoke macros",
    "How to define new macros",
    "Conditionals, loops, and recursion",
    "How to debug macros and input",
    "Input control",
    "File inclusion",
    "Diverting and undiverting output",
    "Macros for text handling",
    "Macros for doing arithmetic",
    "Macros for running shell commands",
    "Miscellaneous builtin macros",
    "Fast loading of frozen state",
    "Compatibility with other versions of m4",
    "Correct version of some examples",
]
DIFFUTILS = [
    "What Comparison Means",
    "diff Output Formats",
    "Incomplete Lines",
    "Comparing Directories",
    "Making diff Output Prettier",
    "diff Performance Tradeoffs",
    "Comparing Three Files",
    "Merging From a Common Ancestor",
    "Interactive Merging with sdiff",
    "Merging with patch",
    "Tips for Making and Using Patches",
    "Invoking cmp",
    "Invoking diff",
    "Invoking diff3",
    "Invoking patch",
    "Invoking sdiff",
    "Standards conformance",
    "Future Projects",
]
CLICK = [
    "Why Click?",
    "Quickstart",
    "Setuptools Integration",
    "Parameters",
    "Options",
    "Arguments",
    "Commands and Groups",
    "User Input Prompts",
    "Documenting Scripts",
    "Complex Applications",
    "Advanced Patterns",
    "Testing Click Applications",
    "Utilities",
    "Shell Completion",
    "Exception Handling",
    "Unicode Support",
    "Windows Console Notes",
    "API",
    "click-contrib",
    "Upgrading To Newer Releases",
]
STANDARDS = [
    "About the GNU Coding Standards",
    "Keeping Free Software Free",
    "General Program Design",
    "Program Behavior for All Programs",
    "Making The Best Use of C",
    "Documenting Programs",
    "The Release Process",
    "References to Non-Free Software and Documentation",
]


def test_a_docbook_book_as_epub_and_as_pages_in_six_languages(corpus: Path) -> None:
    assert chapters(corpus / "debmake-doc.en.epub") == numbered([*DEBMAKE, "A. debmake(1) manpage"])
    # ch01.en.html beside ch01.de.html, …: the English pages, in the order of index.en.html
    assert chapters(corpus / "debmake-html") == numbered([*DEBMAKE, "Appendix A. debmake(1) manpage"])
    document = read_document(corpus / "debmake-html")
    assert document.title == "Guide for Debian Maintainers"
    assert any("6 languages" in warning and "the en pages" in warning for warning in document.warnings)


def test_docbook_chunks_in_language_folders_merge_into_their_chapters(corpus: Path) -> None:
    # en-US/ beside fr-FR/, …; a page per section, listed under its chapter in index.html; the
    # change log appendix is back matter
    assert chapters(corpus / "harden-html") == numbered([*HARDEN, "Appendix B. Appendix"])
    after_installation = read_document(corpus / "harden-html").chapters[3]
    assert "4.2. Execute a security update" in after_installation.headings
    assert "Execute a security update" in after_installation.text


def test_texinfo_pages_per_node_and_per_chapter(corpus: Path) -> None:
    # a page per node: the sections, listed only on their chapter's page, join it by their
    # "Up" link; the licences (under other names) and the indices are back matter
    assert chapters(corpus / "m4-html") == numbered(M4)
    invoking = read_document(corpus / "m4-html").chapters[1]
    assert invoking.headings[0] == "2.1 Command line options for operation modes"
    assert "Next:" not in invoking.text and "Up:" not in invoking.text
    # a page per chapter, and a page redirecting to each anchor (left out): an unnumbered
    # overview before chapter 1 is chapter 0
    assert chapters(corpus / "diffutils-html") == [(0, "Overview"), *numbered(DIFFUTILS)]


def test_a_sphinx_book_follows_its_toctree_without_permalinks_or_generated_pages(corpus: Path) -> None:
    document = read_document(corpus / "click-html")
    assert chapters(corpus / "click-html") == numbered(CLICK)  # its licence and change log skipped
    assert all("\u00b6" not in c.title and "\u00b6" not in " ".join(c.headings) for c in document.chapters)
    assert any("genindex.html" in w and "search.html" in w for w in document.warnings)


def test_a_pdf_gives_the_same_chapters_with_and_without_its_outline(corpus: Path, tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject

    assert chapters(corpus / "standards.pdf") == numbered(STANDARDS)
    writer = PdfWriter(clone_from=PdfReader(corpus / "standards.pdf"))
    del writer._root_object[NameObject("/Outlines")]
    bare = tmp_path / "standards-without-outline.pdf"
    with bare.open("wb") as stream:
        writer.write(stream)
    assert chapters(bare) == numbered(STANDARDS)  # from the headings' type sizes
    keeping = next(c for c in read_document(bare).chapters if c.title.endswith("Keeping Free Software Free"))
    assert keeping.headings[0] == "2.1 Referring to Proprietary Programs"  # the next type size down


def test_a_pandoc_epub2_whose_navigation_wraps_the_chapters_in_the_title(corpus: Path) -> None:
    found = chapters(corpus / "maintain.epub")
    assert (
        len(found) == 22
        and found[0] == (1, "About This Document")
        and found[-1] == (22, "Using the Proofreaders List")
    )
