"""Fifty courses started at once on the embedded default (in-process bus, SQLite state, real
PostgreSQL): all complete with outlines that keep the budget and cite retrieved chapters."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.core.models import Status

from .support import Embedded, wait_until_terminal

COURSES = 50
QUERIES = [
    "Learn DCF valuation",
    "Reading financial statements and ratio analysis",
    "Portfolio diversification and asset allocation",
    "Nutrition and exercise physiology basics",
    "Cost of capital and terminal value",
]
DEPTHS = ["overview", "balanced", "technical", "expert"]
PACES = ["quick", "moderate", "thorough"]


def request(k: int) -> dict[str, Any]:
    return {
        "query": QUERIES[k % len(QUERIES)],
        "hours": [0.5, 1.0, 1.5, 2.0, 3.0, 4.0][k % 6],
        "preferences": {"depth": DEPTHS[k % len(DEPTHS)], "pace": PACES[k % len(PACES)]},
    }


@pytest.mark.slow
def test_fifty_concurrent_courses_all_complete_within_budget_citing_retrieved_chapters(
    embedded: Embedded,
) -> None:
    client = Client(app, stage_name="local")

    def post(k: int) -> str:
        body = json.dumps(request(k)).encode()
        response = client.http.post("/courses", headers={"Content-Type": "application/json"}, body=body)
        assert response.status_code == 202, response.body
        return str(response.json_body["course_id"])

    with ThreadPoolExecutor(max_workers=10) as clients:
        ids = list(clients.map(post, range(COURSES)))
    finals = wait_until_terminal(embedded.flow.deps.state_store.get, ids, timeout=240)

    assert len(set(ids)) == COURSES
    for k, course_id in enumerate(ids):
        state = finals[course_id]
        assert state.status is Status.COMPLETE, state.error
        stored = embedded.flow.deps.course_store.get(course_id)
        assert stored is not None
        outline, asked = stored.outline, request(k)
        assert outline.query == asked["query"] and outline.hours == asked["hours"]
        target = asked["hours"] * 60
        assert abs(outline.total_minutes - target) <= 0.05 * target, (outline.total_minutes, target)
        retrieved = {(hit.book_id, hit.chapter_number) for hit in state.chapters}
        for part in outline.parts:
            assert sum(section.minutes for section in part.sections) == part.minutes
            for section in part.sections:
                assert section.sources, section.title
                assert {(s.book_id, s.chapter_number) for s in section.sources} <= retrieved
