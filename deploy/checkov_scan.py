"""Runs stock checkov over a Terraform tree with the project's `.checkov.yaml` and reads its report.

Every accepted finding is skipped by checkov itself: `#checkov:skip=ID:reason` inside an HCL
resource, and for the generated Chalice module (whose JSON carries no skip comments) a skip in
`.checkov.yaml` scoped to that file, with its reason in the comment above it. This module adds
what checkov's exit code does not say: a file it could not parse (checkov exits 0 on one), and
the skips of the config file with their reasons, so tests can hold each one to a reason and a use.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
CONFIG_FILE = PROJECT_DIR / ".checkov.yaml"
_SKIP_ENTRY = re.compile(r"^\s+- (CKV2?_AWS_\d+):(\S+)\s*$")


@dataclass(frozen=True)
class ConfigSkip:
    check_id: str
    path_pattern: str  # a regular expression on the path below the scanned folder
    reason: str


@dataclass
class ScanResult:
    passed: int = 0
    parsing_errors: int = 0
    skipped: list[str] = field(default_factory=list)  # "ID resource: reason" (HCL inline skips)
    failed: list[str] = field(default_factory=list)  # "ID resource file: name"
    failed_checks: list[tuple[str, str]] = field(default_factory=list)  # (ID, file path)


def find_checkov() -> str | None:
    local = PROJECT_DIR / ".venv" / "iac" / "bin" / "checkov"
    return os.environ.get("CHECKOV") or (str(local) if local.exists() else shutil.which("checkov"))


def config_skips(config: Path = CONFIG_FILE) -> list[ConfigSkip]:
    """The path-scoped skips of the config file; each one's reason is the comment block above it."""
    skips: list[ConfigSkip] = []
    comment: list[str] = []
    for line in config.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("# ").strip())
        elif match := _SKIP_ENTRY.match(line):
            skips.append(ConfigSkip(match.group(1), match.group(2), " ".join(comment).strip()))
            comment = []
        else:
            comment = []
    return skips


def scan(root: Path, checkov: str, config: Path | None = CONFIG_FILE) -> ScanResult:
    """checkov on `root`, with the config file (None: without it, to see what its skips hide)."""
    root = root.resolve()
    command = [checkov, "-d", str(root), "--output", "json"]
    if config is not None:
        command += ["--config-file", str(config)]
    else:  # what the config file sets besides its skips
        command += ["--framework", "terraform", "terraform_json", "--skip-download", "--compact"]
    # From the folder itself, so no .checkov.yaml of the working directory is read by accident.
    run = subprocess.run(command, capture_output=True, text=True, check=False, cwd=root)
    if run.returncode not in (0, 1):  # 1 means failed checks, which are reported below
        raise RuntimeError(f"checkov exited {run.returncode}: {run.stderr[-2000:]}")
    reports = json.loads(run.stdout)
    return read_reports(reports if isinstance(reports, list) else [reports])


def read_reports(reports: list[dict[str, Any]]) -> ScanResult:
    result = ScanResult()
    for report in reports:
        summary = report.get("summary", {})
        result.passed += summary.get("passed", 0)
        result.parsing_errors += summary.get("parsing_errors", 0)
        checks = report.get("results", {})
        for skipped in checks.get("skipped_checks", []):
            reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
            result.skipped.append(f"{skipped['check_id']} {skipped['resource']}: {reason}")
        for failed in checks.get("failed_checks", []):
            result.failed.append(
                f"{failed['check_id']} {failed['resource']} {failed['file_path']}: {failed['check_name']}"
            )
            result.failed_checks.append((failed["check_id"], failed["file_path"].lstrip("/")))
    return result
