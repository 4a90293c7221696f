"""pyproject.toml lists the packages and data files of the wheel by hand (the directory chalicelib/
becomes the package coursegen): every subpackage and every data file of chalicelib/ must be in
those lists, or `pip install .` ships a package that fails where it reads them.
tests/e2e/test_install.py checks the built wheel itself."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"


def setuptools_config() -> Any:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def package_of(folder: Path) -> str:
    return ".".join(["coursegen", *folder.relative_to(PACKAGE).parts])


def source_files() -> list[Path]:
    return [p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def test_every_folder_of_chalicelib_with_files_is_a_listed_package() -> None:
    listed = set(setuptools_config()["packages"])
    folders = {package_of(path.parent) for path in source_files()}
    assert folders - listed == set(), "add these to [tool.setuptools] packages"
    assert {"coursegen", "coursegen.core", "coursegen.samples"} <= listed


def test_every_data_file_of_chalicelib_matches_its_packages_data_patterns() -> None:
    data = setuptools_config()["package-data"]
    unlisted = [
        str(path.relative_to(ROOT))
        for path in source_files()
        if path.suffix != ".py"
        and not any(fnmatch.fnmatch(path.name, pattern) for pattern in data.get(package_of(path.parent), []))
    ]
    assert unlisted == [], "add patterns to [tool.setuptools.package-data]"


def test_the_samples_package_is_the_repositorys_sample_library() -> None:
    config = setuptools_config()
    assert config["package-dir"] == {"coursegen": "chalicelib", "coursegen.samples": "samples/library"}
    patterns = config["package-data"]["coursegen.samples"]
    books = [p.name for p in (ROOT / "samples" / "library").iterdir()]
    assert len(books) >= 9 and all(any(fnmatch.fnmatch(b, pat) for pat in patterns) for b in books)
