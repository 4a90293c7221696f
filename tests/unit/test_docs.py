"""The documentation holds to the code: every relative link of README.md and docs/*.md reaches
a file (and a heading, when it names one), and docs/configuration.md's tables list exactly the
environment variables the code reads."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from chalicelib.cli import _parser
from chalicelib.core.registry import Phase

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "RESULTS.md"]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
COMMAND = re.compile(r"\bcoursegen (?:\[?--data-dir \S+ )?([a-z]+)(?: ([a-z]+))?")
VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]*[A-Z0-9])`")


def prose(path: Path) -> str:
    """The Markdown without its fenced code blocks and inline code (where brackets are code)."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return re.sub(r"`[^`\n]*`", "``", text)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the file's headings: lower case, punctuation but hyphens and
    underscores dropped, spaces made hyphens, a repeated one numbered."""
    seen: dict[str, int] = {}
    found = set()
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(path: Path) -> list[str]:
    return [target for target in LINK.findall(prose(path)) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_the_checked_documents_have_links_and_the_anchors_are_githubs() -> None:
    assert sum(len(links(path)) for path in DOCUMENTS) > 50
    readme = anchors(ROOT / "README.md")
    assert {"the-http-api", "use-a-model", "deploy-to-aws"} <= readme
    assert "sending-a-request-again-idempotency-key" in anchors(ROOT / "docs" / "formats.md")


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_every_relative_link_reaches_its_file_and_heading(path: Path) -> None:
    broken = []
    for target in links(path):
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.name}")
    assert broken == [], f"{path.relative_to(ROOT)}: {broken}"


def documented_variables() -> set[str]:
    """The variables named in the first column of configuration.md's tables."""
    names = set()
    for line in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            names.update(VARIABLE.findall(line.split("|")[1]))
    return names


def variables_the_code_reads() -> set[str]:
    """The names config.py reads (its literals and one deadline per phase, COURSEGEN_PG_BIN also
    named where its error messages cite it), and the few the deployment tooling reads itself."""
    config = (ROOT / "chalicelib" / "config.py").read_text(encoding="utf-8")
    names = set(re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', config))
    names |= {f"COURSEGEN_STALL_MINUTES_{phase.name}" for phase in Phase}
    elsewhere = [*(ROOT / "chalicelib").rglob("*.py"), *(ROOT / "deploy").rglob("*.py"), ROOT / "Makefile"]
    for path in elsewhere:
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'(?:environ(?:\.get)?[\[(]|getenv\()\s*"([A-Z][A-Z0-9_]+)"', text))
        names |= set(re.findall(r'^[A-Z_]+_ENV\s*=\s*"([A-Z][A-Z0-9_]+)"', text, re.M))
    return names


def test_configuration_md_lists_exactly_the_variables_the_code_reads() -> None:
    documented, read = documented_variables(), variables_the_code_reads()
    assert {"COURSEGEN_RUNTIME", "COURSEGEN_STALL_MINUTES_SEARCH", "COURSEGEN_PG_BIN"} <= read
    assert sorted(read - documented) == [], "read by the code but not in docs/configuration.md"
    assert sorted(documented - read) == [], "in docs/configuration.md but read by no code"


def code(path: Path) -> str:
    """The Markdown's fenced blocks and inline code spans: where commands are shown."""
    text = path.read_text(encoding="utf-8")
    blocks = [match.group(0) for match in FENCE.finditer(text)]
    shown = "\n".join([*blocks, *re.findall(r"`([^`\n]+)`", FENCE.sub("", text))])
    return re.sub(r"(^|\s)#.*", "", shown, flags=re.M)  # comments are prose


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def test_every_make_target_and_coursegen_command_shown_exists() -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))
    commands = {name: set(subcommands(sub)) for name, sub in subcommands(_parser()).items()}
    unknown = []
    for path in DOCUMENTS:
        shown = code(path)
        unknown += [f"make {t}" for t in re.findall(r"\bmake ([a-z][\w-]*)", shown) if t not in targets]
        for command, action in re.findall(
            r"\bcoursegen (?:\[?--data-dir \S+ )?([a-z]+)(?: ([a-z]+))?", shown
        ):
            if command not in commands:
                unknown.append(f"coursegen {command}")
            elif commands[command] and action and action not in commands[command]:
                unknown.append(f"coursegen {command} {action}")
    assert unknown == []
    assert {"demo", "serve", "test-fast"} <= targets and "retry" in commands["courses"]


def test_development_md_lists_every_make_target() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = {t for line in re.findall(r"^\.PHONY:(.*)$", makefile, re.M) for t in line.split()}
    listed = set(re.findall(r"^make ([a-z][\w-]*)", code(ROOT / "docs" / "development.md"), re.M))
    assert {"demo", "serve", "iac-setup"} <= targets
    assert sorted(targets - listed) == []
