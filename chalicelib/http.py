"""HTTP edge helpers: request parsing, caller identity and response shapes for app.py."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalice.app import Response
from pydantic import ValidationError

from .config import Settings
from .core.models import CourseRequest, Status, TokenUsage
from .core.paging import Page, PageKey, decode_cursor, encode_cursor, parse_limit, parse_status
from .errors import CourseConflict, CourseGenError, InvalidRequest, TransientError
from .ports import BookInfo, Ingestion
from .workflow import CourseView

if TYPE_CHECKING:
    from .ingest.upload import Added, Upload

MAX_BODY_BYTES = 16_384

_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "enum": "invalid_choice",
    "literal_error": "invalid_choice",
}


def require_json(headers: Any) -> None:
    """A declared body type must be JSON (`application/json`, parameters allowed); a request
    that declares none is read as JSON, as Chalice and most clients assume."""
    declared = (headers or {}).get("content-type")
    if declared is None:
        return
    media_type = declared.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        shown = f"{declared!r}" if declared else "none"
        raise InvalidRequest(
            f"Content-Type must be application/json, got {shown}", code="unsupported_media_type"
        )


def parse_course_request(raw_body: bytes | str | None) -> CourseRequest:
    body = _json_object(raw_body)
    try:
        return CourseRequest.model_validate(body)
    except ValidationError as error:
        raise invalid_field(error) from None


def _json_object(raw_body: bytes | str | None) -> dict[str, Any]:
    """The request body as a JSON object, or InvalidRequest saying what is wrong with it."""
    if isinstance(raw_body, str):
        raw_body = raw_body.encode()
    if not raw_body:
        raise InvalidRequest("request body is empty; send a JSON object", code="invalid_body")
    if len(raw_body) > MAX_BODY_BYTES:
        raise InvalidRequest(f"request body exceeds {MAX_BODY_BYTES} bytes", code="body_too_large")
    try:
        body = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("request body is not valid JSON", code="invalid_json") from None
    except RecursionError:
        raise InvalidRequest(
            "request body is not valid JSON: nested too deeply", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object", code="invalid_body")
    return body


def invalid_field(error: ValidationError) -> InvalidRequest:
    """The first validation error, as one message naming its field."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown field {field!r}"
    elif first["type"] == "missing":
        message = f"{field} is required"
    elif not message.startswith(str(field).rsplit(".", 1)[-1]):
        message = f"{field}: {message}"
    return InvalidRequest(message, field=field, code=_CODES.get(first["type"], "invalid_field"))


def caller_id(request: Any, settings: Settings) -> str:
    """Who is calling: the authorizer's subject on AWS, the configured user on a laptop."""
    context = request.context or {}
    authorizer = context.get("authorizer") or {}
    claims = authorizer.get("claims") or {}
    identity = context.get("identity") or {}
    for candidate in (
        claims.get("sub"),
        authorizer.get("principalId"),
        identity.get("cognitoIdentityId"),
        identity.get("userArn"),
    ):
        if candidate:
            return str(candidate)
    if settings.runtime == "local":
        return settings.local_user
    raise InvalidRequest("the request carries no caller identity", code="unauthenticated")


def error_response(error: InvalidRequest) -> Response:
    status = {
        "unauthenticated": 401,
        "unsupported_media_type": 415,
        "idempotency_key_reused": 422,
        "document_too_large": 413,
        "library_conflict": 409,
    }.get(error.code, 400)
    body = {"error": {"code": error.code, "message": error.message, "field": error.field}}
    return Response(body=body, status_code=status)


def upstream_error(error: CourseGenError) -> Response:
    """A course that could not be started: 503 (try again) when a service it needs is
    throttled or down, 502 when the model server refused the request (bad key, unknown model)."""
    transient = isinstance(error, TransientError)
    body = {
        "error": {
            "code": "service_unavailable" if transient else "upstream_refused",
            "message": str(error),
            "field": None,
        }
    }
    headers: dict[str, str | list[str]] = {"Retry-After": "5"} if transient else {}
    return Response(body=body, status_code=503 if transient else 502, headers=headers)


def unavailable(error: CourseGenError) -> Response:
    """A read that a service it needs (PostgreSQL, DynamoDB) could not answer just now."""
    body = {"error": {"code": "service_unavailable", "message": f"{error}; try again shortly", "field": None}}
    return Response(body=body, status_code=503, headers={"Retry-After": "5"})


def not_found(course_id: str) -> Response:
    body = {"error": {"code": "not_found", "message": f"no course {course_id!r}", "field": None}}
    return Response(body=body, status_code=404)


def status_url(request: Any, course_id: str) -> str:
    # Behind API Gateway's default domain the stage is part of the path; locally it is not.
    stage = (request.context or {}).get("stage")
    on_api_gateway = "execute-api" in (request.headers or {}).get("host", "")
    prefix = f"/{stage}" if stage and on_api_gateway else ""
    return f"{prefix}/courses/{course_id}"


def accepted(course_id: str, status: Status, request: Any, replayed: bool = False) -> Response:
    """202 with where to poll the course. A request sent again with its Idempotency-Key gets
    the same answer for the course it created (its status now) and `Idempotent-Replayed: true`."""
    body = {"course_id": course_id, "status": status.value, "status_url": status_url(request, course_id)}
    headers: dict[str, str | list[str]] = {"Location": body["status_url"]}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body=body, status_code=202, headers=headers)


# What a client may send as an Idempotency-Key: 1 to 255 visible ASCII characters but "#" (a
# UUID, a ULID, base64 all fit).
_REQUEST_KEY = re.compile(r"^[\x21\x22\x24-\x7e]{1,255}$")


def request_key(headers: Any) -> str | None:
    """The `Idempotency-Key` header, checked; None when the request carries none."""
    value = (headers or {}).get("idempotency-key")
    if value is None:
        return None
    if not _REQUEST_KEY.match(value):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters other than '#' (a UUID, for example)",
            code="invalid_idempotency_key",
        )
    return str(value)


def _summary(view: CourseView) -> dict[str, Any]:
    """The fields every course shows, whether its state is still kept or only its outline."""
    state, outline = view.state, view.outline
    if state is not None:
        return {
            "course_id": state.course_id,
            "status": state.status.value,
            "title": state.title or None,
            "query": state.request.query,
            "hours": state.request.hours,
            "preferences": state.request.preferences.model_dump(mode="json"),
            "created_at": state.created_at,
            "updated_at": state.updated_at,
            "progress": {"parts_done": state.parts_done, "parts_total": state.parts_total},
            "error": state.error.model_dump(mode="json") if state.error else None,
            "usage": _usage(state.usage),
            "retries": state.retries,
        }
    assert outline is not None
    return {
        "course_id": outline.course_id,
        "status": Status.COMPLETE.value,
        "title": outline.title,
        "query": outline.query,
        "hours": outline.hours,
        "preferences": outline.preferences.model_dump(mode="json"),
        "created_at": view.created_at,
        "updated_at": view.created_at,
        "progress": {"parts_done": len(outline.parts), "parts_total": len(outline.parts)},
        "error": None,
        "usage": _usage(outline.usage),
        "retries": 0,
    }


def _usage(usage: TokenUsage) -> dict[str, Any]:
    """Model tokens per phase and in total (all zero with the offline planner)."""
    return {
        **usage.model_dump(mode="json"),
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
    }


def course_body(view: CourseView) -> dict[str, Any]:
    """GET /courses/{course_id}'s body (also `coursegen courses show --json`)."""
    body = _summary(view)
    if view.state is not None and view.state.review is not None:
        body["review"] = view.state.review.model_dump(mode="json")
    body["course"] = view.outline.model_dump(mode="json") if view.outline else None
    return body


def course_response(view: CourseView) -> Response:
    return Response(body=course_body(view), status_code=200)


def list_query(query_params: Mapping[str, str] | None) -> tuple[int, PageKey | None, Status | None]:
    """GET /courses's `limit`, `cursor` and `status`, validated; other parameters are ignored."""
    params = query_params or {}
    cursor = params.get("cursor")
    return (
        parse_limit(params.get("limit")),
        decode_cursor(cursor) if cursor else None,
        parse_status(params.get("status")),
    )


def course_page_response(page: Page[CourseView]) -> Response:
    body = {
        "courses": [_summary(view) for view in page.items],
        "next_cursor": encode_cursor(page.next) if page.next is not None else None,
    }
    return Response(body=body, status_code=200)


def _book(book: BookInfo, caller: str | None = None) -> dict[str, Any]:
    """A book as the API shows it: `owner` null for a shared book; `yours` when the caller's."""
    return {
        "id": book.id,
        "title": book.title,
        "author": book.author,
        "chapters": book.chapters,
        "owner": book.owner,
        "yours": book.owner is not None and book.owner == caller,
    }


def _ingestion(item: Ingestion) -> dict[str, Any]:
    return {
        "key": item.key,
        "owner": item.owner,
        "status": item.status,
        "reason": item.reason,
        "book_id": item.book_id,
        "title": item.title,
        "chapters": item.chapters,
        "updated_at": item.updated_at,
    }


def books_response(
    books: list[BookInfo], ingestions: list[Ingestion] | None = None, caller: str | None = None
) -> Response:
    """The books the caller's courses draw on (the shared ones and their own uploads), and the
    caller's uploads to the books bucket."""
    body = {
        "books": [_book(book, caller) for book in books],
        "ingestions": [_ingestion(i) for i in ingestions or []],
    }
    return Response(body=body, status_code=200)


_UPLOAD_CODES = {
    "too_large": ("document_too_large", None),
    "unsupported": ("unsupported_media_type", None),
    "missing": ("missing_field", "filename"),
    "empty": ("invalid_body", None),
}


def parse_upload(request: Any) -> Upload:
    """POST /books's document: the body's bytes, named by the `filename` query parameter,
    typed by Content-Type (the format's own or application/octet-stream)."""
    from .ingest.upload import UploadRefused, check_upload

    raw = request.raw_body or b""
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    try:
        return check_upload(
            data, (request.query_params or {}).get("filename"), (request.headers or {}).get("content-type")
        )
    except UploadRefused as refused:
        code, field = _UPLOAD_CODES[refused.kind]
        raise InvalidRequest(refused.message, field=field, code=code) from None


def book_added(added: Added) -> Response:
    """201 with the book a new document became; 200 with the book it was already."""
    book = added.book
    message = (
        f"added {book.title!r} ({book.chapters} chapters)"
        if added.added
        else f"already in the library as {book.title!r}: nothing changed"
    )
    body = {"book": _book(book), "added": added.added, "message": message}
    return Response(body=body, status_code=201 if added.added else 200)


def not_available(message: str) -> Response:
    body = {"error": {"code": "not_available", "message": message, "field": None}}
    return Response(body=body, status_code=501)


def conflict(error: CourseConflict) -> Response:
    body = {"error": {"code": error.code, "message": error.message, "field": None}}
    return Response(body=body, status_code=409)


def no_content() -> Response:
    return Response(body="", status_code=204)


def method_not_allowed(method: str, path: str, allowed: list[str]) -> Response:
    body = {
        "error": {
            "code": "method_not_allowed",
            "message": f"{method} is not allowed on {path}; use {' or '.join(allowed)}",
            "field": None,
        }
    }
    return Response(body=body, status_code=405, headers={"Allow": ", ".join(allowed)})
