"""The composition root: builds every adapter from configuration, lazily, once per process."""

from __future__ import annotations

import atexit
import logging
import signal
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ConfigError, OpenAIConfig, Settings
from .planning.usage import UsageRecorder, UsageSink
from .ports import Embedder, EventPublisher, LibraryAdmin, Planner, StateStore
from .workflow import Deps, Watchdog, Workflow

if TYPE_CHECKING:  # the adapters are imported when built: a handler imports only what it uses
    from pg8000.native import Connection

    from .adapters.local_bus import LocalBus
    from .adapters.pg import ConnectionFactory
    from .book_uploads import BookUploads

log = logging.getLogger("coursegen")

_lock = threading.RLock()
_settings: Settings | None = None
_workflow: Workflow | None = None
_watchdog: Watchdog | None = None
_book_uploads: BookUploads | None = None
_openai_configs: dict[OpenAIConfig, OpenAIConfig] = {}  # as configured -> with the API key
_leased: set[Path] = set()  # the data dirs whose PostgreSQL this process holds a lease on


def settings() -> Settings:
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env()
        return _settings


def workflow(app: Any) -> Workflow:
    """The process-wide workflow, built on first use (a Lambda cold start or the first request)."""
    global _workflow
    with _lock:
        if _workflow is None:
            _workflow = build_workflow(settings(), app)
        return _workflow


def watchdog(app: Any) -> Watchdog:
    """The process-wide watchdog. On AWS only the state store and the bus, built on first use:
    its function reads no secret and reaches neither the database nor the model. Locally the
    workflow's store and bus, since the bus delivers from the store's outbox."""
    global _watchdog
    with _lock:
        if _watchdog is None:
            current = settings()
            if current.runtime == "aws":
                from . import logs
                from .adapters.dynamodb_state import DynamoDBStateStore
                from .adapters.eventbridge import EventBridgePublisher

                logs.configure(force=False)  # the summary line is JSON on stdout, for its metrics
                assert current.aws is not None
                store = DynamoDBStateStore(current.aws.table_name)
                _watchdog = Watchdog(store, EventBridgePublisher(current.aws.bus_name), current.stall_policy)
            else:
                deps = workflow(app).deps
                _watchdog = Watchdog(deps.state_store, deps.publisher, deps.stall_policy)
        return _watchdog


def serving_locally() -> bool:
    """Whether this process is `chalice local` (which imports the app from its `local` command)."""
    if sys.modules.get("click") is None:
        return False
    import click

    context = click.get_current_context(silent=True)
    return context is not None and context.info_name == "local"


def start_when_serving_locally(app: Any) -> None:
    """Under `chalice local`, build the workflow at once, in the background, so events an earlier
    process left in the outbox are delivered without waiting for the first request. Elsewhere
    (Lambda, tests, `chalice package`) the workflow is still built on first use."""
    if not serving_locally():
        return
    _exit_on_sigterm()  # from the main thread, which the build below does not run on

    def build() -> None:
        try:
            workflow(app)
        except Exception:  # the first request reports it again, to its caller
            log.exception("the local workflow could not start")

    threading.Thread(target=build, name="coursegen-start", daemon=True).start()


def configure(new_settings: Settings, app: Any) -> Workflow:
    """Build the workflow from explicit settings and make it the process-wide one."""
    global _settings, _workflow, _watchdog
    with _lock:
        _settings = new_settings
        _workflow = build_workflow(new_settings, app)
        _watchdog = None
        return _workflow


def book_uploads() -> BookUploads:
    """The process-wide ingestion of uploaded books, built on first use (the ingestion function's
    cold start): the library, the upload log, the embedder and the books bucket."""
    global _book_uploads
    with _lock:
        if _book_uploads is None:
            _book_uploads = build_book_uploads(settings())
        return _book_uploads


def build_book_uploads(settings: Settings) -> BookUploads:
    from . import logs
    from .adapters.pg_ingestions import PgIngestions
    from .adapters.pg_library import PgLibrary
    from .adapters.s3_documents import S3Documents
    from .book_uploads import BookUploads

    logs.configure(force=False)
    connections = connection_factory(settings)
    return BookUploads(
        library=PgLibrary(connections),
        ingestions=PgIngestions(connections),
        embedder=make_embedder(settings),
        download=S3Documents().download,
        settings=settings,
    )


def configure_book_uploads(uploads: BookUploads | None) -> None:
    """Make an already built ingestion the process-wide one (tests); None forgets it."""
    global _book_uploads
    with _lock:
        _book_uploads = uploads


def configure_workflow(flow: Workflow) -> None:
    """Make an already built workflow the process-wide one (tests reuse one per session)."""
    global _workflow, _watchdog
    with _lock:
        _workflow = flow
        _watchdog = None


def reset() -> None:
    """Forget the cached settings, workflow and API key (tests, or a CLI switching data folders)."""
    global _settings, _workflow, _watchdog, _book_uploads
    with _lock:
        _settings = None
        _workflow = None
        _watchdog = None
        _book_uploads = None
        _openai_configs.clear()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_course_id() -> str:
    return uuid.uuid4().hex


def openai_config(settings: Settings) -> OpenAIConfig:
    """The model server settings with the API key, which a Secrets Manager secret holds on AWS:
    fetched once per process, for the planner and the embedder alike, when the first of them
    builds its client (`with_key` below), so a function that never calls the model never
    reads it."""
    with _lock:
        config = _openai_configs.get(settings.openai)
        if config is None:
            from .adapters.openai_client import with_api_key

            config = _openai_configs[settings.openai] = with_api_key(settings.openai)
        return config


def make_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "offline":
        from .adapters.offline_embedder import WordLlamaEmbedder

        return WordLlamaEmbedder()
    if settings.embedder == "openai":
        from .adapters.openai_embedder import OpenAIEmbedder

        return OpenAIEmbedder(settings.openai, with_key=lambda _: openai_config(settings))
    raise ConfigError(f"COURSEGEN_EMBEDDER={settings.embedder!r} is not available")


def make_planner(settings: Settings, usage: UsageSink | None = None) -> Planner:
    if settings.planner == "offline":
        from .planning.offline import OfflinePlanner

        return OfflinePlanner()
    if settings.planner == "openai":
        from .planning.openai_planner import OpenAIPlanner

        return OpenAIPlanner(settings.openai, usage=usage, with_key=lambda _: openai_config(settings))
    raise ConfigError(f"COURSEGEN_PLANNER={settings.planner!r} is not available")


def connection_factory(settings: Settings) -> ConnectionFactory:
    """Connections to the runtime's database: Aurora, or the embedded PostgreSQL."""
    if settings.runtime == "aws":
        return aws_connection_factory(settings)
    return local_connection_factory(settings)


def make_library_admin(settings: Settings) -> LibraryAdmin:
    """The library, to load books into and re-index (the CLI, the deploy tooling)."""
    from .adapters.pg_library import PgLibrary

    return PgLibrary(connection_factory(settings))


def local_connection_factory(settings: Settings) -> ConnectionFactory:
    """Start (if needed) the embedded PostgreSQL in the data folder and migrate it. The process
    holds a lease on the server until it exits; then the server stops if it was started for its
    users and no other live process uses it."""
    from .adapters.localpg import LocalPostgres
    from .adapters.migrate import migrate
    from .adapters.pg import connect

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server = LocalPostgres(settings.data_dir)
    info = server.acquire()
    with _lock:
        if server.data_dir not in _leased:
            _leased.add(server.data_dir)
            atexit.register(server.release)
            _exit_on_sigterm()

    def factory() -> Connection:
        return connect(info)

    migrate(factory)
    return factory


def _exit_on_sigterm() -> None:
    """Turn SIGTERM (what `kill` and process managers send) into a normal exit, so the atexit
    hook stops the server this process started. Leaves any handler someone else set alone."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL,
        None,
    ):
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def aws_connection_factory(settings: Settings) -> ConnectionFactory:
    """Aurora, with the password of the secret RDS manages: read when the first connection is
    opened (a function that never connects never reads it), kept for the process, and read
    again when the database refuses it (pg.rotating_password_factory)."""
    from .adapters.db_secret import SecretPassword
    from .adapters.pg import ConnInfo, rotating_password_factory

    assert settings.aws is not None
    info = ConnInfo(
        host=settings.aws.db_endpoint,
        port=settings.aws.db_port,
        user=settings.aws.db_user,
        database=settings.aws.db_name,
        ssl=True,
    )
    return rotating_password_factory(info, SecretPassword(settings.aws.db_secret_arn))


def phase_of_handler(handler: str) -> str:
    """The workflow phase a handler runs ("parts" for course-book-search-handler), as a
    failed step reports it."""
    from .core.registry import BY_HANDLER

    spec = BY_HANDLER.get(handler)
    return spec.phase.value if spec is not None else handler


def build_workflow(settings: Settings, app: Any) -> Workflow:
    from . import logs

    logs.configure(force=False)
    from .adapters.pg_course_store import PgCourseStore
    from .adapters.pg_ingestions import PgIngestions
    from .adapters.pg_library import PgLibrary

    state_store: StateStore
    publisher: EventPublisher
    local_bus: LocalBus | None = None
    if settings.runtime == "aws":
        from .adapters.dynamodb_state import DynamoDBStateStore
        from .adapters.eventbridge import EventBridgePublisher

        assert settings.aws is not None
        state_store = DynamoDBStateStore(settings.aws.table_name)
        publisher = EventBridgePublisher(settings.aws.bus_name)
    else:
        from .adapters.local_bus import LocalBus
        from .adapters.sqlite_state import SqliteStateStore

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        sqlite_store = SqliteStateStore(settings.data_dir / "state.sqlite3")
        # The bus delivers from the store's outbox: a state write and its event commit together.
        local_bus = LocalBus(app, outbox=sqlite_store.outbox)
        state_store, publisher = sqlite_store, local_bus
    connections = connection_factory(settings)

    usage = UsageRecorder()
    deps = Deps(
        state_store=state_store,
        publisher=publisher,
        library=PgLibrary(connections),
        course_store=PgCourseStore(connections),
        ingestions=PgIngestions(connections),
        planner=make_planner(settings, usage),
        embedder=make_embedder(settings),
        clock=utc_now,
        new_id=new_course_id,
        search=settings.search,
        usage=usage,
        parallel_sections=settings.sections == "parallel",
        stall_policy=settings.stall_policy,
    )
    flow = Workflow(deps)
    if local_bus is not None:
        from .adapters.local_bus import describe

        # What the DLQ consumer does on AWS: a delivery that keeps failing ends the course.
        local_bus.on_dead_letter = lambda handler, message, error: flow.fail_course(
            message["detail"]["course_id"], phase_of_handler(handler), describe(error)
        )
        if settings.watchdog_interval > 0:
            # The watchdog sweeps on the bus's dispatcher, at once and then periodically: a
            # course whose event was lost (or is held by a process that hangs) moves again.
            local_bus.every(settings.watchdog_interval, lambda: flow.sweep(datetime.now(UTC)), "watchdog")
        # Deliver what is pending, whichever process left it: a course outlives its process.
        local_bus.start()
    return flow
