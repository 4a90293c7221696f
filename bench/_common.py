"""What the benchmarks share: summary statistics, table printing, the machine's description and
the embedded default (PostgreSQL in a throwaway folder, the sample library loaded)."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
SAMPLES = PROJECT_DIR / "samples" / "library"


# --- statistics -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    """Median and spread of repeated measurements."""

    n: int
    median: float
    p95: float
    low: float
    high: float
    iqr: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(
            n=len(values),
            median=statistics.median(values),
            p95=percentile(values, 95),
            low=min(values),
            high=max(values),
            iqr=percentile(values, 75) - percentile(values, 25),
        )

    def ms(self, field: str = "median") -> str:
        return f"{getattr(self, field) * 1000:.1f}"

    def spread_ms(self) -> str:
        """min-max in milliseconds: the honest spread of a few runs."""
        return f"{self.low * 1000:.1f}-{self.high * 1000:.1f}"


# --- output -----------------------------------------------------------------------------------


def line(widths: Sequence[int], first: object, *cells: object) -> str:
    """The first column left-aligned, the numbers right-aligned."""
    return " ".join(
        [f"{first!s:<{widths[0]}}", *(f"{c!s:>{w}}" for c, w in zip(cells, widths[1:], strict=True))]
    )


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a small table whose column widths fit its contents."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    print(title)
    header = line(widths, *headers)
    print(header)
    print("-" * len(header))
    for row in rows:
        print(line(widths, *row))
    print()


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def machine(extra: dict[str, Any] | None = None) -> str:
    """The machine, described generically (never a path or a host name)."""
    mem = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            kb = int(next(x for x in f if x.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    os_name = platform.system()
    try:
        release = platform.freedesktop_os_release()
        os_name = release.get("PRETTY_NAME", os_name)
    except OSError:
        pass
    parts = [
        f"{os.cpu_count()} CPUs{mem}",
        f"{os_name} ({platform.machine()})",
        f"Python {platform.python_version()}",
    ]
    parts += [f"{k} {v}" for k, v in (extra or {}).items()]
    return "machine: " + "; ".join(parts) + "\n" + load_note()


def load_note() -> str:
    """The load average: other work on a shared machine stretches wall times."""
    one, five, fifteen = os.getloadavg()
    return f"load average (1/5/15 min): {one:.2f} / {five:.2f} / {fifteen:.2f}"


def server_versions(conn: Any) -> dict[str, str]:
    """PostgreSQL and pgvector versions of an open pg8000 connection."""
    pg = conn.run("SHOW server_version")[0][0].split()[0]
    vec = conn.run("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    return {"PostgreSQL": pg, "pgvector": vec[0][0] if vec else "?"}


# --- the embedded default ----------------------------------------------------------------------


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A throwaway data folder the PostgreSQL user can reach (it runs unprivileged under root);
    the server in it is stopped and the folder removed afterwards."""
    from chalicelib.adapters.localpg import LocalPostgres

    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        LocalPostgres(path).stop()
        shutil.rmtree(path, ignore_errors=True)


def quiet_logs() -> None:
    """Format every log line as in production, but write them nowhere: the cost stays in."""
    from chalicelib import logs

    logs.configure(stream=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


@contextmanager
def embedded_workflow(user: str = "bench-user") -> Iterator[Any]:
    """The embedded default as `make demo` runs it: PostgreSQL + pgvector in a fresh folder,
    SQLite state, the in-process bus, the offline embedder and planner, the sample library."""
    from app import app
    from chalicelib import bootstrap
    from chalicelib.adapters.book_files import read_book_file
    from chalicelib.config import Settings

    quiet_logs()
    with scratch_dir("coursegen-bench-") as data_dir:
        settings = Settings(runtime="local", data_dir=data_dir, local_user=user)
        if os.environ.get("COURSEGEN_SECTIONS", "").strip():  # e.g. sequential, to compare the modes
            settings = replace(settings, sections=os.environ["COURSEGEN_SECTIONS"].strip())
        flow = bootstrap.configure(settings, app)
        books = [read_book_file(path) for path in sorted(SAMPLES.glob("*.json"))]
        flow.deps.library.load(books, flow.deps.embedder)
        try:
            yield flow
        finally:
            flow.deps.publisher.wait_idle(timeout=60)
            flow.deps.publisher.close()
            bootstrap.reset()
