"""`coursegen eval` for real, on a subset of samples/eval: a throwaway library with its own
PostgreSQL, the offline planner, the table and the JSON report. The subset must meet every
threshold: a pace triplet, a depth pair, two books sharing material, a course across two books,
and both requests no book covers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.llm_fixtures import API_KEY, CourseModel
from tests.support.llm_server import LLMServer

ROOT = Path(__file__).resolve().parents[2]
EVAL_SET = ROOT / "samples" / "eval"
SUBSET = [
    "equilibrium-4h-quick",  # two chemistry books that share chapters: taught once
    "great-depression-2h-quick",
    "great-depression-2h-moderate",
    "great-depression-2h-thorough",
    "pricing-1.5h-overview",
    "pricing-1.5h-expert",
    "civil-rights-race-4h",  # history and sociology in one course
    "homeostasis-0.5h",
    "no-match-japanese",
    "no-match-woodworking",
]
REFUSED = ["no-match-japanese", "no-match-woodworking"]

pytestmark = pytest.mark.slow  # two embedded PostgreSQL servers initialised and started


def coursegen_eval(
    *args: str, planner: str = "offline", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command in its own process, as a user runs it: the throwaway server and the
    process-wide workflow it configures stay out of this test process."""
    command = [sys.executable, "-m", "chalicelib.cli", "eval", str(EVAL_SET / "requests.json")]
    command += ["--library", str(EVAL_SET / "library"), "--planner", planner, *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COURSEGEN_")} | (env or {})
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)


def temp_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("coursegen-eval-*")}


def test_the_json_report_of_a_subset_scores_every_request_and_cleans_up() -> None:
    before = temp_folders()
    run = coursegen_eval("--json", "--only", *SUBSET)
    assert run.returncode in (0, 1), run.stderr
    report: dict[str, Any] = json.loads(run.stdout)
    assert run.returncode == 0 and report["passed"], [
        (r["id"], r["misses"]) for r in report["requests"] if r["misses"]
    ]
    results = {r["id"]: r for r in report["requests"]}
    assert list(results) == SUBSET  # the file's order, nothing else
    for rid in (rid for rid in SUBSET if rid not in REFUSED):
        result = results[rid]
        assert result["status"] == "complete", result
        assert result["budget_error"] <= report["thresholds"]["budget_error_max"]
        assert result["citation_validity"] == 1.0 and result["citations"] > 0
        assert result["recall"] is not None and result["objectives"] > 0
    for rid in REFUSED:
        refused = results[rid]
        assert refused["refused"] is True and refused["passed"] and refused["status"] == "failed"
    summary = report["summary"]
    assert (summary["pace_orders_held"], summary["pace_orders"]) == (1, 1)
    assert (summary["depth_orders_held"], summary["depth_orders"]) == (1, 1)
    assert summary["citation_validity"] == 1.0 and summary["max_budget_error"] <= 0.05
    assert "loaded 10 book(s), 198 chapters into a throwaway library" in run.stderr
    assert temp_folders() <= before  # the data folder and its server are gone


def test_the_table_has_a_row_per_request_and_the_summary() -> None:
    run = coursegen_eval("--only", "homeostasis-0.5h", "no-match-japanese")
    lines = run.stdout.splitlines()
    assert lines[0].split()[:4] == ["request", "result", "min", "R"]
    rows = [line.split() for line in lines[2:4]]
    assert rows[0][:3] == ["homeostasis-0.5h", "pass", "30/30"]
    assert rows[1][:3] == ["no-match-japanese", "pass", "(refused)"]
    assert "refusals           1 of 1" in run.stdout
    assert "citation validity" in run.stdout and "objectives lint" in run.stdout
    assert run.stdout.count("FAIL: thresholds missed") + run.stdout.count("PASS: every threshold met") == 1


def test_an_unknown_request_id_is_refused_before_anything_starts() -> None:
    run = coursegen_eval("--only", "no-such-request")
    assert run.returncode == 1
    assert "no request with id 'no-such-request'" in run.stderr and not run.stdout


def test_the_model_planner_is_evaluated_against_a_well_behaved_model_server() -> None:
    with LLMServer() as server:
        server.chat_model = CourseModel()
        env = {
            "COURSEGEN_OPENAI_BASE_URL": server.base_url,
            "COURSEGEN_OPENAI_API_KEY": API_KEY,
            "COURSEGEN_CHAT_MODEL": "test-chat",
        }
        run = coursegen_eval(
            "--json", "--only", "homeostasis-0.5h", "no-match-japanese", planner="openai", env=env
        )
        asked = len(server.chat_requests())
    assert run.returncode in (0, 1), run.stderr
    report = json.loads(run.stdout)
    course, refused = report["requests"]
    assert course["status"] == "complete" and course["budget_error"] <= 0.05
    assert course["citation_validity"] == 1.0 and refused["refused"] is True
    assert asked >= 2  # the parts and the sections were planned by the model
    assert "planner openai" in run.stderr
