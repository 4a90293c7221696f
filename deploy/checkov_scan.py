"""Runs checkov over a Terraform tree and lists the findings nobody justified.

HCL findings are justified by checkov itself (`#checkov:skip=ID:reason` inside the resource).
Checkov ignores skip comments in `.tf.json`, so for the generated Chalice module a failed check
counts as justified when the resource's `"//"` comment holds `checkov:skip=ID:reason`
(deploy/justifications.py writes them). A parsing error is a failure: checkov exits 0 on one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]


@dataclass
class ScanResult:
    passed: int = 0
    parsing_errors: int = 0
    skipped: list[str] = field(default_factory=list)  # "ID resource: reason" (HCL inline skips)
    justified: list[str] = field(default_factory=list)  # "ID resource" (JSON comments)
    unjustified: list[str] = field(default_factory=list)  # "ID resource file: name"


def find_checkov() -> str | None:
    local = PROJECT_DIR / ".venv" / "iac" / "bin" / "checkov"
    return os.environ.get("CHECKOV") or (str(local) if local.exists() else shutil.which("checkov"))


def scan(root: Path, checkov: str) -> ScanResult:
    command = [checkov, "-d", str(root), "--framework", "terraform", "terraform_json"]
    # --skip-download: no call to the vendor's API (offline; it only maps BC_* ids).
    command += ["--skip-download", "--compact", "--output", "json"]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode not in (0, 1):  # 1 means failed checks, which are judged below
        raise RuntimeError(f"checkov exited {run.returncode}: {run.stderr[-2000:]}")
    reports = json.loads(run.stdout)
    return judge(reports if isinstance(reports, list) else [reports], root)


def judge(reports: list[dict[str, Any]], root: Path) -> ScanResult:
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
            where = f"{failed['check_id']} {failed['resource']}"
            if _justified_in_json(failed, root):
                result.justified.append(where)
            else:
                result.unjustified.append(f"{where} {failed['file_path']}: {failed['check_name']}")
    return result


def _justified_in_json(failed: dict[str, Any], root: Path) -> bool:
    path = root / failed["file_path"].lstrip("/")
    if not path.name.endswith(".tf.json"):
        return False
    first, last = failed["file_line_range"]
    lines = path.read_text(encoding="utf-8").splitlines()[first - 1 : last]
    marker = f"checkov:skip={failed['check_id']}:"
    return any(marker in line and len(line.split(marker, 1)[1].strip(' ",')) > 10 for line in lines)
