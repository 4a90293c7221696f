"""The learner's page: the files of this folder served by `GET /` and `GET /assets/{name}`, and
the settings the page reads from `GET /app/config` (the request limits and how to sign in)."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.app import Response

from ..config import Settings
from ..core.models import (
    MAX_HOURS,
    MAX_QUERY_CHARS,
    MIN_HOURS,
    MIN_QUERY_CHARS,
    Depth,
    Pace,
    Preferences,
)

_FOLDER = Path(__file__).parent
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# An asset name is one plain file name: no folders, no dots but the extension's.
_ASSET_NAME = re.compile(r"^[a-z][a-z0-9_-]*\.(?:js|css)$")
# Revalidate every time (the ETag makes that a 304): the page and its modules change together on a
# deploy, and a stale module beside a fresh page would break it.
_CACHE = "no-cache"
_HEADERS_FOR_ALL = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# Scripts and styles only from this app; calls only to it and, on AWS, to the sign-in domain.
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'{sign_in}; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class _File:
    body: str
    content_type: str
    etag: str


def _load(path: Path) -> _File:
    body = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(body.encode()).hexdigest()[:20]
    return _File(body=body, content_type=_TYPES[path.suffix], etag=f'"{digest}"')


# Read once per process: the set of servable files is what the package holds, nothing else.
_ASSETS = {
    path.name: _load(path)
    for path in sorted(_FOLDER.iterdir())
    if path.is_file() and _ASSET_NAME.match(path.name)
}
_PAGE = _load(_FOLDER / "index.html")


def asset_names() -> list[str]:
    return sorted(_ASSETS)


def _serve(file: _File, headers: Any, extra: dict[str, str] | None = None) -> Response:
    common: dict[str, str | list[str]] = {
        "ETag": file.etag,
        "Cache-Control": _CACHE,
        **_HEADERS_FOR_ALL,
        **(extra or {}),
    }
    if file.etag in _etags((headers or {}).get("if-none-match")):
        return Response(body="", status_code=304, headers=common)
    return Response(body=file.body, status_code=200, headers={**common, "Content-Type": file.content_type})


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def page_response(headers: Any, sign_in_domain: str | None) -> Response:
    policy = _POLICY.format(sign_in=f" https://{sign_in_domain}" if sign_in_domain else "")
    return _serve(_PAGE, headers, {"Content-Security-Policy": policy})


def asset_response(name: str, headers: Any) -> Response:
    file = _ASSETS.get(name) if _ASSET_NAME.match(name) else None
    if file is None:
        body = {"error": {"code": "not_found", "message": f"no asset {name!r}", "field": None}}
        return Response(body=body, status_code=404)
    return _serve(file, headers)


# What POST /books answers where it cannot add a document.
ADD_BOOKS_ELSEWHERE = (
    "adding a book over HTTP works on the embedded default (chalice local) only; on AWS, upload the"
    " document to the books bucket"
)
# The document readers `coursegen library add` uses: in the `local` extra, not the Lambda package.
_READERS = ("pypdfium2", "lxml", "markdown_it", "yake")


def can_add_books(settings: Settings) -> bool:
    """Whether POST /books adds documents here: on the embedded default with the readers installed."""
    return settings.runtime == "local" and all(importlib.util.find_spec(name) for name in _READERS)


def page_config(
    sign_in_domain: str | None, sign_in_client_id: str | None, add_books: bool = False
) -> dict[str, Any]:
    """What the page needs before it shows the form: the limits the API enforces (from the request
    model, so they cannot drift), on AWS where to sign in, and whether and what books it may add
    (None: the page shows no form)."""
    defaults = Preferences()
    sign_in = (
        {"domain": sign_in_domain, "client_id": sign_in_client_id}
        if sign_in_domain and sign_in_client_id
        else None
    )
    return {
        "limits": {
            "query_chars": {"min": MIN_QUERY_CHARS, "max": MAX_QUERY_CHARS},
            "hours": {"min": MIN_HOURS, "max": MAX_HOURS},
        },
        "depths": [depth.value for depth in Depth],
        "paces": [pace.value for pace in Pace],
        "defaults": {"depth": defaults.depth.value, "pace": defaults.pace.value},
        "sign_in": sign_in,
        "add_books": _add_books_config() if add_books else None,
    }


def _add_books_config() -> dict[str, Any]:
    from ..ingest.upload import ACCEPTED, MAX_UPLOAD_BYTES, SUFFIXES

    return {"max_bytes": MAX_UPLOAD_BYTES, "suffixes": sorted(SUFFIXES), "formats": ACCEPTED}


# The Cognito authorizer of the /app routes names its user pool when app.py is imported, before
# any pool exists; deploy/postprocess.py replaces this ARN with the environment's pool.
USER_POOL_ARN_PLACEHOLDER = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_LEARNERS"
