"""Which local processes are alive: the outbox and the PostgreSQL leases name their holder by a
token (pid and start time), so a holder that died, even one whose pid was reused, is told apart."""

from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    """Fields 3 on of /proc/<pid>/stat (state first), or None where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count after its end.
    return stat[stat.rfind(")") + 2 :].split()


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22), or None without /proc."""
    fields = _stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def token(pid: int | None = None) -> str:
    """This process (or `pid`) as '<pid>:<start time>'."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid) or '?'}"


def pid_of(holder: str) -> int | None:
    try:
        return int(holder.split(":", 1)[0])
    except ValueError:
        return None


def is_alive(holder: str) -> bool:
    """Whether the process a token names still runs (the same process, not a later one that got
    its pid). Extra ':'-separated fields after the start time are ignored."""
    parts = holder.split(":")
    pid = pid_of(holder)
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, and another user's
    fields = _stat(pid)
    if fields and fields[0] in ("Z", "X"):
        return False  # killed, and waiting only for its parent to collect its exit status
    started = fields[19] if fields is not None and len(fields) > 19 else None
    recorded = parts[1] if len(parts) > 1 else "?"
    return started is None or recorded == "?" or started == recorded


def command_line(pid: int) -> str:
    """What the process runs, for people reading `coursegen db status`."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    words = [word for word in raw.decode(errors="replace").split("\0") if word]
    if words:
        words[0] = Path(words[0]).name
    return " ".join(words)[:200] or "?"
