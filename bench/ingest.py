"""Seconds and peak memory to ingest a ~300-page PDF offline (`coursegen library add` without
the database load): outline, text, extractive summaries, key phrases.

    .venv/bin/python -m bench.ingest [--runs 3] [--handler] [PDF]

With --handler, each run is what the ingestion function does for one upload (chalicelib/
book_uploads.py): the PDF is fetched from a bucket (moto, in process), ingested, embedded and
loaded into PostgreSQL (a local server, whose memory is not counted: on AWS it is Aurora's), and
the upload's progress recorded. The embedder is the offline one (WordLlama, in process), where
AWS calls the model: its time is the model's round trips there. The figures size the function in
.chalice/config.json.

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
import tempfile
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


HANDLER_CHILD = """
import json, os, sys, tempfile, time, resource
from pathlib import Path
os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
started = time.monotonic()
import boto3
from moto import mock_aws
from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.adapters.migrate import migrate
from chalicelib.adapters.pg import connection_factory
from chalicelib.adapters.offline_embedder import WordLlamaEmbedder
from chalicelib.adapters.pg_ingestions import PgIngestions
from chalicelib.adapters.pg_library import PgLibrary
from chalicelib.adapters.s3_documents import S3Documents
from chalicelib.book_uploads import BookUploads
server = LocalPostgres(Path(sys.argv[2]), durable=False)
connections = connection_factory(server.ensure_running())
migrate(connections)
with mock_aws():
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="books-bench")
    s3.put_object(Bucket="books-bench", Key="books/bench/book.pdf", Body=Path(sys.argv[1]).read_bytes())
    setup = time.monotonic() - started
    started = time.monotonic()
    uploads = BookUploads(PgLibrary(connections), PgIngestions(connections), WordLlamaEmbedder(),
                          S3Documents(s3).download)
    event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": "books-bench"}, "object": {"key": "books/bench/book.pdf", "sequencer": "01"}}}]}
    (record,) = uploads.handle(event)
    seconds = time.monotonic() - started
assert record.status == "loaded", record
import pypdfium2
pages = len(pypdfium2.PdfDocument(sys.argv[1]))
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "pages": pages, "chapters": record.chapters}))
"""


def default_pdf() -> Path:
    cache = Path(os.environ.get("COURSEGEN_TEST_CORPUS") or Path.home() / ".cache" / "coursegen-test-corpus")
    subprocess.run(["bash", str(PROJECT_DIR / "tests" / "ingest" / "corpus.sh"), str(cache)], check=True)
    return cache / "docs" / "debian-reference.en.pdf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf", nargs="?", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--handler", action="store_true", help="through the ingestion function's code")
    args = parser.parse_args()
    pdf = args.pdf or default_pdf()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as data:
            os.chmod(data, 0o755)  # reachable by PostgreSQL's unprivileged user when run as root
            command = [sys.executable, "-c", HANDLER_CHILD, str(pdf), data] if args.handler else None
            try:
                out = subprocess.run(
                    command or [sys.executable, "-c", CHILD, str(pdf)],
                    check=True,
                    capture_output=True,
                    text=True,
                    cwd=PROJECT_DIR,
                ).stdout
            finally:
                if args.handler:
                    from chalicelib.adapters.localpg import LocalPostgres

                    LocalPostgres(Path(data)).stop()
        runs.append(json.loads(out.strip().splitlines()[-1]))
    seconds = sorted(run["seconds"] for run in runs)
    peak = max(run["peak_mb"] for run in runs)
    first = runs[0]
    what = "through the ingestion function's code" if args.handler else "offline"
    print(f"# ingest a PDF {what} ({machine()})")
    print(f"{pdf.name}: {first['pages']} pages, {first['chapters']} chapters, {len(runs)} runs")
    print(f"seconds: median {seconds[len(seconds) // 2]:.1f} (min {seconds[0]:.1f}, max {seconds[-1]:.1f})")
    print(f"peak resident memory: {peak:.0f} MB")
    per_300 = seconds[len(seconds) // 2] * 300 / first["pages"]
    verdict = "met" if per_300 <= 60 and peak <= 1024 else "NOT met"
    print(f"scaled to 300 pages: {per_300:.1f} s; target ≤ 60 s and ≤ 1 GB: {verdict}")


if __name__ == "__main__":
    main()
