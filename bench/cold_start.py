"""Cold start: what a new Lambda container pays before and during its first event.

    .venv/bin/python -m bench.cold_start [--runs 7]

1. `import app` in a fresh interpreter (every function of the app imports app.py on a cold
   start), median of --runs; the interpreter's own start is shown apart. When bench.package_size
   has built the deployment zip, the import is also timed from the unpacked zip with an isolated
   interpreter (no site-packages, no editable install): the closest local stand-in for Lambda,
   as shipped (no bytecode: every module compiled from source) and with bytecode compiled.
2. Where the import time goes (python -X importtime, self time summed per package).
3. Per handler, the first invocation in a fresh process whose imports are already warm: the
   embedded default (PostgreSQL already running, as Aurora would be; SQLite state; offline
   embedder and planner), each handler given an event for a course waiting at its phase. The
   first invocation builds the workflow (configuration, connections, adapters), then runs its
   step; the bus is muted in these processes so only that one handler runs.
4. Whether `openai` is imported after `import app`, and after a whole offline course.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from typing import Any

from bench._common import PROJECT_DIR, Summary, machine, scratch_dir, table, verdict

TARGET_IMPORT_MS = 300.0
PACKAGE_ZIP = PROJECT_DIR / "build" / "bench-package" / "deployment.zip"
RESULT = "BENCH-RESULT "


def python(code: str, *, env: dict[str, str] | None = None, flags: tuple[str, ...] = ()) -> Any:
    """Run `code` in a fresh interpreter in the project folder; return the JSON it printed
    on its last `BENCH-RESULT` line."""
    done = subprocess.run(
        [sys.executable, *flags, "-c", textwrap.dedent(code)],
        cwd=PROJECT_DIR,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    results = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not results:
        raise SystemExit(f"benchmark child failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(results[-1][len(RESULT) :])


# --- 1 and 2: import time -----------------------------------------------------------------------

_TIME_IMPORT = f"""
import json, sys, time
start, cpu = time.perf_counter(), time.process_time()
import app
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
print({RESULT!r} + json.dumps({{"seconds": elapsed, "cpu": cpu, "openai": "openai" in sys.modules}}))
"""

_TIME_NOTHING = f"""
import json
print({RESULT!r} + json.dumps({{"seconds": 0.0}}))
"""


def interpreter_start(runs: int, flags: tuple[str, ...] = ()) -> Summary:
    import time

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        python(_TIME_NOTHING, flags=flags)
        times.append(time.perf_counter() - start)
    return Summary.of(times)


def import_times(
    runs: int, *, env: dict[str, str] | None = None, flags: tuple[str, ...] = ()
) -> tuple[Summary, Summary]:
    """Wall and CPU time of `import app`, fresh interpreters."""
    python(_TIME_IMPORT, env=env, flags=flags)  # the first run may compile bytecode
    results = [python(_TIME_IMPORT, env=env, flags=flags) for _ in range(runs)]
    return Summary.of([r["seconds"] for r in results]), Summary.of([r["cpu"] for r in results])


def heaviest_imports(env: dict[str, str], limit: int = 10) -> tuple[list[tuple[str, float]], float]:
    """Where `import app` spends its time: self time (python -X importtime) summed per
    top-level package (chalicelib per subpackage), so the rows add up; and the total."""
    command = [sys.executable, "-X", "importtime", "-c", "import app"]
    options: dict[str, Any] = {"cwd": PROJECT_DIR, "env": {**os.environ, **env}, "text": True}
    subprocess.run(command, capture_output=True, check=True, **options)  # bytecode first
    done = subprocess.run(command, capture_output=True, check=True, **options)
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header
        module = fields[2].strip()
        parts = module.split(".")
        group = ".".join(parts[:2]) if parts[0] == "chalicelib" else parts[0]
        totals[group] = totals.get(group, 0.0) + float(fields[0])
    ranked = sorted(totals.items(), key=lambda item: -item[1])
    return ranked[:limit], sum(totals.values())


def unpacked_import_times(runs: int) -> list[tuple[Summary, Summary]] | None:
    """`import app` from the unpacked deployment zip in an isolated interpreter (no site, no
    user environment, no bytecode written): first as Lambda runs it, compiling every module
    from source (the zip holds no bytecode and /var/task is read-only), then with bytecode
    compiled into the folder beforehand."""
    if not PACKAGE_ZIP.exists():
        return None
    with tempfile.TemporaryDirectory(prefix="coursegen-unpacked-") as folder:
        with zipfile.ZipFile(PACKAGE_ZIP) as archive:
            archive.extractall(folder)
        code = f"import sys; sys.dont_write_bytecode = True; sys.path.insert(0, {folder!r})\n" + _TIME_IMPORT
        as_shipped = [_isolated(code) for _ in range(runs)]
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", folder],
            check=True,
        )
        precompiled = [_isolated(code) for _ in range(runs)]
    return [
        (Summary.of([wall for wall, _ in times]), Summary.of([cpu for _, cpu in times]))
        for times in (as_shipped, precompiled)
    ]


def _isolated(code: str) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    results = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not results:
        raise SystemExit(f"unpacked import failed:\n{done.stderr[-4000:]}")
    result = json.loads(results[-1][len(RESULT) :])
    return float(result["seconds"]), float(result["cpu"])


# --- 3: the first invocation of each handler ------------------------------------------------------

_PARK = f"""
import json, sys
from app import app
from chalicelib import bootstrap
from chalicelib.adapters.book_files import read_book_file
from chalicelib.adapters.local_bus import envelope
from chalicelib.core.registry import HANDLERS
from pathlib import Path

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
flow = bootstrap.workflow(app)
books = [read_book_file(p) for p in sorted(Path("samples/library").glob("*.json"))]
flow.deps.library.load(books, flow.deps.embedder)

class Recorder:
    def __init__(self): self.events = []
    def publish(self, event): self.events.append(event)

recorder = Recorder()
flow.deps.publisher = recorder
order = [(spec.handler, spec.consumes) for spec in HANDLERS]
parked = {{name: [] for name, _ in order}}
from chalicelib.core.models import CourseRequest
for _ in range(RUNS):
    for k, (name, event_name) in enumerate(order):
        recorder.events.clear()
        flow.submit("bench-user", CourseRequest(query="Learn DCF valuation", hours=4.0))
        # drive the course through the handlers before `name`; keep the event `name` consumes
        while True:
            event = recorder.events[-1]
            if event.name is event_name:
                break
            recorder.events.clear()
            flow.handle(event.name, event.detail_json())
        parked[name].append(envelope(event))
print({RESULT!r} + json.dumps(parked))
"""

_API_EVENT = {
    "resource": "/courses",
    "path": "/courses",
    "httpMethod": "POST",
    "headers": {"content-type": "application/json"},
    "multiValueHeaders": {"content-type": ["application/json"]},
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": None,
    "stageVariables": None,
    "requestContext": {
        "resourcePath": "/courses",
        "httpMethod": "POST",
        "path": "/api/courses",
        "stage": "api",
        "requestId": "bench",
        "identity": {"sourceIp": "127.0.0.1"},
    },
    "body": json.dumps({"query": "Learn DCF valuation", "hours": 4}),
    "isBase64Encoded": False,
}

_INVOKE = f"""
import json, sys, time
case = json.loads(sys.stdin.read())
import app
from chalicelib import bootstrap
from chalicelib.adapters.local_bus import LocalBus
LocalBus.publish = lambda self, event: None  # only this handler runs in this process
build = bootstrap.build_workflow
spent = {{}}
def timed_build(*args, **kwargs):
    start = time.perf_counter()
    try:
        return build(*args, **kwargs)
    finally:
        spent["build"] = time.perf_counter() - start
bootstrap.build_workflow = timed_build

class Context:
    function_name = case["name"]
    aws_request_id = "bench"

handler = app.app if case["name"] == "api_handler" else app.app.handler_map[case["name"]]
start = time.perf_counter()
result = handler(case["event"], Context())
first = time.perf_counter() - start
status = result.get("statusCode") if isinstance(result, dict) else None
print({RESULT!r} + json.dumps({{"first": first, "build": spent.get("build", 0.0), "status": status,
                                 "openai": "openai" in sys.modules}}))
"""


def first_invocations(runs: int) -> tuple[list[tuple[Any, ...]], bool]:
    from chalicelib.adapters.localpg import LocalPostgres

    rows, openai_seen = [], False
    with scratch_dir("coursegen-cold-") as data_dir:
        LocalPostgres(data_dir).ensure_running()  # started here, so no child stops it on exit
        env = {
            "COURSEGEN_RUNTIME": "local",
            "COURSEGEN_DATA_DIR": str(data_dir),
            "COURSEGEN_LOG_LEVEL": "WARNING",
        }
        parked = python(_PARK.replace("RUNS", str(runs)), env=env)
        cases = [("api_handler", [_API_EVENT] * runs), *parked.items()]
        for name, events in cases:
            firsts, builds = [], []
            for event in events:
                done = subprocess.run(
                    [sys.executable, "-c", _INVOKE],
                    input=json.dumps({"name": name, "event": event}),
                    cwd=PROJECT_DIR,
                    env={**os.environ, **env},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
                if done.returncode != 0 or not lines:
                    raise SystemExit(f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
                result = json.loads(lines[-1][len(RESULT) :])
                if name == "api_handler" and result["status"] != 202:
                    raise SystemExit(f"POST /courses answered {result['status']}")
                firsts.append(result["first"])
                builds.append(result["build"])
                openai_seen |= result["openai"]
            first, build = Summary.of(firsts), Summary.of(builds)
            step = Summary.of([f - b for f, b in zip(firsts, builds, strict=True)])
            rows.append((name, first.ms(), first.spread_ms(), build.ms(), step.ms()))
    return rows, openai_seen


_COURSE_THEN_MODULES = f"""
import json, sys
from bench._common import embedded_workflow
from chalicelib.core.models import CourseRequest
with embedded_workflow() as flow:
    flow.submit("bench-user", CourseRequest(query="Learn DCF valuation", hours=2.0))
    flow.deps.publisher.wait_idle(timeout=120)
    state = flow.deps.state_store.list_for_user("bench-user")[0]
print({RESULT!r} + json.dumps({{"status": state.status.value, "openai": "openai" in sys.modules}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per figure (default 7)")
    args = parser.parse_args()

    start = interpreter_start(args.runs)
    with tempfile.TemporaryDirectory(prefix="coursegen-pycache-") as cache:
        # Bytecode cached as on any developer machine, in a folder of its own, not the checkout.
        cached = {"PYTHONPYCACHEPREFIX": cache, "PYTHONDONTWRITEBYTECODE": ""}
        imported = import_times(args.runs, env=cached)
        heavy, heavy_total = heaviest_imports(cached)
    unpacked = unpacked_import_times(args.runs)
    after_import = python(_TIME_IMPORT)["openai"]
    handlers, openai_in_handlers = first_invocations(max(3, args.runs // 2))
    course = python(_COURSE_THEN_MODULES)

    print(machine())
    rows = [("interpreter start (python -c pass)", start.ms(), start.spread_ms(), "", "")]
    figures = [("import app, checkout venv (bytecode cached)", imported)]
    if unpacked is not None:
        labels = ("as shipped (no bytecode)", "with bytecode compiled")
        for label, figure in zip(labels, unpacked, strict=True):
            figures.append((f"import app, deployment zip {label}", figure))
    for label, (wall, cpu) in figures:
        ok = verdict(wall.median * 1000 <= TARGET_IMPORT_MS)
        rows.append((label, wall.ms(), wall.spread_ms(), cpu.ms(), ok))
    table(
        f"Import time in a fresh interpreter ({args.runs} runs, ms)",
        ("", "median", "min-max", "CPU median", f"<= {TARGET_IMPORT_MS:g} ms"),
        rows,
    )
    if unpacked is None:
        print("(run bench.package_size first to also time the import from the deployment zip)\n")
    table(
        f"Where `import app` spends its time (checkout, bytecode cached; python -X importtime, self time"
        f" by package, one run;"
        f" all modules: {heavy_total / 1000:.0f} ms)",
        ("package", "ms", "share"),
        [(name, f"{micros / 1000:.0f}", f"{micros / heavy_total:.0%}") for name, micros in heavy],
    )
    table(
        "First invocation per handler, imports warm, embedded default (ms)",
        ("handler", "median", "min-max", "of which: build workflow", "its step"),
        handlers,
    )
    print(f"openai imported after `import app`: {'yes' if after_import else 'no'}")
    print(f"openai imported by any handler's first invocation: {'yes' if openai_in_handlers else 'no'}")
    after_course = "yes" if course["openai"] else "no"
    print(f"openai imported after a whole offline course ({course['status']}): {after_course}")


if __name__ == "__main__":
    main()
