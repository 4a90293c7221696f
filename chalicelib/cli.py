"""`coursegen`: load a library and generate courses on this machine, with live progress."""

from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

from .config import PLANNERS, SUMMARIZERS, Settings, log_level
from .core.books import Book, book_id
from .core.models import (
    CourseRequest,
    CourseState,
    Depth,
    Outline,
    Pace,
    Preferences,
    Status,
    TokenUsage,
)
from .core.paging import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor, parse_limit
from .core.registry import TOKEN_PHASES
from .distribution import GET_STARTED, copy_samples, version
from .errors import CourseConflict, CourseGenError, CourseNotFound, InvalidRequest
from .http import course_body, invalid_field
from .ports import Embedder, LibraryAdmin
from .workflow import CourseView, Workflow

if TYPE_CHECKING:
    from .adapters.localpg import LocalPostgres

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


# The course `generate` or `courses retry` is following: Ctrl-C's message names it.
_following: list[str] = []


def _command(
    commands: Any, name: str, summary: str, examples: tuple[str, ...] = (), details: str = ""
) -> argparse.ArgumentParser:
    """A subcommand whose own --help starts with what it does and ends with examples."""
    epilog = (
        "\n".join(["examples:", *(f"  coursegen {example}" for example in examples)]) if examples else None
    )
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=f"{summary[0].upper()}{summary[1:]}." + (f"\n\n{details}" if details else ""),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coursegen",
        description=__doc__,
        epilog=GET_STARTED,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for everything local: the PostgreSQL data and the course state "
        "(default: $COURSEGEN_DATA_DIR, else .coursegen)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    library = _command(
        commands, "library", "load, add, list, re-index or remove the books courses are built from"
    )
    library_commands = library.add_subparsers(dest="library_command", required=True, metavar="ACTION")
    load = _command(
        library_commands,
        "load",
        "validate book files and load them in one transaction",
        ("library load books/*.json", "library load books/"),
        "A bad file is refused, naming the file and the field, and the library is left unchanged.",
    )
    load.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="a book file (JSON), or a folder of them"
    )
    add = _command(
        library_commands,
        "add",
        "derive book files from EPUB, PDF, Markdown, HTML or text, and load them in one transaction",
        ("library add book.epub", 'library add notes/ --title "My Notes" --author Me'),
    )
    add.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="a document, or a folder of chapter files"
    )
    add.add_argument("--title", help="the book's title (default: the document's own)")
    add.add_argument("--author", help="the book's author (default: the document's own)")
    add.add_argument(
        "--out", type=Path, metavar="DIR", help="folder for the derived book files (default: DATA_DIR/books)"
    )
    add.add_argument(
        "--summarizer",
        choices=SUMMARIZERS,
        help="who writes summaries, topics and key concepts: offline (default: COURSEGEN_SUMMARIZER), "
        "or the chat model of COURSEGEN_CHAT_MODEL on the COURSEGEN_OPENAI_* server",
    )
    _command(library_commands, "list", "list the loaded books and the embedder they are indexed with")
    _command(
        library_commands,
        "reindex",
        "embed every chapter again with the configured embedder ($COURSEGEN_EMBEDDER), atomically",
        ("library reindex",),
    )
    remove = _command(
        library_commands,
        "remove",
        "remove one book and its chapters",
        ('library remove "Pricing the Enterprise"',),
    )
    remove.add_argument("book", metavar="BOOK", help="the book's id or exact title (see `library list`)")

    generate = _command(
        commands,
        "generate",
        "generate a course outline from the library",
        (
            'generate "Learn DCF valuation" --hours 2',
            'generate "Learn SQL joins and indexing" --hours 1.5 --depth technical --pace quick --json',
        ),
        "Progress goes to stderr, the outline (Markdown, or JSON with --json) to stdout.",
    )
    generate.add_argument("query", help='what to learn, e.g. "Learn DCF valuation" (3-500 characters)')
    generate.add_argument("--hours", type=float, required=True, help="course length in hours (0.25-40)")
    generate.add_argument(
        "--depth",
        choices=[d.value for d in Depth],
        default=Depth.BALANCED.value,
        help=f"the level of the learning objectives, overview to expert (default: {Depth.BALANCED.value})",
    )
    generate.add_argument(
        "--pace",
        choices=[p.value for p in Pace],
        default=Pace.MODERATE.value,
        help="section length: quick 10-20 min, moderate 15-35 (default), thorough 25-60",
    )
    generate.add_argument(
        "--planner",
        choices=list(PLANNERS),
        default=None,
        help="the offline planner or a chat model (default: $COURSEGEN_PLANNER, else offline)",
    )
    generate.add_argument("--json", action="store_true", help="print the outline as JSON")

    evaluate = _command(
        commands,
        "eval",
        "generate annotated requests on a throwaway copy of a library and score the outlines",
        ("eval samples/eval/requests.json --library samples/eval/library",),
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

    courses = _command(commands, "courses", "list, show, export, retry or delete your courses")
    course_commands = courses.add_subparsers(dest="courses_command", required=True, metavar="ACTION")
    listing = _command(
        course_commands, "list", "your courses, newest first", ("courses list --status failed",)
    )
    listing.add_argument("--status", choices=[s.value for s in Status], help="only courses in this status")
    listing.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"how many (1-{MAX_LIMIT}, default {DEFAULT_LIMIT})"
    )
    listing.add_argument("--cursor", help="continue a listing where the previous one said")
    course_id = "the course's id (see `courses list`)"
    show = _command(course_commands, "show", "a course's status, progress or error, and its outline")
    show.add_argument("course_id", metavar="ID", help=course_id)
    show.add_argument("--json", action="store_true", help="print what GET /courses/ID answers")
    export = _command(
        course_commands,
        "export",
        "print a complete course's outline",
        ("courses export ID --format md > course.md",),
    )
    export.add_argument("course_id", metavar="ID", help=course_id)
    export.add_argument("--format", choices=["md", "json"], default="md", help="Markdown (default) or JSON")
    retry = _command(
        course_commands,
        "retry",
        "resume a failed course from the phase that failed, or finish an interrupted one",
        details="Either way it shows the progress, as `generate` does, and prints the outline.",
    )
    retry.add_argument("course_id", metavar="ID", help=course_id)
    retry.add_argument("--json", action="store_true", help="print the outline as JSON")
    delete = _command(course_commands, "delete", "delete a complete or failed course and its outline")
    delete.add_argument("course_id", metavar="ID", help=course_id)

    samples = _command(
        commands, "samples", "copy the bundled sample library (book files) into DIR", ("samples ./books",)
    )
    samples.add_argument("folder", type=Path, metavar="DIR", help="where to copy them (made if missing)")
    samples.add_argument("--force", action="store_true", help="overwrite sample files already in DIR")

    db = _command(
        commands,
        "db",
        "control the embedded PostgreSQL server",
        details="Commands start the server when they need it and stop it when they exit, unless another "
        "process still uses it.\n`db start` keeps it running until `db stop`; `db status` says who uses it.",
    )
    db.add_argument(
        "action", choices=["start", "stop", "status"], help="start (and keep), stop, or show status"
    )
    return parser


def _load_app() -> Any:
    """The Chalice app: the same handlers the cloud runs, dispatched in process."""
    from .service import app

    return app


def _settings(args: argparse.Namespace) -> Settings:
    """Configuration from the environment, overridden by the flags; always the local runtime."""
    settings = replace(Settings.from_env(), runtime="local", aws=None, data_dir=args.data_dir)
    if getattr(args, "planner", None):
        settings = replace(settings, planner=args.planner)
    return settings


def _setup(args: argparse.Namespace) -> Workflow:
    """The local workflow, built from `_settings`."""
    from . import bootstrap

    return bootstrap.configure(_settings(args), _load_app())


def _library(args: argparse.Namespace) -> int:
    from . import bootstrap
    from .adapters.book_files import read_book_file

    settings = _settings(args)
    if args.library_command == "add":
        return _library_add(args, settings)
    library = bootstrap.make_library_admin(settings)
    if args.library_command == "remove":
        removed = library.remove(args.book)
        print(
            f"removed {removed.title!r} by {removed.author} ({removed.chapters} chapters) [{removed.id}]",
            file=sys.stderr,
        )
        return 0
    paths = book_paths(getattr(args, "files", []))
    books = [read_book_file(path) for path in paths]  # all validated before any write
    if args.library_command == "load":
        warn_of_dropped_chapters(books, library)
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
        print(
            f"the library is empty: load books with `coursegen library load FILE...`\n{GET_STARTED}",
            file=sys.stderr,
        )
        return 0
    width = max(len(book.title) for book in listed)
    owners = any(book.owner for book in listed)  # uploads to the books bucket (AWS): their owner
    for book in listed:
        owner = f"  {book.owner or 'shared'}" if owners else ""
        print(f"{book.title:<{width}}  {book.author}  ({book.chapters} chapters)  [{book.id}]{owner}")
    stats = library.stats()
    print(f"indexed with embedder {stats.embedder_kind} ({stats.dimension} dimensions)", file=sys.stderr)
    return 0


def book_paths(given: list[Path]) -> list[Path]:
    """The book files named: a folder stands for the `*.json` files in it."""
    paths = []
    for path in given:
        if path.is_dir():
            inside = sorted(path.glob("*.json"))
            if not inside:
                raise CliError(f"{path}: no book files (*.json) in this folder")
            paths += inside
        else:
            paths.append(path)
    return paths


def warn_of_dropped_chapters(books: list[Book], library: LibraryAdmin) -> None:
    """A book loaded again replaces its chapters: say which of the loaded ones it no longer has."""
    for book in books:
        loaded = library.chapter_titles(book_id(book))
        dropped = sorted(set(loaded) - {chapter.number for chapter in book.chapters})
        if dropped:
            listed = ", ".join(f"{number} \u201c{loaded[number]}\u201d" for number in dropped)
            print(
                f"warning: {book.title!r} replaces the loaded book, which had {len(loaded)} chapters; "
                f"these disappear: {listed}",
                file=sys.stderr,
            )


def _library_add(args: argparse.Namespace, settings: Settings) -> int:
    from . import bootstrap
    from .ingest.command import add_documents
    from .ingest.summarise import summariser_for

    # a model without a key fails here, before anything is read; None: offline, reusing the embedder
    chosen = args.summarizer or settings.summarizer
    summariser = summariser_for(chosen, settings) if chosen != "offline" else None
    library = bootstrap.make_library_admin(settings)
    embedder = bootstrap.make_embedder(settings)
    out_dir = args.out or args.data_dir / "books"
    add_documents(args.files, library, embedder, out_dir, args.title, args.author, summariser=summariser)
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
    from .render import outline_markdown

    try:
        request = CourseRequest(
            query=args.query, hours=args.hours, preferences=Preferences(depth=args.depth, pace=args.pace)
        )
    except ValidationError as error:
        raise CliError(f"invalid request: {invalid_field(error).message}") from None
    require_model_key(_settings(args))
    flow = _setup(args)
    require_books(flow)
    user = flow_user()
    started = time.monotonic()
    state = flow.submit(user, request)
    _following.append(state.course_id)
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


def require_model_key(settings: Settings) -> None:
    """With the model planner, refuse at once when no key can be found: the course's steps
    would otherwise retry for a minute before failing for the same reason."""
    if settings.planner == "openai":
        from . import bootstrap

        bootstrap.openai_config(settings)  # ConfigError naming the variables to set


def require_books(flow: Workflow) -> None:
    """Refuse at once, before a course is made, when the library has nothing to build it from."""
    library = flow.deps.library
    if isinstance(library, LibraryAdmin) and library.stats().chapters == 0:
        raise CliError(
            f"the library is empty: load books with `coursegen library load FILE...` first\n{GET_STARTED}"
        )


def _courses(args: argparse.Namespace) -> int:
    flow = _setup(args)
    try:
        return _course_command(args, flow, flow_user())
    except CourseNotFound:
        raise CliError(f"no course {args.course_id!r}: see `coursegen courses list`") from None


def _course_command(args: argparse.Namespace, flow: Workflow, user: str) -> int:
    command = args.courses_command
    if command == "list":
        return _list_courses(args, flow, user)
    if command == "retry":
        require_model_key(_settings(args))
        return _follow(flow, user, _resume(flow, user, args.course_id), args.json)
    if command == "delete":
        flow.delete(user, args.course_id)
        print(f"deleted course {args.course_id}", file=sys.stderr)
        return 0
    view = flow.view(user, args.course_id)
    if command == "export":
        if view.outline is None:
            raise CliError(
                f"course {args.course_id} is {view.status}: only a complete course has an outline to export"
            )
        sys.stdout.write(_outline_text(view.outline, as_json=args.format == "json"))
        return 0
    if args.json:
        sys.stdout.write(json.dumps(course_body(view), indent=2, ensure_ascii=False) + "\n")
        return 0
    sys.stdout.write(course_text(view))
    return 0


def _resume(flow: Workflow, user: str, course_id: str) -> CourseState:
    """A failed course, resumed from the phase that failed; or one still in progress (its
    `generate` interrupted), as it stands: this process's bus delivers its pending steps."""
    try:
        return flow.retry(user, course_id)
    except CourseConflict:
        state = flow.view(user, course_id).state  # CourseNotFound for another user's course
        if state is None or state.status.is_terminal:
            raise
    print(f"course {course_id} is {state.status.value}: following it until it ends", file=sys.stderr)
    return state


def _list_courses(args: argparse.Namespace, flow: Workflow, user: str) -> int:
    limit = parse_limit(str(args.limit))
    try:
        cursor = decode_cursor(args.cursor) if args.cursor else None
    except InvalidRequest:
        raise CliError("--cursor is not one `courses list` printed: copy it unchanged") from None
    page = flow.list_page(user, limit, cursor, Status(args.status) if args.status else None)
    if not page.items:
        print("no courses" + (f" {args.status}" if args.status else ""), file=sys.stderr)
    for view in page.items:
        print(course_line(view))
    if page.next is not None:
        print(f"more: coursegen courses list --cursor {encode_cursor(page.next)}", file=sys.stderr)
    return 0


def course_line(view: CourseView) -> str:
    """One course in a listing: id, status, when, hours, and its title (or query while untitled)."""
    body = course_body(view)
    status = body["status"]
    if body["status"] == Status.GENERATING_SECTIONS.value:
        status += f" {body['progress']['parts_done']}/{body['progress']['parts_total']}"
    label = body["title"] or body["query"]
    line = f"{body['course_id']}  {status:<24}  {body['created_at']}  {body['hours']:>5g} h  {label}"
    if body["error"]:
        line += f"  ({body['error']['phase']}: {body['error']['reason']})"
    return line


def course_text(view: CourseView) -> str:
    """`courses show`: what the course is and where it stands, then its outline once complete."""
    body = course_body(view)
    progress = body["progress"]
    lines = [
        f"course   {body['course_id']}",
        f"status   {body['status']}"
        + (
            f" ({progress['parts_done']} of {progress['parts_total']} parts planned)"
            if progress["parts_total"]
            else ""
        ),
        f"request  {body['query']!r}, {body['hours']:g} h, depth {body['preferences']['depth']},"
        f" pace {body['preferences']['pace']}",
        f"created  {body['created_at']}, updated {body['updated_at']}",
    ]
    if body["title"]:
        lines.insert(1, f"title    {body['title']}")
    if body["retries"]:
        lines.append(f"retries  {body['retries']}")
    if body["error"]:
        lines.append(f"error    in {body['error']['phase']}: {body['error']['reason']}")
        lines.append(f"         `coursegen courses retry {body['course_id']}` resumes it from there")
    text = "\n".join(lines) + "\n"
    if view.outline is not None:
        text += "\n" + _outline_text(view.outline, as_json=False)
    return text


def _outline_text(outline: Outline, as_json: bool) -> str:
    from .render import outline_markdown

    return outline.model_dump_json(indent=2) + "\n" if as_json else outline_markdown(outline)


def _follow(flow: Workflow, user: str, resumed: CourseState, as_json: bool) -> int:
    """Show a resumed course's progress until it ends, as `generate` does, then print its outline."""
    started, course_id = time.monotonic(), resumed.course_id
    _following.append(course_id)
    progress = Progress()
    # Where it resumed, even if it moves on at once.
    progress.show(resumed.status, resumed.parts_done, resumed.parts_total, 0.0)
    while True:
        current = flow.deps.state_store.get(course_id)
        if current is None:
            raise CliError(f"course {course_id} disappeared while it was running")
        progress.show(current.status, current.parts_done, current.parts_total, time.monotonic() - started)
        if current.status.is_terminal:
            break
        time.sleep(0.02)
    _wait_for_the_bus(flow)
    if current.status is Status.FAILED:
        failure = current.error
        raise CliError(
            f"course {course_id} failed in {failure.phase if failure else '?'}: "
            f"{failure.reason if failure else 'unknown reason'}"
        )
    outline = flow.view(user, course_id).outline
    assert outline is not None
    if outline.usage.calls:
        print(usage_line(outline.usage), file=sys.stderr)
    sys.stdout.write(_outline_text(outline, as_json))
    return 0


def _wait_for_the_bus(flow: Workflow) -> None:
    """Let the in-process bus finish the deliveries it is running before the outline is read and
    the process exits; what it has not started stays in the outbox for the next process."""
    from .adapters.local_bus import LocalBus

    if isinstance(flow.deps.publisher, LocalBus):
        flow.deps.publisher.close()


def usage_line(usage: TokenUsage) -> str:
    phases = ", ".join(
        f"{phase} {part.prompt_tokens}+{part.completion_tokens} in {part.calls} call(s)"
        for phase in TOKEN_PHASES
        if (part := getattr(usage, phase)).calls
    )
    return f"model tokens: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion ({phases})"


def flow_user() -> str:
    from . import bootstrap

    return bootstrap.settings().local_user


def _eval(args: argparse.Namespace) -> int:
    from .evaluation import runner

    return runner.run(
        args.requests, args.library, _load_app(), planner=args.planner, only=args.only, as_json=args.json
    )


def _db(args: argparse.Namespace) -> int:
    from .adapters.localpg import LocalPostgres

    server = LocalPostgres(args.data_dir)
    if args.action == "start":
        server.keep()
        print(
            f"PostgreSQL running, socket {server.socket_path}; `coursegen db stop` stops it", file=sys.stderr
        )
    elif args.action == "stop":
        if not server.is_running():
            print("PostgreSQL was not running", file=sys.stderr)
            return 0
        users = server.users()
        server.stop()
        print("PostgreSQL stopped", file=sys.stderr)
        for lease in users:
            print(f"  it was in use by pid {lease.pid} ({lease.command})", file=sys.stderr)
    else:
        print("\n".join(db_status(server)))
    return 0


def db_status(server: LocalPostgres) -> list[str]:
    """What `db status` prints: whether the server runs, who started it and who uses it, and the
    events still waiting for delivery in the data dir."""
    from .adapters import processes
    from .adapters.sqlite_state import SqliteStateStore

    if not server.is_running():
        lines = ["stopped"]
    else:
        starter = server.started_for_users()
        if starter is None:
            lines = ["running, kept until `coursegen db stop`"]
        else:
            lines = [
                f"running for the processes using it (started by pid {processes.pid_of(starter)}); "
                "it stops when the last one exits"
            ]
    users = server.users()
    lines.append(f"used by {len(users)} process{'es' if len(users) != 1 else ''}" + (":" if users else ""))
    lines += [f"  pid {lease.pid} since {lease.since}: {lease.command}" for lease in users]
    state_file = server.data_dir / "state.sqlite3"
    if state_file.exists():
        waiting = SqliteStateStore(state_file).outbox.undelivered()
        lines.append(f"{waiting} workflow event{'s' if waiting != 1 else ''} waiting for delivery")
    return lines


def _samples(args: argparse.Namespace) -> int:
    copied = copy_samples(args.folder, force=args.force)
    print(f"copied {len(copied)} sample book files into {args.folder}", file=sys.stderr)
    print(f"next: coursegen library load {args.folder / '*.json'}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    from . import logs

    parser = _parser()
    if not (sys.argv[1:] if argv is None else argv):  # a first run: say how to begin
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    commands = {"library": _library, "generate": _generate, "eval": _eval, "courses": _courses}
    run = {**commands, "samples": _samples, "db": _db}
    try:
        # stdout carries the outline; the progress line says what is happening, so only
        # warnings and errors are logged, to stderr.
        logs.configure(level=log_level("WARNING"), stream=sys.stderr)
        if args.data_dir is None:
            args.data_dir = Settings.from_env().data_dir
        return run[args.command](args)
    except CourseGenError as error:
        print(f"coursegen: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 141
    except OSError as error:  # a folder that cannot be made, a file that cannot be written
        where = f"{error.filename}: " if error.filename else ""
        print(f"coursegen: error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        say_interrupted(sys.stderr, _following[-1] if _following else None)
        leave_at_once(130)
        return 130  # not reached


def say_interrupted(stream: Any, course_id: str | None) -> None:
    """Ctrl-C's message on a line of its own: on a terminal the progress line has no end yet."""
    stream.write(("\n" if stream.isatty() else "") + interrupted_message(course_id) + "\n")
    stream.flush()


def interrupted_message(course_id: str | None) -> str:
    """What Ctrl-C says: what was stopped, and for a course being built, how it goes on."""
    if course_id is None:
        return "coursegen: interrupted"
    return (
        f"coursegen: interrupted; course {course_id} is kept in the data folder: "
        f"`coursegen courses retry {course_id}` goes on with it"
    )


def leave_at_once(code: int) -> NoReturn:
    """Exit without waiting for the deliveries the in-process bus is running (a model call may
    take minutes): their events stay in the outbox, claimed by this process, and the next process
    delivers them once it sees this one is gone. The exit hooks still run, so a PostgreSQL server
    this process started stops."""
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
