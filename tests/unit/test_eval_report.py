"""Scoring requests against the thresholds, the pace and depth groups, refusals and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.evaluation import report
from chalicelib.evaluation.dataset import EvalRequest, EvalSetError, read_requests
from chalicelib.evaluation.lint import ChapterText, Names
from chalicelib.evaluation.metrics import Catalog, CatalogChapter, ChapterKey, Section
from chalicelib.evaluation.report import Outcome

CATALOG = Catalog.of(
    [
        CatalogChapter("Chem A", 13, "Equilibrium", "Equilibrium constants and shifts."),
        CatalogChapter("Chem B", 13, "Equilibrium", "Another text on the same ground."),
        CatalogChapter("Chem A", 14, "Acids and Bases", "Acids donate protons."),
        CatalogChapter("History", 25, "The Great Depression", "The crash of 1929."),
    ]
)
NAMES = Names(["Equilibrium is reached when rates are equal."])


def text_of(key: ChapterKey) -> ChapterText | None:
    chapter = CATALOG.chapters.get(key)
    return ChapterText(chapter.title, chapter.summary) if chapter else None


def request(**fields: Any) -> EvalRequest:
    base: dict[str, Any] = {
        "id": "eq",
        "query": "Chemical equilibrium",
        "hours": 1,
        "expect_books": ["Chem A", "Chem B"],
        "expect_chapters": [
            {"book": "Chem A", "chapter": 13, "counterpart": {"book": "Chem B", "chapter": 13}}
        ],
    }
    return EvalRequest.model_validate(base | fields)


def score(req: EvalRequest, outcome: Outcome) -> report.RequestResult:
    return report.score(req, outcome, CATALOG, text_of, NAMES)


def complete(*sections: Section) -> Outcome:
    return Outcome("complete", sections=sections)


GOOD = (
    Section(30, ("Explain equilibrium constants", "Predict nothing"), (("Chem A", 13),)),
    Section(30, ("Compare shifts in equilibrium",), (("Chem A", 13),)),
)


def test_a_good_outline_passes_every_threshold() -> None:
    result = score(request(), complete(*GOOD))
    assert result.passed, result.misses
    assert (result.recall, result.off_topic, result.taught_twice, result.budget_error) == (1.0, 0.0, 0.0, 0.0)
    assert (result.citations_valid, result.citations, result.objectives) == (2, 2, 3)
    assert result.flagged == 1  # "Predict" is not a verb of the table; the lint reports it


@pytest.mark.parametrize(
    ("sections", "miss"),
    [
        ((Section(60, (), (("Chem A", 14),)),), "R 0.00 < 0.7"),
        ((Section(50, (), (("Chem A", 13),)), Section(10, (), (("History", 25),))), "OFF 0.167 > 0.05"),
        ((Section(30, (), (("Chem A", 13),)), Section(30, (), (("Chem B", 13),))), "DUP 0.500 > 0"),
        ((Section(50, (), (("Chem A", 13),)),), "M1 0.167 > 0.05"),
        ((Section(60, (), (("Chem A", 13), ("Chem A", 99))),), "citations 50.0% valid < 100%"),
        ((Section(60, (), (("Chem B", 13),)),), None),  # the counterpart covers the entry
    ],
)
def test_each_threshold_missed_is_named(sections: tuple[Section, ...], miss: str | None) -> None:
    result = score(request(), complete(*sections))
    assert result.misses == ([miss] if miss else [])


def test_a_request_that_fails_to_build_misses_with_its_reason_and_recalls_nothing() -> None:
    result = score(request(), Outcome("failed", phase="sections", reason="the planner returned no parts"))
    assert result.misses == ["no outline (failed: the planner returned no parts)"] and result.recall == 0.0


def test_a_no_match_request_passes_only_when_refused_by_the_search() -> None:
    no_match = request(id="japanese", expect_books=[], expect_chapters=[])
    refused = score(no_match, Outcome("failed", phase="search", reason="no chapter in the library"))
    assert refused.passed and refused.refused is True
    built = score(no_match, complete(*GOOD))
    assert built.misses == ["not refused"] and built.refused is False
    late = score(no_match, Outcome("failed", phase="review", reason="planning failed"))
    assert late.misses == ["not refused"]


def _result(rid: str, minutes: float | None = None, bloom: float | None = None) -> report.RequestResult:
    return report.RequestResult(
        rid, "complete", "", 0.0, 60, mean_section_minutes=minutes, mean_bloom=bloom, recall=1.0
    )


def test_pace_triplets_and_depth_pairs_are_found_by_what_differs() -> None:
    requests = [
        request(id="q", pace="quick"),
        request(id="t", pace="thorough"),
        request(id="m", pace="moderate"),
        request(id="deep", depth="expert", query="Other"),
        request(id="light", depth="overview", query="Other"),
        request(id="alone", query="Alone"),
    ]
    results = [
        _result("q", 15, 2),
        _result("t", 30, 2),
        _result("m", 20, 2),
        _result("deep", 20, 4.5),
        _result("light", 20, 4.5),
        _result("alone", 20, 2),
    ]
    built = report.build_report(requests, results)
    pace = [c for c in built.orders if c.kind == "pace"]
    depth = [c for c in built.orders if c.kind == "depth"]
    assert [c.ids for c in pace] == [("q", "m", "t")] and pace[0].holds
    assert [c.ids for c in depth] == [("light", "deep")] and not depth[0].holds  # equal is no order
    assert built.misses == ["depth order fails: light < deep"] and not built.passed


def test_mean_recall_below_its_threshold_fails_the_set_though_each_request_passes() -> None:
    requests = [request(id="a"), request(id="b")]
    results = [_result("a"), _result("b")]
    results[0].recall, results[1].recall = 0.8, 0.9
    built = report.build_report(requests, results)
    assert all(r.passed for r in built.results)
    assert built.misses == ["mean R 0.85 < 0.9"] and not built.passed


def test_the_text_and_json_reports_carry_every_request_and_the_summary() -> None:
    requests = [request(), request(id="japanese", expect_books=[], expect_chapters=[])]
    results = [
        score(requests[0], complete(*GOOD)),
        score(requests[1], Outcome("failed", phase="search", reason="nothing close")),
    ]
    built = report.build_report(requests, results)
    text = report.render_text(built)
    assert text.splitlines()[0].split()[:4] == ["request", "result", "min", "R"]
    assert "eq " in text and "japanese" in text and "pass (refused)" in text
    assert "refusals           1 of 1" in text and "PASS: every threshold met" in text
    document = json.loads(json.dumps(report.as_json(built)))
    assert document["passed"] is True
    assert document["summary"]["citation_validity"] == 1.0 and document["summary"]["refused"] == 1
    assert [r["id"] for r in document["requests"]] == ["eq", "japanese"]
    assert [s["cites"] for s in document["requests"][0]["sections"]] == [[["Chem A", 13]], [["Chem A", 13]]]
    assert document["requests"][1]["sections"] == []
    assert document["thresholds"]["off_topic_max"] == 0.05


def test_a_requests_file_is_validated_naming_the_request(tmp_path: Path) -> None:
    path = tmp_path / "requests.json"
    path.write_text(json.dumps([{"id": "a", "query": "q", "hours": 1, "depth": "deep"}]))
    with pytest.raises(EvalSetError, match=r"request \[0\] depth"):
        read_requests(path)
    path.write_text(json.dumps([{"id": "a", "query": "q", "hours": 1}] * 2))
    with pytest.raises(EvalSetError, match="used twice: a"):
        read_requests(path)
    path.write_text("not JSON")
    with pytest.raises(EvalSetError, match=r"requests\.json: the requests are not valid JSON: Expecting"):
        read_requests(path)
    with pytest.raises(
        EvalSetError, match=r"missing.json: cannot read the requests: No such file or directory$"
    ):
        read_requests(tmp_path / "missing.json")


def test_the_development_set_reads_and_names_only_its_own_books() -> None:
    root = Path(__file__).resolve().parents[2] / "samples" / "eval"
    requests = read_requests(root / "requests.json")
    titles = {json.loads(p.read_text())["title"] for p in (root / "library").glob("*.json")}
    assert len(requests) == 20 and sum(r.expects_refusal for r in requests) == 2
    for r in requests:
        assert set(r.expect_books) <= titles and set(r.off_topic_books) <= titles
        assert {e.book for e in r.expect_chapters} <= titles


def test_the_thresholds_are_those_docs_evaluation_md_lists() -> None:
    expected = report.Thresholds(
        mean_recall_min=0.9,
        recall_min=0.7,
        off_topic_max=0.05,
        taught_twice_max=0.0,
        budget_error_max=0.05,
        citation_validity_min=1.0,
        pace_orders=True,
        depth_orders=True,
        refusals=True,
        lint_share_max=None,
    )
    assert expected == report.THRESHOLDS
