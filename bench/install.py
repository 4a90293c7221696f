"""`pip install .` as a person runs it: the wheel, a fresh virtual environment with the `local`
extra, and the demo from an empty folder, each step timed.

    .venv/bin/python -m bench.install [--extras local]

The dependencies come from the package index, or from pip's cache once `make setup` has run
(the figures in bench/RESULTS.md are with a warm cache). tests/e2e/test_install.py runs the same
steps and checks what they print.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench._common import machine, table
from tests.support.install import build_wheel, copy_checkout, fresh_env, install, make_venv


def size_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extras", default="local", help="extras to install (default: local)")
    args = parser.parse_args()

    rows: list[tuple[str, str, str]] = []

    def step(label: str, started: float, detail: str = "") -> None:
        rows.append((label, f"{time.perf_counter() - started:.1f}", detail))

    work = Path(tempfile.mkdtemp(prefix="coursegen-bench-install-"))
    os.chmod(work, 0o755)  # the embedded PostgreSQL's unprivileged user reaches the data folder
    try:
        started = time.perf_counter()
        source = copy_checkout(work / "source")
        (work / "wheel").mkdir()
        wheel = build_wheel(source, work / "wheel")
        step("build the wheel (pip wheel, build isolation)", started, f"{wheel.stat().st_size / 1024:.0f} KB")
        started = time.perf_counter()
        venv = work / "venv"
        make_venv(venv)
        step("python -m venv", started)
        started = time.perf_counter()
        install(venv, f"{wheel}[{args.extras}]" if args.extras else str(wheel))
        step(f"pip install coursegen[{args.extras}]", started, f"venv {size_mb(venv):.0f} MB")

        env, folder = fresh_env(venv), work / "empty"
        folder.mkdir()
        os.chmod(folder, 0o755)

        def coursegen(label: str, *arguments: str) -> None:
            started = time.perf_counter()
            subprocess.run(["coursegen", *arguments], cwd=folder, env=env, check=True, capture_output=True)
            step(label, started)

        data = ("--data-dir", "data")
        try:
            coursegen("coursegen --version", "--version")
            coursegen("coursegen samples ./books", "samples", "./books")
            books = sorted(glob.glob("books/*.json", root_dir=folder))
            coursegen("library load books/*.json (starts PostgreSQL)", *data, "library", "load", *books)
            query = ("generate", "Learn DCF valuation", "--hours", "2")
            coursegen('generate "Learn DCF valuation" --hours 2', *data, *query)
        finally:
            subprocess.run(["coursegen", *data, "db", "stop"], cwd=folder, env=env, capture_output=True)
    finally:
        started = time.perf_counter()
        shutil.rmtree(work, ignore_errors=True)
        step("remove the venv and the data", started)

    print(machine())
    table("pip install . into a fresh venv, then the demo (seconds)", ("step", "s", ""), rows)


if __name__ == "__main__":
    main()
