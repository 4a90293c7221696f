"""`pip install .` for real: the wheel holds the package `coursegen` with its data and nothing of
the checkout's layout, and installed with the `local` extra into a fresh virtual environment, it
runs the demo from an empty folder outside the repository, with no access to this checkout."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest

from tests.support.install import ROOT, build_wheel, copy_checkout, fresh_env, install, make_venv

pytestmark = pytest.mark.slow  # a wheel build and a venv install from the package index: ~2 min


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Outside the repository; reachable by the unprivileged PostgreSQL user when run as root.
    path = Path(tempfile.mkdtemp(prefix="coursegen-install-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def wheel(workdir: Path) -> Path:
    out = workdir / "wheel"
    out.mkdir()
    return build_wheel(copy_checkout(workdir / "source"), out)


def files_under(folder: Path, pattern: str) -> list[str]:
    return sorted(path.name for path in folder.glob(pattern))


def test_the_wheel_holds_the_package_its_data_and_nothing_of_the_checkout(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = Parser().parsestr(archive.read(next(n for n in names if n.endswith("/METADATA"))).decode())
        entry_points = archive.read(next(n for n in names if n.endswith("/entry_points.txt"))).decode()
    dist_info = wheel.name.rsplit("-", 3)[0] + ".dist-info"
    assert {name.split("/")[0] for name in names} == {"coursegen", dist_info}

    def inside(folder: str, suffix: str) -> list[str]:
        return sorted(n.removeprefix(folder) for n in names if n.startswith(folder) and n.endswith(suffix))

    package = ROOT / "chalicelib"
    shipped = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    assert [n for n in inside("coursegen/", "") if not n.startswith("samples/")] == shipped
    assert {"adapters/migrations/001_initial.sql", "planning/prompts/parts.txt", "web/index.html"} <= set(
        shipped
    )
    assert inside("coursegen/samples/", ".json") == files_under(ROOT / "samples" / "library", "*.json")
    assert len(inside("coursegen/samples/", ".json")) >= 9

    assert "coursegen = coursegen.cli:main" in entry_points
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert metadata["Version"] == project["version"]
    required = metadata.get_all("Requires-Dist") or []
    assert sorted(r for r in required if "extra ==" not in r) == sorted(project["dependencies"])
    local = sorted(r.split(";")[0].strip() for r in required if 'extra == "local"' in r)
    assert local == sorted(project["optional-dependencies"]["local"])


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_installed_with_the_local_extra_it_runs_the_demo_from_an_empty_folder(
    workdir: Path, wheel: Path
) -> None:
    venv = workdir / "venv"
    make_venv(venv)
    install(venv, f"{wheel}[local]")
    env = fresh_env(venv)
    folder = workdir / "empty"
    folder.mkdir()
    os.chmod(folder, 0o755)
    assert not folder.resolve().is_relative_to(ROOT)

    # The fresh environment sees its own coursegen and no trace of this checkout.
    where = run(
        env,
        folder,
        "python",
        "-c",
        "import coursegen, importlib.util, sys; print(coursegen.__file__);"
        "print(importlib.util.find_spec('chalicelib'), importlib.util.find_spec('app'));"
        "print(*sys.path, sep='\\n')",
    ).stdout.splitlines()
    assert Path(where[0]).is_relative_to(venv) and where[1] == "None None"
    assert not any(entry and Path(entry).resolve().is_relative_to(ROOT) for entry in where[2:])

    version = run(env, folder, "coursegen", "--version").stdout
    assert version.strip() == f"coursegen {wheel.name.split('-')[1]}"
    run(env, folder, "coursegen", "samples", "./books")
    assert files_under(folder / "books", "*.json") == files_under(ROOT / "samples" / "library", "*.json")
    books = sorted(glob.glob("books/*.json", root_dir=folder))
    coursegen = ("coursegen", "--data-dir", "./data")
    try:
        loaded = run(env, folder, *coursegen, "library", "load", *books)
        assert f"loaded {len(books)} book(s)" in loaded.stderr
        outline = run(env, folder, *coursegen, "generate", "Learn DCF valuation", "--hours", "2")
    finally:
        subprocess.run([*coursegen, "db", "stop"], cwd=folder, env=env, capture_output=True)
    text = outline.stdout
    assert text.startswith("# ") and "## Part 1." in text and "### 1." in text
    assert "Sources: Pricing the Enterprise" in text  # cited from the sample valuation book
    assert "complete" in outline.stderr
    assert (folder / "data").is_dir() and not (ROOT / "data").exists()
