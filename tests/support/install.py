"""Building the wheel and installing it into a fresh virtual environment that cannot see this
checkout, as a person does with `pip install .`; shared by tests/e2e/test_install.py and
bench/install.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Variables that would let the fresh environment see this checkout, this .venv or its settings.
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check")
_LEAKY = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONUSERBASE")


def copy_checkout(destination: Path) -> Path:
    """The files git tracks, and new ones it does not ignore, copied into `destination`: a wheel
    built there holds no stale build/ output or local data of this checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted but not yet staged is listed and absent
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def build_wheel(source: Path, out_dir: Path) -> Path:
    """`pip wheel --no-deps` of the project in `source`, with build isolation as `pip install .`
    builds it (setuptools from the package index, or pip's cache)."""
    subprocess.run(
        [*PIP, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out_dir), str(source)],
        check=True,
        cwd=out_dir,
    )
    [wheel] = out_dir.glob("coursegen-*.whl")
    return wheel


def fresh_env(venv: Path) -> dict[str, str]:
    """The environment of a person whose PATH starts with the fresh venv's bin folder: none of
    this process's Python settings, nothing of the coursegen variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _LEAKY and not key.startswith("COURSEGEN_")
    }
    bin_dir = str(venv / "bin")
    ours = str(Path(sys.executable).parent)
    path = [entry for entry in env.get("PATH", "").split(os.pathsep) if entry and entry != ours]
    env["PATH"] = os.pathsep.join([bin_dir, *path])
    return env


def make_venv(venv: Path) -> Path:
    """A new virtual environment from the base interpreter (never this .venv's packages), without
    pip of its own: pip runs from here against it (`pip --python`), which saves seeding one."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, env=fresh_env(venv))
    return venv / "bin" / "python"


def install(venv: Path, requirement: str) -> None:
    """`pip install REQUIREMENT` into `venv`; dependencies from the package index (or pip's cache)."""
    subprocess.run(
        [*PIP, "--python", str(venv / "bin" / "python"), "install", "--quiet", requirement],
        check=True,
        env=fresh_env(venv),
        cwd=venv,
    )
