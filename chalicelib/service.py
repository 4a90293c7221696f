"""The Chalice app: HTTP routes and the six workflow handlers, each a thin shell over the package.

It lives in the package so that an installed `coursegen` carries it; the repository's app.py, where
Chalice looks, re-exports the app and its handlers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice.app import (
    Chalice,
    CloudWatchEvent,
    CognitoUserPoolAuthorizer,
    IAMAuthorizer,
    Rate,
    Response,
    S3Event,
    SQSEvent,
)

from . import book_uploads, bootstrap, dead_letters, http, web
from .core import registry, watchdog
from .errors import (
    CourseConflict,
    CourseNotFound,
    InvalidRequest,
    PermanentFailure,
    TransientError,
)

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
        request_key = http.request_key(request.headers)
        if request_key is None:
            state = _workflow().submit(user_id, course_request)
            return http.accepted(state.course_id, state.status, request)
        submitted = _workflow().submit_keyed(user_id, course_request, request_key)
        return http.accepted(submitted.course_id, submitted.status, request, replayed=submitted.replayed)
    except InvalidRequest as error:
        return http.error_response(error)
    except (TransientError, PermanentFailure) as error:
        return http.upstream_error(error)


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
    request = app.current_request
    assert request is not None
    try:
        user_id = http.caller_id(request, bootstrap.settings())
        limit, cursor, status = http.list_query(request.query_params)
    except InvalidRequest as error:
        return http.error_response(error)
    try:
        return http.course_page_response(_workflow().list_page(user_id, limit, cursor, status))
    except TransientError as error:
        return http.unavailable(error)


@app.route("/courses/{course_id}/retry", methods=["POST"], authorizer=iam, content_types=["*/*"])
def retry_course(course_id: str) -> Response:
    request = app.current_request
    assert request is not None
    try:
        user_id = http.caller_id(request, bootstrap.settings())
        resumed = _workflow().retry(user_id, course_id)
        return http.accepted(resumed.course_id, resumed.status, request)
    except InvalidRequest as error:
        return http.error_response(error)
    except CourseNotFound:
        return http.not_found(course_id)
    except CourseConflict as error:
        return http.conflict(error)
    except (TransientError, PermanentFailure) as error:
        return http.upstream_error(error)


@app.route("/courses/{course_id}", methods=["DELETE"], authorizer=iam)
def delete_course(course_id: str) -> Response:
    try:
        user_id = http.caller_id(app.current_request, bootstrap.settings())
        _workflow().delete(user_id, course_id)
    except InvalidRequest as error:
        return http.error_response(error)
    except CourseNotFound:
        return http.not_found(course_id)
    except CourseConflict as error:
        return http.conflict(error)
    except TransientError as error:
        return http.unavailable(error)
    return http.no_content()


@app.route("/books", methods=["GET"], authorizer=iam)
def list_books() -> Response:
    try:
        user_id = http.caller_id(app.current_request, bootstrap.settings())
        flow = _workflow()
        return http.books_response(flow.list_books(user_id), flow.list_ingestions(user_id), user_id)
    except InvalidRequest as error:
        return http.error_response(error)
    except TransientError as error:
        return http.unavailable(error)


# Adding a document: read and summarised while the request waits (seconds for a small one), so
# only where the readers are installed and a request may take that long (the embedded default).
# On AWS documents arrive through the books bucket instead; the page hides its form there.
@app.route("/books", methods=["POST"], authorizer=iam, content_types=["*/*"])
def add_book() -> Response:
    request = app.current_request
    assert request is not None
    settings = bootstrap.settings()
    try:
        http.caller_id(request, settings)
        if not web.can_add_books(settings):
            return http.not_available(web.ADD_BOOKS_ELSEWHERE)
        upload = http.parse_upload(request)
        added = _workflow().add_document(upload, settings.data_dir / "books")
    except InvalidRequest as error:
        return http.error_response(error)
    except TransientError as error:
        return http.unavailable(error)
    return http.book_added(added)


# A method a path does not serve reaches these, so it is refused in our error format: without
# them API Gateway answers 403 "Missing Authentication Token" and `chalice local` its own 405.
_OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _refuse(path: str, allowed: list[str]) -> Response:
    request = app.current_request
    assert request is not None
    return http.method_not_allowed(request.method, path, allowed)


@app.route(
    "/courses",
    methods=[m for m in _OTHER_METHODS if m not in ("GET", "POST")],
    authorizer=iam,
    content_types=["*/*"],
)
def courses_other_methods() -> Response:
    return _refuse("/courses", ["GET", "POST"])


@app.route(
    "/courses/{course_id}",
    methods=[m for m in _OTHER_METHODS if m not in ("GET", "DELETE")],
    authorizer=iam,
    content_types=["*/*"],
)
def course_other_methods(course_id: str) -> Response:
    return _refuse("/courses/{course_id}", ["GET", "DELETE"])


@app.route(
    "/courses/{course_id}/retry",
    methods=[m for m in _OTHER_METHODS if m != "POST"],
    authorizer=iam,
    content_types=["*/*"],
)
def retry_other_methods(course_id: str) -> Response:
    return _refuse("/courses/{course_id}/retry", ["POST"])


@app.route(
    "/books",
    methods=[m for m in _OTHER_METHODS if m not in ("GET", "POST")],
    authorizer=iam,
    content_types=["*/*"],
)
def books_other_methods() -> Response:
    return _refuse("/books", ["GET", "POST"])


# --- the learner's page and the browser's API ----------------------------------------------------
# The page and its assets are public. The page calls the /app routes, which on AWS take a Cognito
# user pool ID token (a browser cannot sign SigV4 requests); the caller is the token's subject.
# Machine clients keep the IAM routes above. Locally no sign-in: every request is the local user.
learners = CognitoUserPoolAuthorizer("learners", provider_arns=[web.USER_POOL_ARN_PLACEHOLDER])


@app.route("/", methods=["GET"])
def web_page() -> Response:
    request = app.current_request
    assert request is not None
    return web.page_response(request.headers, bootstrap.settings().sign_in_domain)


@app.route("/assets/{name}", methods=["GET"])
def web_asset(name: str) -> Response:
    request = app.current_request
    assert request is not None
    return web.asset_response(name, request.headers)


@app.route("/app/config", methods=["GET"])
def web_config() -> Response:
    settings = bootstrap.settings()
    return Response(
        body=web.page_config(settings.sign_in_domain, settings.sign_in_client_id, web.can_add_books(settings))
    )


def _add_browser_twins() -> None:
    """Every IAM route above gets a twin under /app with the learners' authorizer: the same view,
    so the browser's API cannot drift from the machines'."""
    for path, entries in list(app.routes.items()):
        for method, entry in list(entries.items()):
            if entry.authorizer is iam:
                app.route(
                    f"/app{path}",
                    methods=[method],
                    authorizer=learners,
                    content_types=entry.content_types,
                    name=f"app_{entry.view_name}_{method.lower()}",
                )(entry.view_function)


_add_browser_twins()  # after every IAM route


# --- the workflow: one handler per entry of core.registry, which says what each does ------------


@app.on_cw_event(registry.SEARCH_LIBRARY.pattern, name=registry.SEARCH_LIBRARY.handler)
def course_embedding_handler(event: CloudWatchEvent) -> None:
    _workflow().handle(registry.SEARCH_LIBRARY.consumes, event.detail)


@app.on_cw_event(registry.PLAN_PARTS.pattern, name=registry.PLAN_PARTS.handler)
def course_book_search_handler(event: CloudWatchEvent) -> None:
    _workflow().handle(registry.PLAN_PARTS.consumes, event.detail)


@app.on_cw_event(registry.PLAN_FIRST_PART.pattern, name=registry.PLAN_FIRST_PART.handler)
def course_parts_handler(event: CloudWatchEvent) -> None:
    _workflow().handle(registry.PLAN_FIRST_PART.consumes, event.detail)


@app.on_cw_event(registry.PLAN_NEXT_PART.pattern, name=registry.PLAN_NEXT_PART.handler)
def course_sections_handler(event: CloudWatchEvent) -> None:
    _workflow().handle(registry.PLAN_NEXT_PART.consumes, event.detail)


@app.on_cw_event(registry.REVIEW_OUTLINE.pattern, name=registry.REVIEW_OUTLINE.handler)
def course_outline_reviewer(event: CloudWatchEvent) -> None:
    _workflow().handle(registry.REVIEW_OUTLINE.consumes, event.detail)


@app.on_cw_event(registry.STORE_COURSE.pattern, name=registry.STORE_COURSE.handler)
def course_storage_handler(event: CloudWatchEvent) -> None:
    _workflow().handle(registry.STORE_COURSE.consumes, event.detail)


# --- the dead-letter queue: events that failed for good end their course as failed -----------------


@app.on_sqs_message(queue=dead_letters.QUEUE_PLACEHOLDER, name=dead_letters.HANDLER_NAME)
def course_dead_letter_handler(event: SQSEvent) -> None:
    dead_letters.handle((record.to_dict() for record in event), _workflow().fail_course)


# --- the watchdog: courses whose next event was lost are redriven, then failed ---------------------


@app.schedule(Rate(5, unit=Rate.MINUTES), name=watchdog.HANDLER_NAME)
def course_watchdog(event: CloudWatchEvent) -> dict[str, int]:
    # The summary line carries the counts as metrics of this function (the redrive alarm's).
    function = getattr(event.context, "function_name", None) or watchdog.HANDLER_NAME
    summary = bootstrap.watchdog(app).sweep(datetime.now(UTC), metrics={"FunctionName": function})
    return summary.as_fields()


# --- books uploaded to the books bucket go into the library ---------------------------------------


@app.on_s3_event(
    bucket=book_uploads.BUCKET_PLACEHOLDER,
    prefix=book_uploads.BOOKS_PREFIX,
    events=["s3:ObjectCreated:*"],
    name=book_uploads.HANDLER_NAME,
)
def book_ingestion_handler(event: S3Event) -> None:
    bootstrap.book_uploads().handle(event.to_dict())


# --- the schema: Terraform invokes this on apply whenever the migrations change ------------------


@app.lambda_function(name="course-migrate")
def course_migrate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from . import migrate_handler

    return migrate_handler.run()


# `chalice local` delivers the events an earlier process left pending as soon as it starts.
bootstrap.start_when_serving_locally(app)
