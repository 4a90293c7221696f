"""Packages the app with Chalice and writes the post-processed child module that an environment
under terraform/environments/ uses as `module "app" { source = "./app" }`."""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from deploy.postprocess import READERS_LAYER_FILE, Options, expected_rules, postprocess

PROJECT_DIR = Path(__file__).resolve().parents[1]
MODULE_FILE = "chalice.tf.json"
ZIP_FILE = "deployment.zip"
VERSIONS_FILE = "versions.tf"
# The document readers the ingestion function needs and no other function does: a Lambda layer of
# that function only (deploy/postprocess.py), so the other functions' package stays small.
LAYER_FILE = READERS_LAYER_FILE
READERS_REQUIREMENTS = PROJECT_DIR / "requirements-ingest.txt"
LAYER_CACHE = PROJECT_DIR / "build" / "layers"
LAMBDA_ABI = "cp311"  # the functions' runtime, python3.11 (.chalice/config.json via Chalice)
# Lambda's python3.11 runs on Amazon Linux 2 (glibc 2.26): numpy 2.3 and later ship x86_64 wheels
# for glibc 2.28 only, so the layer takes the last numpy built for manylinux2014 (glibc 2.17).
LAYER_PINS = ("numpy==2.2.6",)


class PackageError(Exception):
    """The deployment package could not be built; the message says what is missing."""


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
    add_bytecode(out_dir / ZIP_FILE)
    return out_dir


def build_readers_layer(
    requirements: Path = READERS_REQUIREMENTS, cache: Path = LAYER_CACHE, abi: str = LAMBDA_ABI
) -> Path:
    """The layer zip of `requirements` (python/<packages>, bytecode included) for Lambda's
    runtime, built with Chalice's own dependency builder (Lambda-compatible wheels, pure-Python
    sources built here); kept in `cache` by the requirements' digest, so a rebuild downloads
    nothing."""
    import hashlib

    from chalice.deploy.packager import DependencyBuilder, MissingDependencyError
    from chalice.utils import OSUtils

    wanted = requirements.read_text(encoding="utf-8") + "".join(f"{pin}\n" for pin in LAYER_PINS)
    digest = hashlib.sha256((wanted + abi).encode()).hexdigest()[:16]
    layer = cache / f"readers-{digest}.zip"
    if layer.exists():
        return layer
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "python"
        site.mkdir()
        pinned = Path(folder) / "requirements.txt"
        pinned.write_text(wanted, encoding="utf-8")
        try:
            DependencyBuilder(OSUtils()).build_site_packages(abi, str(pinned), str(site))
        except MissingDependencyError as error:
            missing = ", ".join(sorted(package.identifier for package in error.missing))
            raise PackageError(f"no Lambda-compatible build of: {missing} ({requirements.name})") from None
        building = layer.with_name(layer.stem + ".building.zip")
        with zipfile.ZipFile(building, "w", zipfile.ZIP_DEFLATED) as out:
            for path in sorted(site.rglob("*")):
                if path.is_file():
                    name = path.relative_to(folder).as_posix()
                    out.write(path, arcname=name)
        add_bytecode(building)  # compiled in, and rewritten in a reproducible order
        building.replace(layer)
    return layer


def add_bytecode(zip_path: Path) -> None:
    """Compile every module into the zip. Lambda's code folder is read-only, so without bytecode
    each cold start compiles pydantic, chalice and chalicelib from source, which more than
    doubles the import of app.py (bench/RESULTS.md, "Cold start"). Unchecked-hash .pyc files
    need no source timestamps."""
    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(zip_path) as archive:
            modes = {info.filename: info.external_attr for info in archive.infolist()}
            archive.extractall(folder)
        compileall.compile_dir(
            folder, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
        rewritten = zip_path.with_suffix(".tmp")
        with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as out:
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file():
                    name = path.relative_to(folder).as_posix()
                    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible
                    info.external_attr = modes.get(name, 0o100644 << 16)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    out.writestr(info, path.read_bytes())
        rewritten.replace(zip_path)


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
    without_shared(build_readers_layer(), raw_dir / ZIP_FILE, module_dir / LAYER_FILE)
    return module_dir


def _dist_name(record: str) -> str | None:
    """The normalised distribution name of a `<name>-<version>.dist-info/RECORD` path."""
    folder, _, leaf = record.rpartition("/")
    if leaf != "RECORD" or not folder.endswith(".dist-info") or "/" in folder:
        return None
    return re.sub(r"[-_.]+", "-", folder.removesuffix(".dist-info").rsplit("-", 1)[0]).lower()


def without_shared(layer: Path, app_zip: Path, dest: Path) -> Path:
    """Copy `layer` to `dest` without the distributions the app's zip already holds (pydantic,
    which WordLlama also requires): the function's own code folder comes first on sys.path, so
    the layer's copy would never be imported."""
    with zipfile.ZipFile(app_zip) as app:
        shared = {name for name in map(_dist_name, app.namelist()) if name}
    with zipfile.ZipFile(layer) as source, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        tops: set[str] = set()  # the top-level files and folders of the shared distributions
        for entry in source.namelist():
            if _dist_name(entry.removeprefix("python/")) in shared:
                tops.add(entry.removeprefix("python/").split("/")[0])
                for line in source.read(entry).decode().splitlines():
                    if line and not line.startswith(".."):
                        tops.add(line.split(",")[0].split("/")[0])
        for info in source.infolist():
            parts = info.filename.removeprefix("python/").split("/")
            top = parts[0]
            if top == "__pycache__" and len(parts) == 2:  # bytecode of a top-level module
                top = parts[1].split(".")[0] + ".py"
            if top not in tops:
                out.writestr(info, source.read(info))
    return dest


def versions_tf(block: dict[str, Any]) -> str:
    """The `terraform` block of the rewritten module as HCL (in `terraform fmt` layout)."""
    providers = "".join(
        f'    {name} = {{\n      source  = "{spec["source"]}"\n      version = "{spec["version"]}"\n    }}\n'
        for name, spec in block["required_providers"].items()
    )
    return (
        "# Written by `python -m deploy package` (deploy/postprocess.py): Chalice pins Terraform < 1.4\n"
        "# and the AWS provider < 5; the rewritten module needs Terraform 1.3 and AWS provider 5.\n"
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
