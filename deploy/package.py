"""Packages the app with Chalice and writes the post-processed child module that an environment
under terraform/environments/ uses as `module "app" { source = "./app" }`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from deploy.postprocess import Options, expected_rules, postprocess

PROJECT_DIR = Path(__file__).resolve().parents[1]
MODULE_FILE = "chalice.tf.json"
ZIP_FILE = "deployment.zip"
VERSIONS_FILE = "versions.tf"


def chalice_package(stage: str, out_dir: Path, project_dir: Path = PROJECT_DIR) -> Path:
    """Run `chalice package --pkg-format terraform` into `out_dir` (replaced if present)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    chalice = Path(sys.executable).with_name("chalice")
    # Chalice needs a region to render ARNs, never credentials; any region works for packaging.
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"}
    subprocess.run(
        [str(chalice), "package", "--pkg-format", "terraform", "--stage", stage, str(out_dir)],
        cwd=project_dir,
        env=env,
        check=True,
    )
    return out_dir


def app_name(project_dir: Path = PROJECT_DIR) -> str:
    config = json.loads((project_dir / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return str(config["app_name"])


def assemble(raw_dir: Path, module_dir: Path, options: Options, app: Any | None = None) -> Path:
    """Write the rewritten module and the deployment zip into `module_dir`."""
    doc = json.loads((raw_dir / MODULE_FILE).read_text(encoding="utf-8"))
    rewritten = postprocess(doc, options, expected_rules(app))
    module_dir.mkdir(parents=True, exist_ok=True)
    # The version constraints go to versions.tf, as in our modules; checkov's terraform_json
    # parser also fails on a `terraform` block in JSON, which would hide the whole file from it.
    (module_dir / VERSIONS_FILE).write_text(versions_tf(rewritten.pop("terraform")), encoding="utf-8")
    (module_dir / MODULE_FILE).write_text(json.dumps(rewritten, indent=2) + "\n", encoding="utf-8")
    shutil.copy2(raw_dir / ZIP_FILE, module_dir / ZIP_FILE)
    return module_dir


def versions_tf(block: dict[str, Any]) -> str:
    """The `terraform` block of the rewritten module as HCL (in `terraform fmt` layout)."""
    providers = "".join(
        f'    {name} = {{\n      source  = "{spec["source"]}"\n      version = "{spec["version"]}"\n    }}\n'
        for name, spec in block["required_providers"].items()
    )
    return (
        "# Written by `python -m deploy package` (deploy/postprocess.py): Chalice pins Terraform < 1.4\n"
        "# and the AWS provider < 5; these are the minimums the rewritten module needs.\n"
        "terraform {\n"
        f'  required_version = "{block["required_version"]}"\n\n'
        f"  required_providers {{\n{providers}  }}\n"
        "}\n"
    )


def load_app(project_dir: Path = PROJECT_DIR) -> Any:
    """The Chalice app object of app.py, to check its handlers against the generated rules."""
    sys.path.insert(0, str(project_dir))
    from app import app

    return app
