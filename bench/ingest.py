"""Seconds and peak memory to ingest a ~300-page PDF offline (`coursegen library add` without
the database load): outline, text, extractive summaries, key phrases.

    .venv/bin/python -m bench.ingest [--runs 3] [PDF]

Without PDF it reads the Debian Reference (261 pages, with bookmarks) from the test corpus
(tests/ingest/corpus.sh fetches it). Each run is a fresh process, so the peak resident memory
includes loading Python, the PDF library and the embedder. Targets: ≤ 60 s and ≤ 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench._common import PROJECT_DIR, machine

CHILD = """
import json, sys, time, resource
started = time.monotonic()
from chalicelib.ingest import ingest
import pypdfium2
book = ingest(sys.argv[1])
seconds = time.monotonic() - started
pages = len(pypdfium2.PdfDocument(sys.argv[1]))
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "pages": pages, "chapters": len(book.chapters)}))
"""


def default_pdf() -> Path:
    cache = Path(os.environ.get("COURSEGEN_TEST_CORPUS") or Path.home() / ".cache" / "coursegen-test-corpus")
    subprocess.run(["bash", str(PROJECT_DIR / "tests" / "ingest" / "corpus.sh"), str(cache)], check=True)
    return cache / "docs" / "debian-reference.en.pdf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf", nargs="?", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    pdf = args.pdf or default_pdf()
    runs = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(pdf)],
            check=True,
            capture_output=True,
            text=True,
            cwd=PROJECT_DIR,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    seconds = sorted(run["seconds"] for run in runs)
    peak = max(run["peak_mb"] for run in runs)
    first = runs[0]
    print(f"# ingest a PDF offline ({machine()})")
    print(f"{pdf.name}: {first['pages']} pages, {first['chapters']} chapters, {len(runs)} runs")
    print(f"seconds: median {seconds[len(seconds) // 2]:.1f} (min {seconds[0]:.1f}, max {seconds[-1]:.1f})")
    print(f"peak resident memory: {peak:.0f} MB")
    per_300 = seconds[len(seconds) // 2] * 300 / first["pages"]
    verdict = "met" if per_300 <= 60 and peak <= 1024 else "NOT met"
    print(f"scaled to 300 pages: {per_300:.1f} s; target ≤ 60 s and ≤ 1 GB: {verdict}")


if __name__ == "__main__":
    main()
