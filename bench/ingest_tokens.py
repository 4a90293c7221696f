"""Model calls and prompt tokens per chapter when `coursegen library add --summarizer openai`
summarises a real book, at a few chunk sizes.

    .venv/bin/python -m bench.ingest_tokens [--chunk-tokens 1500,3000,6000] [PDF]

Without PDF it reads the Debian Reference (261 pages, with bookmarks) from the test corpus
(tests/ingest/corpus.sh fetches it). The document is read once; its chapters are summarised by
the model summariser through the real `openai` client against the local test server, whose
model answers deterministically from what it is sent, as long as the prompts allow: notes of
eight points and ten terms per chunk (the most the notes prompt asks for), a digest of a few
sentences. Prompt tokens are what the requests carry (messages and the JSON schema), counted
with the tokenizer bench/prompt_tokens.py uses; completion tokens are the fake model's, so only
their order of magnitude means anything. "text" is the tokens of the chapter text itself: the
least any summariser that reads the whole chapter must send. Target: prompt tokens at most
1.3 times the text at the default chunk size (3,000 tokens).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._common import PROJECT_DIR, machine, table, verdict
from bench.prompt_tokens import token_counter
from chalicelib.ingest.matter import content_chapters, number_chapters
from chalicelib.ingest.model_summary import DEFAULT_CHUNK_TOKENS, OpenAISummariser
from chalicelib.ingest.pipeline import read_document
from tests.ingest.summary_model import SummaryModel
from tests.support.llm_fixtures import fast_config
from tests.support.llm_server import LLMServer

OVERHEAD_TARGET = 1.3
TOTAL_COLUMNS = [
    "chunk", "chapters", "calls", "calls/chapter", "prompt", "prompt/chapter", "completion", "prompt/text",
]  # fmt: skip


@dataclass(frozen=True)
class Row:
    title: str
    text_tokens: int
    calls: int
    prompt_tokens: int
    completion_tokens: int


def default_pdf() -> Path:
    cache = Path(os.environ.get("COURSEGEN_TEST_CORPUS") or Path.home() / ".cache" / "coursegen-test-corpus")
    subprocess.run(["bash", str(PROJECT_DIR / "tests" / "ingest" / "corpus.sh"), str(cache)], check=True)
    return cache / "docs" / "debian-reference.en.pdf"


def request_tokens(body: dict[str, Any], count: Callable[[str], int]) -> int:
    tokens = sum(count(str(m["content"])) for m in body["messages"])
    if "response_format" in body:
        tokens += count(json.dumps(body["response_format"]))
    return tokens


def summarise(
    chapters: list[tuple[int, str, Any]], chunk_tokens: int, count: Callable[[str], int]
) -> tuple[list[Row], Row]:
    """Per chapter, and for the book's summary, the calls and tokens the model summariser spends."""
    rows: list[Row] = []
    with LLMServer() as server:
        server.chat_model = SummaryModel(points=8)
        config = fast_config(server, timeout=30.0, deadline=60.0, max_tokens=4096)
        summariser = OpenAISummariser(config, chunk_tokens=chunk_tokens)
        summaries = []
        for _number, title, raw in chapters:
            sent = len(server.chat_requests())
            before = summariser.usage
            digest = summariser.digest(title, raw.text, raw.headings)
            summaries.append(digest.summary)
            requests = server.chat_requests()[sent:]
            rows.append(
                Row(
                    title,
                    count(raw.text),
                    len(requests),
                    sum(request_tokens(r, count) for r in requests),
                    summariser.usage.completion_tokens - before.completion_tokens,
                )
            )
        sent = len(server.chat_requests())
        before = summariser.usage
        summariser.book_summary(summaries)
        requests = server.chat_requests()[sent:]
        book = Row(
            "(the book's summary)",
            0,
            len(requests),
            sum(request_tokens(r, count) for r in requests),
            summariser.usage.completion_tokens - before.completion_tokens,
        )
    return rows, book


def ratio_text(row: Row) -> str:
    return f"{row.prompt_tokens / row.text_tokens:.2f}" if row.text_tokens else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf", nargs="?", type=Path)
    parser.add_argument("--chunk-tokens", default=f"1500,{DEFAULT_CHUNK_TOKENS},6000")
    args = parser.parse_args()
    pdf = args.pdf or default_pdf()
    counter_name, count = token_counter()
    document = read_document(pdf)
    chapters = number_chapters(content_chapters(document.chapters, document.title))
    print(f"# model summariser: calls and prompt tokens per chapter ({machine()})")
    print(f"{pdf.name}: {len(chapters)} chapters; tokens counted with {counter_name}\n")
    totals = []
    default_ratio = float("nan")
    for chunk_tokens in [int(x) for x in args.chunk_tokens.split(",")]:
        rows, book = summarise(chapters, chunk_tokens, count)
        text = sum(r.text_tokens for r in rows)
        prompt = sum(r.prompt_tokens for r in rows) + book.prompt_tokens
        calls = sum(r.calls for r in rows) + book.calls
        completion = sum(r.completion_tokens for r in rows) + book.completion_tokens
        ratio = prompt / text
        if chunk_tokens == DEFAULT_CHUNK_TOKENS:
            default_ratio = ratio
            table(
                f"chunks of at most {chunk_tokens:,} tokens, per chapter",
                ["chapter", "text", "calls", "prompt", "completion", "prompt/text"],
                [
                    [r.title[:40], f"{r.text_tokens:,}", r.calls, f"{r.prompt_tokens:,}",
                     f"{r.completion_tokens:,}", ratio_text(r)]
                    for r in [*rows, book]
                ],
            )  # fmt: skip
        totals.append(
            [f"{chunk_tokens:,}", len(rows), calls, f"{calls / len(rows):.1f}", f"{prompt:,}",
             f"{prompt // len(rows):,}", f"{completion:,}", f"{ratio:.2f}"]
        )  # fmt: skip
    table(
        "the whole book, by chunk size (calls and tokens include the book's summary)",
        TOTAL_COLUMNS,
        totals,
    )
    print(
        f"prompt tokens / text tokens at the default chunk size: {default_ratio:.2f}; "
        f"target ≤ {OVERHEAD_TARGET}: {verdict(default_ratio <= OVERHEAD_TARGET)}"
    )


if __name__ == "__main__":
    sys.exit(main())
