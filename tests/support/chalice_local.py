"""`chalice local` as a real process on a free loopback port, as `make serve` runs it: the tests
that need the app served over HTTP (the page, crash recovery, the plain routes) start it here."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_env(data_dir: Path) -> dict[str, str]:
    """This environment without any COURSEGEN_ setting, on `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEGEN_")}
    return {**env, "COURSEGEN_DATA_DIR": str(data_dir)}


class ChaliceLocal:
    """`chalice local` serving `data_dir`, listening once the constructor returns; its stderr goes
    to a log file in the data dir, shown when it dies before it listens."""

    def __init__(self, data_dir: Path, start_within: float = 60.0) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"chalice-{self.port}.log"
        with open(self.log, "wb") as log:
            chalice = str(Path(sys.executable).with_name("chalice"))
            self.process = subprocess.Popen(
                [chalice, "local", "--stage", "local", "--no-autoreload", "--port", str(self.port)],
                cwd=ROOT,
                env=run_env(data_dir),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + start_within
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                assert self.process.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "chalice local did not listen"
                time.sleep(0.05)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """One request; the status and the JSON answer, errors included."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        self.process.send_signal(how)
        self.process.wait(timeout=60)
