"""`coursegen`: load a library and generate courses on this machine, with live progress."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chalicelib.config import PLANNERS, Settings
from chalicelib.core.models import (
    CourseRequest,
    Depth,
    Pace,
    Preferences,
    Status,
    TokenUsage,
)
from chalicelib.core.registry import TOKEN_PHASES
from chalicelib.errors import CourseGenError
from chalicelib.ports import Embedder, LibraryAdmin
from chalicelib.workflow import Workflow

APP_FILE = Path(__file__).resolve().parent.parent / "app.py"
PHASE_LABELS = {
    Status.QUEUED: "queued",
    Status.SEARCHING: "searching the library",
    Status.PLANNING: "planning the parts",
    Status.GENERATING_SECTIONS: "planning sections",
    Status.REVIEWING: "reviewing the outline",
    Status.STORING: "storing the course",
    Status.COMPLETE: "complete",
    Status.FAILED: "failed",
}


class CliError(CourseGenError):
    """A command cannot run as asked; printed on stderr, exit status 1."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coursegen", description=__doc__)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".coursegen"),
        help="folder for everything local: the PostgreSQL data and the course state (default: .coursegen)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    library = commands.add_parser("library", help="load or list the books courses are built from")
    library_commands = library.add_subparsers(dest="library_command", required=True)
    load = library_commands.add_parser("load", help="validate book files and load them in one transaction")
    load.add_argument("files", nargs="+", type=Path, metavar="FILE")
    library_commands.add_parser("list", help="list the loaded books and the embedder they are indexed with")
    library_commands.add_parser(
        "reindex",
        help="embed every chapter again with the configured embedder ($COURSEGEN_EMBEDDER), atomically",
    )

    generate = commands.add_parser("generate", help="generate a course outline from the library")
    generate.add_argument("query", help='what to learn, e.g. "Learn DCF valuation"')
    generate.add_argument("--hours", type=float, required=True, help="course length in hours (0.25-40)")
    generate.add_argument("--depth", choices=[d.value for d in Depth], default=Depth.BALANCED.value)
    generate.add_argument("--pace", choices=[p.value for p in Pace], default=Pace.MODERATE.value)
    generate.add_argument(
        "--planner",
        choices=list(PLANNERS),
        default=None,
        help="the offline planner or a chat model (default: $COURSEGEN_PLANNER, else offline)",
    )
    generate.add_argument("--json", action="store_true", help="print the outline as JSON")

    evaluate = commands.add_parser(
        "eval",
        help="generate annotated requests on a throwaway copy of a library and score the outlines",
    )
    evaluate.add_argument("requests", type=Path, metavar="REQUESTS.json", help="the annotated requests")
    evaluate.add_argument("--library", type=Path, required=True, metavar="DIR", help="folder of book files")
    evaluate.add_argument(
        "--planner",
        choices=list(PLANNERS),
        default=None,
        help="the offline planner or a chat model (default: $COURSEGEN_PLANNER, else offline)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    evaluate.add_argument("--only", nargs="+", default=[], metavar="ID", help="evaluate only these requests")

    db = commands.add_parser("db", help="control the embedded PostgreSQL server")
    db.add_argument("action", choices=["start", "stop", "status"])
    return parser


def _load_app() -> Any:
    """The Chalice app in app.py: the same handlers the cloud runs, dispatched in process."""
    loaded = sys.modules.get("app")
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == APP_FILE:
        return loaded.app
    spec = importlib.util.spec_from_file_location("app", APP_FILE)
    if spec is None or spec.loader is None:
        raise CliError(f"cannot find the Chalice app at {APP_FILE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    return module.app


def _settings(args: argparse.Namespace) -> Settings:
    """Configuration from the environment, overridden by the flags; always the local runtime."""
    settings = replace(Settings.from_env(), runtime="local", aws=None, data_dir=args.data_dir)
    if getattr(args, "planner", None):
        settings = replace(settings, planner=args.planner)
    return settings


def _setup(args: argparse.Namespace) -> Workflow:
    """The local workflow, built from `_settings`."""
    from chalicelib import bootstrap

    return bootstrap.configure(_settings(args), _load_app())


def _library(args: argparse.Namespace) -> int:
    from chalicelib import bootstrap
    from chalicelib.adapters.book_files import read_book_file

    books = [read_book_file(path) for path in getattr(args, "files", [])]  # all validated before any write
    settings = _settings(args)
    library = bootstrap.make_library_admin(settings)
    if args.library_command == "load":
        started = time.monotonic()
        chapters = sum(len(book.chapters) for book in books)
        library.load(books, bootstrap.make_embedder(settings))
        print(
            f"loaded {len(books)} book(s), {chapters} chapters in {time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        return 0
    if args.library_command == "reindex":
        return _reindex(library, bootstrap.make_embedder(settings))
    listed = library.list_books()
    if not listed:
        print("the library is empty: load books with `coursegen library load FILE...`", file=sys.stderr)
        return 0
    width = max(len(book.title) for book in listed)
    for book in listed:
        print(f"{book.title:<{width}}  {book.author}  ({book.chapters} chapters)  [{book.id}]")
    stats = library.stats()
    print(f"indexed with embedder {stats.embedder_kind} ({stats.dimension} dimensions)", file=sys.stderr)
    return 0


def _reindex(library: LibraryAdmin, embedder: Embedder) -> int:
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] embedded {done} of {total} chapters", file=sys.stderr)

    count = library.reindex(embedder, progress)
    print(
        f"re-indexed {count} chapters with embedder {embedder.kind} in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


class Progress:
    """One line on stderr per change of phase or part (rewritten in place on a terminal)."""

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = ""

    def show(self, status: Status, parts_done: int, parts_total: int, elapsed: float) -> None:
        label = PHASE_LABELS[status]
        if status is Status.GENERATING_SECTIONS and parts_total:
            label = f"{label}: part {min(parts_done + 1, parts_total)} of {parts_total}"
        if label == self.last:
            return
        self.last = label
        if self.tty:
            self.stream.write(f"\r\033[K[{elapsed:5.1f}s] {label}")
            if status.is_terminal:
                self.stream.write("\n")
        else:
            self.stream.write(f"[{elapsed:5.1f}s] {label}\n")
        self.stream.flush()


def _generate(args: argparse.Namespace) -> int:
    from chalicelib.render import outline_markdown

    try:
        request = CourseRequest(
            query=args.query, hours=args.hours, preferences=Preferences(depth=args.depth, pace=args.pace)
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise CliError(f"invalid request: {field}: {first['msg'].removeprefix('Value error, ')}") from None
    flow = _setup(args)
    user = flow_user()
    started = time.monotonic()
    state = flow.submit(user, request)
    progress = Progress()
    progress.show(state.status, 0, 0, time.monotonic() - started)  # queued, even if it moves on at once
    while True:
        current = flow.deps.state_store.get(state.course_id)
        assert current is not None
        progress.show(current.status, current.parts_done, current.parts_total, time.monotonic() - started)
        if current.status.is_terminal:
            break
        time.sleep(0.02)
    _wait_for_the_bus(flow)
    if current.status is Status.FAILED:
        reason = current.error.reason if current.error else "unknown reason"
        phase = current.error.phase if current.error else "?"
        raise CliError(f"course {current.course_id} failed in {phase}: {reason}")
    outline = flow.view(user, state.course_id).outline
    assert outline is not None
    if outline.usage.calls:
        print(usage_line(outline.usage), file=sys.stderr)
    sys.stdout.write(outline.model_dump_json(indent=2) + "\n" if args.json else outline_markdown(outline))
    return 0


def _wait_for_the_bus(flow: Workflow) -> None:
    """Let the in-process bus finish the deliveries still running (the events after the last
    change of state) before the outline is read and the process exits."""
    from chalicelib.adapters.local_bus import LocalBus

    if isinstance(flow.deps.publisher, LocalBus):
        flow.deps.publisher.wait_idle(timeout=10)


def usage_line(usage: TokenUsage) -> str:
    phases = ", ".join(
        f"{phase} {part.prompt_tokens}+{part.completion_tokens} in {part.calls} call(s)"
        for phase in TOKEN_PHASES
        if (part := getattr(usage, phase)).calls
    )
    return f"model tokens: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion ({phases})"


def flow_user() -> str:
    from chalicelib import bootstrap

    return bootstrap.settings().local_user


def _eval(args: argparse.Namespace) -> int:
    from chalicelib.evaluation import runner

    return runner.run(
        args.requests, args.library, _load_app(), planner=args.planner, only=args.only, as_json=args.json
    )


def _db(args: argparse.Namespace) -> int:
    from chalicelib.adapters.localpg import LocalPostgres

    server = LocalPostgres(args.data_dir)
    if args.action == "start":
        server.ensure_running()
        print(f"PostgreSQL running, socket {server.socket_path}", file=sys.stderr)
    elif args.action == "stop":
        server.stop()
        print("PostgreSQL stopped", file=sys.stderr)
    else:
        print("running" if server.is_running() else "stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    from chalicelib import logs

    args = _parser().parse_args(argv)
    # stdout carries the outline; the progress line says what is happening, so only
    # warnings and errors are logged, to stderr.
    logs.configure(level=os.environ.get("COURSEGEN_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    try:
        if args.command == "library":
            return _library(args)
        if args.command == "generate":
            return _generate(args)
        if args.command == "eval":
            return _eval(args)
        return _db(args)
    except CourseGenError as error:
        print(f"coursegen: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("coursegen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
