"""Helpers shared by the deployment tests and their fixtures."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.package import PROJECT_DIR

STAGE = "dev"
PROD_STAGE = "prod"
ENVIRONMENTS = (STAGE, PROD_STAGE)
TERRAFORM_DIR = PROJECT_DIR / "terraform"


@dataclass(frozen=True)
class Terraform:
    binary: str
    env: dict[str, str]

    def run(self, directory: Path, *args: str) -> str:
        command = [self.binary, f"-chdir={directory}", *args]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, (
            f"terraform {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
        return done.stdout


def names(items: Sequence[dict[str, Any]], key: str = "Name") -> set[str]:
    return {item[key] for item in items}
