"""What the installed distribution carries besides code: its version, and the sample library
that `coursegen samples DIR` copies out so a first run has books to load."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CourseGenError

if TYPE_CHECKING:  # imported where used: the adapters import this module for LOCAL_EXTRA alone
    from importlib.resources.abc import Traversable

DISTRIBUTION = "coursegen"
# The repository root when the package runs from a checkout (the directory chalicelib/).
_CHECKOUT = Path(__file__).resolve().parent.parent

# What a missing library of the embedded default says to do. Never `pip install coursegen[local]`:
# the package index may hold another project by that name.
LOCAL_EXTRA = 'install coursegen with its `local` extra (in the source folder: `pip install ".[local]"`)'

GET_STARTED = """\
Get started with the bundled sample books, on this machine, no account or key needed:
  coursegen samples ./books
  coursegen library load books/*.json
  coursegen generate "Learn DCF valuation" --hours 2
Your own documents: coursegen library add FILE... (EPUB, PDF, Markdown, HTML, text)"""


class SamplesError(CourseGenError):
    """The sample books cannot be copied as asked; nothing was written."""


def version() -> str:
    """The installed distribution's version; in a checkout (the package imported as chalicelib),
    the one pyproject.toml declares."""
    import tomllib
    from importlib import metadata

    if __package__ == DISTRIBUTION:
        try:
            return metadata.version(DISTRIBUTION)
        except metadata.PackageNotFoundError:  # the package copied somewhere without its metadata
            pass
    try:
        declared = tomllib.loads((_CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))
        return f"{declared['project']['version']} (source checkout)"
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def sample_files() -> list[Traversable]:
    """The bundled book files: the data folder `samples` of the installed package, else (a
    checkout, where the package is the directory chalicelib/) the repository's samples/library,
    which the wheel carries as that folder."""
    from importlib import resources

    bundled = resources.files(__package__ or DISTRIBUTION).joinpath("samples")
    folder: Traversable = bundled if bundled.is_dir() else _CHECKOUT / "samples" / "library"
    if not folder.is_dir():
        raise SamplesError(f"the sample library is missing from this installation (looked in {folder})")
    return sorted((entry for entry in folder.iterdir() if entry.name.endswith(".json")), key=lambda e: e.name)


def copy_samples(destination: Path, *, force: bool = False) -> list[Path]:
    """Copy the sample books into `destination` (created if needed). Refuses, writing nothing, when
    any of them is already there, unless `force`; a failed copy removes the files it wrote."""
    if destination.exists() and not destination.is_dir():
        raise SamplesError(f"{destination} is not a folder")
    sources = sample_files()
    targets = [destination / source.name for source in sources]
    present = [target for target in targets if target.exists()]
    if present and not force:
        names = ", ".join(target.name for target in present[:3]) + (", ..." if len(present) > 3 else "")
        raise SamplesError(
            f"{destination} already has {len(present)} of the sample files ({names}); --force overwrites them"
        )
    destination.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    partial = destination / ".sample.partial"
    try:
        for source, target in zip(sources, targets, strict=True):
            partial.write_bytes(source.read_bytes())
            partial.replace(target)  # a reader never sees half a book file
            written.append(target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        for target in written:
            if target not in present:
                target.unlink(missing_ok=True)
        raise SamplesError(f"cannot write the sample books into {destination}: {error}") from error
    return targets
