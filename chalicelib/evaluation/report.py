"""Scores generated courses against their annotated requests, checks the thresholds, and renders
the table of `coursegen eval` (text or JSON). Pure: the runner hands it what each course became."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from statistics import fmean
from typing import Any

from . import lint, metrics
from .dataset import EvalRequest
from .metrics import Catalog, ChapterKey, Section


@dataclass(frozen=True)
class Thresholds:
    """What `coursegen eval` demands; a miss makes it exit non-zero. docs/evaluation.md lists them."""

    mean_recall_min: float = 0.9  # mean R over the requests that expect chapters
    recall_min: float = 0.7  # R of every such request
    off_topic_max: float = 0.05  # OFF of every request that expects books
    taught_twice_max: float = 0.0  # DUP of every outline
    budget_error_max: float = 0.05  # M1 of every outline
    citation_validity_min: float = 1.0  # valid citations / citations, every outline
    pace_orders: bool = True  # every pace triplet in order
    depth_orders: bool = True  # every depth pair in order
    refusals: bool = True  # every request no book covers is refused
    lint_share_max: float | None = None  # share of objectives the lint flags; None: reported only


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Outcome:
    """What one request became: a stored outline's sections, or a failure with its reason."""

    status: str  # complete | failed | invalid
    sections: tuple[Section, ...] | None = None
    phase: str = ""
    reason: str = ""
    seconds: float = 0.0

    @property
    def refused(self) -> bool:
        """Failed in the search with nothing to build on, and no outline."""
        return self.status == "failed" and self.phase == "search" and self.sections is None


@dataclass
class RequestResult:
    id: str
    status: str
    reason: str
    seconds: float
    target_minutes: float
    total_minutes: int | None = None
    recall: float | None = None
    off_topic: float | None = None
    taught_twice: float | None = None
    budget_error: float | None = None
    citations_valid: int = 0
    citations: int = 0
    objectives: int = 0
    lint: list[lint.Problem] = field(default_factory=list)
    mean_section_minutes: float | None = None
    mean_bloom: float | None = None
    refused: bool | None = None  # only for requests that expect a refusal
    misses: list[str] = field(default_factory=list)
    sections: tuple[Section, ...] = ()  # the outline, for the JSON report

    @property
    def passed(self) -> bool:
        return not self.misses

    @property
    def citation_validity(self) -> float | None:
        return self.citations_valid / self.citations if self.citations else None

    @property
    def flagged(self) -> int:
        return len({problem.objective for problem in self.lint})


@dataclass(frozen=True)
class OrderCheck:
    """A pace triplet or depth pair: its requests in order and the value that must increase."""

    kind: str  # pace | depth
    ids: tuple[str, ...]
    values: tuple[float | None, ...]

    @property
    def holds(self) -> bool:
        return metrics.strictly_increasing(self.values)


@dataclass
class Report:
    results: list[RequestResult]
    orders: list[OrderCheck]
    thresholds: Thresholds
    misses: list[str]  # the set's own misses (means, orders); each request lists its own

    @property
    def passed(self) -> bool:
        return not self.misses and all(result.passed for result in self.results)


def score(
    request: EvalRequest,
    outcome: Outcome,
    catalog: Catalog,
    chapter_text: Callable[[ChapterKey], lint.ChapterText | None],
    names: lint.Names,
    thresholds: Thresholds = THRESHOLDS,
) -> RequestResult:
    result = RequestResult(
        id=request.id,
        status=outcome.status,
        reason=outcome.reason,
        seconds=outcome.seconds,
        target_minutes=request.hours * 60,
    )
    sections = outcome.sections
    if request.expects_refusal:
        result.refused = outcome.refused
        if not outcome.refused and thresholds.refusals:
            result.misses.append("not refused")
    elif sections is None:
        result.misses.append(
            f"no outline ({outcome.status}{': ' + outcome.reason if outcome.reason else ''})"
        )
    if sections is None:
        if request.expected:
            result.recall = 0.0
        return result
    result.sections = sections
    result.total_minutes = metrics.total_minutes(sections)
    result.recall = metrics.recall(sections, request.expected)
    result.off_topic = metrics.off_topic(sections, request.expect_books)
    result.taught_twice = metrics.taught_twice(sections, catalog, request.expected)
    result.budget_error = metrics.budget_error(sections, request.hours)
    result.citations_valid, result.citations = metrics.citation_counts(sections, catalog)
    result.mean_section_minutes = metrics.mean_section_minutes(sections)
    result.mean_bloom = metrics.mean_bloom(sections)
    for section in sections:
        texts = [text for cite in section.cites if (text := chapter_text(cite)) is not None]
        for objective in section.objectives:
            result.objectives += 1
            result.lint.extend(lint.lint_objective(objective, texts, names))
    result.misses.extend(_misses(result, thresholds))
    return result


def _misses(result: RequestResult, t: Thresholds) -> list[str]:
    """What of a scored outline misses a threshold, one line each."""
    misses: list[str] = []
    if result.recall is not None and result.recall < t.recall_min:
        misses.append(f"R {result.recall:.2f} < {t.recall_min:g}")
    if result.off_topic is not None and result.off_topic > t.off_topic_max:
        misses.append(f"OFF {result.off_topic:.3f} > {t.off_topic_max:g}")
    if result.taught_twice is not None and result.taught_twice > t.taught_twice_max:
        misses.append(f"DUP {result.taught_twice:.3f} > {t.taught_twice_max:g}")
    if result.budget_error is not None and result.budget_error > t.budget_error_max:
        misses.append(f"M1 {result.budget_error:.3f} > {t.budget_error_max:g}")
    validity = result.citation_validity
    if validity is not None and validity < t.citation_validity_min:
        misses.append(f"citations {validity:.1%} valid < {t.citation_validity_min:.0%}")
    if t.lint_share_max is not None and result.objectives:
        share = result.flagged / result.objectives
        if share > t.lint_share_max:
            misses.append(f"lint {share:.2f} > {t.lint_share_max:g}")
    return misses


def order_checks(requests: Sequence[EvalRequest], results: Mapping[str, RequestResult]) -> list[OrderCheck]:
    """Pace triplets (same query, hours and depth; paces differ) and depth pairs (same query,
    hours and pace; depths differ) among the requests, in the file's order of first appearance."""
    checks = []
    for kind, varied, order in (
        ("pace", "pace", metrics.PACE_ORDER),
        ("depth", "depth", metrics.DEPTH_ORDER),
    ):
        groups: dict[tuple[object, ...], list[EvalRequest]] = {}
        for request in requests:
            if request.expects_refusal:
                continue
            fixed = ("depth", "pace")[varied == "depth"]
            groups.setdefault((request.query, request.hours, getattr(request, fixed)), []).append(request)
        for members in groups.values():
            by_value = {getattr(member, varied).value: member for member in members}
            if len(by_value) < 2:
                continue
            ordered = [by_value[value] for value in order if value in by_value]
            values = tuple(
                results[m.id].mean_section_minutes if kind == "pace" else results[m.id].mean_bloom
                for m in ordered
            )
            checks.append(OrderCheck(kind, tuple(m.id for m in ordered), values))
    return checks


def build_report(
    requests: Sequence[EvalRequest], results: Sequence[RequestResult], thresholds: Thresholds = THRESHOLDS
) -> Report:
    by_id = {result.id: result for result in results}
    orders = order_checks(requests, by_id)
    misses: list[str] = []
    recalls = [r.recall for r in results if r.recall is not None]
    if recalls and fmean(recalls) < thresholds.mean_recall_min:
        misses.append(f"mean R {fmean(recalls):.2f} < {thresholds.mean_recall_min:g}")
    for check in orders:
        if not check.holds and (thresholds.pace_orders if check.kind == "pace" else thresholds.depth_orders):
            misses.append(f"{check.kind} order fails: {' < '.join(check.ids)}")
    return Report(list(results), orders, thresholds, misses)


# --- rendering -------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return fmean(known) if known else None


def _max(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def render_text(report: Report, examples: int = 3) -> str:
    results = report.results
    header = ("request", "result", "min", "R", "OFF", "DUP", "M1", "cites", "lint", "misses")
    rows = [header]
    for r in results:
        cites = f"{r.citations_valid}/{r.citations}" if r.citations else "-"
        lint_cell = f"{r.flagged}/{r.objectives}" if r.objectives else "-"
        minutes = "-" if r.total_minutes is None else f"{r.total_minutes}/{r.target_minutes:g}"
        result = "pass" if r.passed else "MISS"
        if r.refused:
            result += " (refused)"
        rows.append(
            (
                r.id,
                result,
                minutes,
                _fmt(r.recall),
                _fmt(r.off_topic, 3),
                _fmt(r.taught_twice, 3),
                _fmt(r.budget_error, 3),
                cites,
                lint_cell,
                "; ".join(r.misses),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    ]
    lines = [line.rstrip() for line in lines]
    lines.insert(1, "-" * min(120, max(len(line) for line in lines)))
    lines += ["", *summary_lines(report)]
    flagged = [p for r in results for p in r.lint]
    if flagged and examples:
        lines += ["", "objectives the lint flags (first few of each kind):"]
        for code in lint.CODES:
            distinct: dict[str, lint.Problem] = {}
            for problem in flagged:
                if problem.code == code:
                    distinct.setdefault(problem.objective, problem)
            shown = list(distinct.values())[:examples]
            lines += [f"  {code:<9}{p.objective!r}: {p.detail}" for p in shown]
    return "\n".join(lines) + "\n"


def summary(report: Report) -> dict[str, Any]:
    """The set's figures: means and extremes, counts of citations, orders, refusals and lint."""
    results = report.results
    recalls = [r.recall for r in results if r.recall is not None]
    valid = sum(r.citations_valid for r in results)
    cites = sum(r.citations for r in results)
    refusal_cases = [r for r in results if r.refused is not None]
    lint_counts = Counter(p.code for r in results for p in r.lint)
    figures: dict[str, Any] = {
        "requests": len(results),
        "passed": sum(r.passed for r in results),
        "mean_recall": _mean(recalls),
        "min_recall": min(recalls) if recalls else None,
    }
    for name in ("off_topic", "taught_twice", "budget_error"):
        values = [getattr(r, name) for r in results]
        figures[f"mean_{name}"] = _mean(values)
        figures[f"max_{name}"] = _max(values)
    figures |= {
        "citations_valid": valid,
        "citations": cites,
        "citation_validity": valid / cites if cites else None,
        "refused": sum(bool(r.refused) for r in refusal_cases),
        "refusal_cases": len(refusal_cases),
        "objectives": sum(r.objectives for r in results),
        "objectives_flagged": sum(r.flagged for r in results),
        "lint": {code: lint_counts[code] for code in lint.CODES},
    }
    for kind in ("pace", "depth"):
        checks = [c for c in report.orders if c.kind == kind]
        figures[f"{kind}_orders_held"] = sum(c.holds for c in checks)
        figures[f"{kind}_orders"] = len(checks)
    return figures


def summary_lines(report: Report) -> list[str]:
    t, f = report.thresholds, summary(report)

    def order_line(kind: str, unit: str) -> str:
        checks = [c for c in report.orders if c.kind == kind]
        detail = "; ".join(
            ("ok " if c.holds else "MISS ")
            + " < ".join(f"{i} {_fmt(v)}" for i, v in zip(c.ids, c.values, strict=True))
            for c in checks
        )
        held = f"{f[f'{kind}_orders_held']} of {f[f'{kind}_orders']} {unit}"
        return held + (f"  ({detail})" if detail else "")

    lint_detail = ", ".join(f"{code} {count}" for code, count in f["lint"].items())
    lint_limit = "reported only" if t.lint_share_max is None else f"each <= {t.lint_share_max:g}"
    validity = f["citation_validity"]
    lines = [
        f"requests passed    {f['passed']} of {f['requests']}",
        f"R (recall)         mean {_fmt(f['mean_recall'])} (>= {t.mean_recall_min:g}), "
        f"min {_fmt(f['min_recall'])} (each >= {t.recall_min:g})",
        f"OFF (off-topic)    mean {_fmt(f['mean_off_topic'], 3)}, max {_fmt(f['max_off_topic'], 3)} "
        f"(each <= {t.off_topic_max:g})",
        f"DUP (twice)        mean {_fmt(f['mean_taught_twice'], 3)}, max {_fmt(f['max_taught_twice'], 3)} "
        f"(each <= {t.taught_twice_max:g})",
        f"M1 (budget)        mean {_fmt(f['mean_budget_error'], 3)}, max {_fmt(f['max_budget_error'], 3)} "
        f"(each <= {t.budget_error_max:g})",
        f"citation validity  {f['citations_valid']} of {f['citations']} valid"
        + (f" ({validity:.1%}; each >= {t.citation_validity_min:.0%})" if validity is not None else ""),
        f"pace order         {order_line('pace', 'triplets')}",
        f"depth order        {order_line('depth', 'pairs')}",
        f"refusals           {f['refused']} of {f['refusal_cases']}",
        f"objectives lint    {f['objectives_flagged']} of {f['objectives']} flagged "
        f"({lint_detail}; {lint_limit})",
    ]
    lines += [f"set miss           {miss}" for miss in report.misses]
    lines.append("PASS: every threshold met" if report.passed else "FAIL: thresholds missed")
    return lines


def as_json(report: Report) -> dict[str, Any]:
    results = []
    for r in report.results:
        item = asdict(r)
        item["lint"] = [asdict(p) for p in r.lint]
        item["sections"] = [
            {"title": s.title, "minutes": s.minutes, "objectives": list(s.objectives), "cites": list(s.cites)}
            for s in r.sections
        ]
        item["citation_validity"] = r.citation_validity
        item["passed"] = r.passed
        results.append(item)
    return {
        "passed": report.passed,
        "summary": summary(report),
        "thresholds": asdict(report.thresholds),
        "requests": results,
        "orders": [{**asdict(c), "holds": c.holds} for c in report.orders],
        "misses": report.misses,
    }
