"""`make smoke` against a stand-in for API Gateway that checks each request's SigV4 signature the
way IAM authorization does, and answers with a scripted course; moto serves no Lambda-proxied
route, so against the moto deployment only the URL and region discovery are exercised
(test_apply_moto.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from deploy.smoke import Signer, SmokeError, describe, region_of, run_smoke

CREDENTIALS = Credentials("AKIDEXAMPLE", "secret-example", "session-token-example")
REGION = "eu-west-1"
COURSE = {
    "title": "DCF valuation",
    "total_minutes": 120,
    "parts": [{"sections": [{}, {}]}, {"sections": [{}]}],
}


def signature_is_valid(method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
    """`headers` with lower-case names, as HTTP treats them."""
    authorization = headers.get("authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or f"/{REGION}/execute-api/" not in authorization:
        return False
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    request = AWSRequest(
        method=method,
        url=f"http://{headers['host']}{path}",
        data=body or None,
        headers={name: headers[name] for name in signed},
    )
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(CREDENTIALS, "execute-api", REGION)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    return authorization.endswith(f"Signature={expected}") and "host" in signed


class StandIn(ThreadingHTTPServer):
    def __init__(self, statuses: list[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.statuses = statuses
        self.requests: list[tuple[str, str, bool]] = []  # method, path, signature valid


class Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _signed(self, body: bytes) -> bool:
        valid = signature_is_valid(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        self.server.requests.append((self.command, self.path, valid))
        if not valid:
            self._answer(403, {"message": "The request signature we calculated does not match"})
        return valid

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self._signed(body) and self.path == "/dev/courses":
            assert json.loads(body) == {"query": "Learn DCF valuation", "hours": 2.0}
            self._answer(202, {"course_id": "c1", "status": "queued", "status_url": "/dev/courses/c1"})

    def do_GET(self) -> None:
        if self._signed(b"") and self.path == "/dev/courses/c1":
            statuses = self.server.statuses
            self._answer(200, statuses.pop(0) if len(statuses) > 1 else statuses[0])


def serve(statuses: list[dict[str, Any]]) -> Iterator[StandIn]:
    server = StandIn(statuses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()
    server.server_close()


def progress(status: str, done: int = 0, **extra: Any) -> dict[str, Any]:
    return {"status": status, "progress": {"parts_done": done, "parts_total": 2}, **extra}


@pytest.fixture
def healthy() -> Iterator[StandIn]:
    yield from serve(
        [
            progress("queued"),
            progress("searching"),
            progress("planning"),
            progress("generating_sections", 1),
            progress("generating_sections", 2),
            progress("complete", 2, course=COURSE),
        ]
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_healthy_stack_takes_the_course_to_complete_with_every_request_signed(healthy: StandIn) -> None:
    clock, lines = FakeClock(), list[str]()
    url = f"http://127.0.0.1:{healthy.server_address[1]}/dev"
    result = run_smoke(
        url,
        Signer(CREDENTIALS, REGION),
        {"query": "Learn DCF valuation", "hours": 2.0},
        clock=clock,
        sleep=clock.sleep,
        report=lines.append,
    )
    assert [status for status, _ in result.timeline] == [
        "queued",
        "searching",
        "planning",
        "generating_sections",
        "complete",
    ]
    assert [at for _, at in result.timeline] == [0, 10, 15, 20, 30]  # polled every 5 s
    assert describe(result) == "complete: 'DCF valuation', 2 parts, 3 sections, 120 minutes"
    assert healthy.requests[0] == ("POST", "/dev/courses", True)
    assert {path for _, path, _ in healthy.requests[1:]} == {"/dev/courses/c1"}
    assert all(valid for _, _, valid in healthy.requests)
    assert "  total                  30.00 s" in lines
    assert "  generating_sections    10.00 s" in lines


def test_a_request_signed_with_other_credentials_is_refused_and_reported(healthy: StandIn) -> None:
    wrong = Signer(Credentials("AKIDEXAMPLE", "not-the-secret", "session-token-example"), REGION)
    url = f"http://127.0.0.1:{healthy.server_address[1]}/dev"
    with pytest.raises(SmokeError, match=r"POST .*/dev/courses answered 403: .*signature"):
        run_smoke(url, wrong, {"query": "Learn DCF valuation", "hours": 2.0}, report=lambda line: None)
    assert healthy.requests == [("POST", "/dev/courses", False)]


def test_a_failed_course_fails_the_smoke_test_with_its_reason() -> None:
    error = {"phase": "search", "reason": "no chapter matches the request"}
    for server in serve([progress("searching"), progress("failed", error=error)]):
        clock = FakeClock()
        url = f"http://127.0.0.1:{server.server_address[1]}/dev"
        with pytest.raises(SmokeError, match=r"failed: .*no chapter matches the request"):
            run_smoke(
                url,
                Signer(CREDENTIALS, REGION),
                {"query": "Learn DCF valuation", "hours": 2.0},
                clock=clock,
                sleep=clock.sleep,
                report=lambda line: None,
            )


def test_a_course_that_never_finishes_stops_at_the_deadline() -> None:
    for server in serve([progress("planning")]):
        clock = FakeClock()
        url = f"http://127.0.0.1:{server.server_address[1]}/dev"
        with pytest.raises(SmokeError, match="still planning after 60 s"):
            run_smoke(
                url,
                Signer(CREDENTIALS, REGION),
                {"query": "Learn DCF valuation", "hours": 2.0},
                deadline_seconds=60,
                clock=clock,
                sleep=clock.sleep,
                report=lambda line: None,
            )


def test_the_region_comes_from_the_api_url_or_the_configuration() -> None:
    assert region_of("https://abc123.execute-api.ap-southeast-2.amazonaws.com/prod", None) == "ap-southeast-2"
    assert region_of("http://127.0.0.1:8000/dev", "eu-west-1") == "eu-west-1"
    with pytest.raises(SmokeError, match="pass --region"):
        region_of("http://127.0.0.1:8000/dev", None)
