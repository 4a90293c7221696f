"""The Chalice app: HTTP routes and the six workflow handlers, each a thin shell over chalicelib."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, IAMAuthorizer, Response
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import bootstrap, dead_letters, http
from chalicelib.core.events import EventName, handler_name, pattern_for
from chalicelib.errors import CourseNotFound, InvalidRequest, PermanentFailure, TransientError

app = Chalice(app_name="coursegen")

# On AWS every route needs a SigV4-signed request; the caller's IAM identity owns the courses it
# creates. `chalice local` and the test client admit every request as the configured local user.
iam = IAMAuthorizer()


def _workflow() -> Any:
    return bootstrap.workflow(app)


# --- HTTP -------------------------------------------------------------------------------------


# Every content type reaches the route, so a wrong one is refused in our error format, not Chalice's.
@app.route("/courses", methods=["POST"], authorizer=iam, content_types=["*/*"])
def create_course() -> Response:
    request = app.current_request
    assert request is not None  # Chalice sets it for every route call
    try:
        http.require_json(request.headers)
        course_request = http.parse_course_request(request.raw_body)
        user_id = http.caller_id(request, bootstrap.settings())
    except InvalidRequest as error:
        return http.error_response(error)
    try:
        state = _workflow().submit(user_id, course_request)
    except (TransientError, PermanentFailure) as error:
        return http.upstream_error(error)
    return http.accepted(state, request)


@app.route("/courses/{course_id}", methods=["GET"], authorizer=iam)
def get_course(course_id: str) -> Response:
    try:
        user_id = http.caller_id(app.current_request, bootstrap.settings())
        return http.course_response(_workflow().view(user_id, course_id))
    except InvalidRequest as error:
        return http.error_response(error)
    except CourseNotFound:
        return http.not_found(course_id)
    except TransientError as error:
        return http.unavailable(error)


@app.route("/courses", methods=["GET"], authorizer=iam)
def list_courses() -> Response:
    try:
        user_id = http.caller_id(app.current_request, bootstrap.settings())
    except InvalidRequest as error:
        return http.error_response(error)
    try:
        return http.course_list_response(_workflow().list_courses(user_id))
    except TransientError as error:
        return http.unavailable(error)


# --- the workflow: one handler per phase ---------------------------------------------------------


@app.on_cw_event(pattern_for(EventName.EMBEDDING_GENERATED), name=handler_name(EventName.EMBEDDING_GENERATED))
def course_embedding_handler(event: CloudWatchEvent) -> None:
    _workflow().handle(EventName.EMBEDDING_GENERATED, event.detail)


@app.on_cw_event(
    pattern_for(EventName.BOOK_SUMMARIES_FOUND), name=handler_name(EventName.BOOK_SUMMARIES_FOUND)
)
def course_book_search_handler(event: CloudWatchEvent) -> None:
    _workflow().handle(EventName.BOOK_SUMMARIES_FOUND, event.detail)


@app.on_cw_event(pattern_for(EventName.PARTS_GENERATED), name=handler_name(EventName.PARTS_GENERATED))
def course_parts_handler(event: CloudWatchEvent) -> None:
    _workflow().handle(EventName.PARTS_GENERATED, event.detail)


@app.on_cw_event(
    pattern_for(EventName.PART_SECTIONS_GENERATED), name=handler_name(EventName.PART_SECTIONS_GENERATED)
)
def course_sections_handler(event: CloudWatchEvent) -> None:
    _workflow().handle(EventName.PART_SECTIONS_GENERATED, event.detail)


@app.on_cw_event(pattern_for(EventName.ALL_PARTS_COMPLETE), name=handler_name(EventName.ALL_PARTS_COMPLETE))
def course_outline_reviewer(event: CloudWatchEvent) -> None:
    _workflow().handle(EventName.ALL_PARTS_COMPLETE, event.detail)


@app.on_cw_event(pattern_for(EventName.OUTLINE_REVIEW), name=handler_name(EventName.OUTLINE_REVIEW))
def course_storage_handler(event: CloudWatchEvent) -> None:
    _workflow().handle(EventName.OUTLINE_REVIEW, event.detail)


# --- the dead-letter queue: events that failed for good end their course as failed -----------------


@app.on_sqs_message(queue=dead_letters.QUEUE_PLACEHOLDER, name=dead_letters.HANDLER_NAME)
def course_dead_letter_handler(event: SQSEvent) -> None:
    dead_letters.handle((record.to_dict() for record in event), _workflow().fail_course)


# --- the schema: Terraform invokes this on apply whenever the migrations change ------------------


@app.lambda_function(name="course-migrate")
def course_migrate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib import migrate_handler

    return migrate_handler.run()
