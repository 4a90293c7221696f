"""`make smoke`: one course through a deployed stack. Requests are signed with SigV4 (botocore and
the caller's AWS credentials, as the API's IAM authorization requires); it posts a course, polls
it to `complete` or `failed`, and prints how long each status lasted."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TERMINAL = ("complete", "failed")
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


class SmokeError(Exception):
    """The stack did not answer as a healthy one does; the message says where it stopped."""


@dataclass
class SmokeResult:
    course_id: str
    status: str
    # (status, seconds since the POST when it was first seen)
    timeline: list[tuple[str, float]] = field(default_factory=list)
    course: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class Signer:
    credentials: Credentials
    region: str

    def request(self, method: str, url: str, body: dict[str, Any] | None, timeout: float) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        aws_request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(aws_request)
        prepared = aws_request.prepare()
        request = urllib.request.Request(
            prepared.url, data=data, headers=dict(prepared.headers), method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            raise SmokeError(f"{method} {url} answered {error.code}: {text[:500]}") from None
        except urllib.error.URLError as error:
            raise SmokeError(f"{method} {url} failed: {error.reason}") from None


def region_of(api_url: str, default: str | None) -> str:
    match = _REGION_IN_HOST.search(api_url)
    region = match.group(1) if match else default
    if not region:
        raise SmokeError(f"no region in {api_url}: pass --region")
    return region


def api_url_from_terraform(environment_dir: Path, terraform: str = "terraform") -> str:
    """The `api_url` output of an applied environment."""
    done = subprocess.run(
        [terraform, f"-chdir={environment_dir}", "output", "-raw", "api_url"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.startswith("http"):
        raise SmokeError(f"no api_url output in {environment_dir} (applied?): {done.stderr.strip()[:300]}")
    return done.stdout.strip()


def run_smoke(
    api_url: str,
    signer: Signer,
    request: dict[str, Any],
    deadline_seconds: float = 900,
    poll_seconds: float = 5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] = print,
) -> SmokeResult:
    """POST the course, poll it until a terminal status or the deadline; raises SmokeError."""
    base = api_url.rstrip("/") + "/"
    started = clock()
    status, accepted = signer.request("POST", urljoin(base, "courses"), request, timeout=30)
    if status != 202 or not isinstance(accepted, dict) or "course_id" not in accepted:
        raise SmokeError(f"POST /courses answered {status}: {accepted}")
    result = SmokeResult(accepted["course_id"], accepted["status"], [(accepted["status"], clock() - started)])
    report(f"{result.timeline[0][1]:7.2f} s  {result.status} (course {result.course_id})")
    status_url = urljoin(base, accepted.get("status_url") or f"courses/{result.course_id}")
    while result.status not in TERMINAL:
        if clock() - started > deadline_seconds:
            raise SmokeError(
                f"course {result.course_id} still {result.status} after {deadline_seconds:.0f} s"
            )
        sleep(poll_seconds)
        _, view = signer.request("GET", status_url, None, timeout=30)
        if view["status"] != result.status:
            result.status = view["status"]
            result.timeline.append((result.status, clock() - started))
            progress = view.get("progress") or {}
            parts = f" (part {progress.get('parts_done')}/{progress.get('parts_total')})" if progress else ""
            report(f"{result.timeline[-1][1]:7.2f} s  {result.status}{parts}")
        result.course, result.error = view.get("course"), view.get("error")
    for (status_name, at), (_, until) in zip(result.timeline, result.timeline[1:], strict=False):
        report(f"  {status_name:<20} {until - at:7.2f} s")
    report(f"  {'total':<20} {result.timeline[-1][1]:7.2f} s")
    if result.status == "failed":
        raise SmokeError(f"course {result.course_id} failed: {result.error}")
    return result


def describe(result: SmokeResult) -> str:
    course = result.course or {}
    parts = course.get("parts", [])
    sections = sum(len(part.get("sections", [])) for part in parts)
    minutes = course.get("total_minutes")
    return f"complete: {course.get('title')!r}, {len(parts)} parts, {sections} sections, {minutes} minutes"
