"""Fixtures of the deployment tests: the app packaged by Chalice once per session, the Terraform
tree assembled around it in a temporary folder, offline Terraform, and the apply against moto.

Missing tools fail these tests instead of skipping them, so CI cannot pass without running them:
Terraform (or $TERRAFORM), a filesystem mirror of hashicorp/aws (or $TF_PLUGIN_MIRROR, see
deploy/terraform_cli.py) and checkov in .venv/iac (`make iac-setup`, or $CHECKOV).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.package import MODULE_FILE, app_name, assemble, chalice_package, load_app
from deploy.postprocess import Options
from deploy.terraform_cli import TerraformSetupError, find_terraform, offline_env

from .moto_apply import MotoApply
from .support import ENVIRONMENTS, PROD_STAGE, STAGE, TERRAFORM_DIR, Terraform

APPLY_TESTS = "test_apply_moto.py"
_apply_selected = False


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.deploy)  # called for the items of this folder only


@pytest.hookimpl(trylast=True)  # after -m and -k deselected theirs: a deselected apply never starts
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The apply against moto starts in the background with the first deployment test (see
    # moto_apply.py); its tests run last, so every other test runs while Terraform waits.
    global _apply_selected
    apply = [item for item in items if item.path.name == APPLY_TESTS]
    _apply_selected = bool(apply)
    items[:] = [item for item in items if item.path.name != APPLY_TESTS] + apply


@pytest.fixture(scope="session")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    try:
        return Terraform(find_terraform(), offline_env(tmp_path_factory.mktemp("tf") / "terraformrc"))
    except TerraformSetupError as error:
        pytest.fail(f"deployment tests need Terraform and its provider offline: {error}")


@pytest.fixture(scope="session")
def chalice_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`chalice package --pkg-format terraform --stage dev` of this app, as Chalice wrote it."""
    return chalice_package(STAGE, tmp_path_factory.mktemp("chalice") / "out")


@pytest.fixture(scope="session")
def options() -> Options:
    return Options(app_name(), STAGE)


@pytest.fixture
def raw_module(chalice_output: Path) -> dict[str, Any]:
    """A fresh copy of Chalice's Terraform JSON for each test to rewrite or break."""
    module: dict[str, Any] = json.loads((chalice_output / MODULE_FILE).read_text(encoding="utf-8"))
    return module


@pytest.fixture(scope="session")
def assembled(tmp_path_factory: pytest.TempPathFactory, chalice_output: Path, options: Options) -> Path:
    """A copy of terraform/ (lock files included) with the post-processed app of its stage in
    environments/dev/app and environments/prod/app."""
    root = tmp_path_factory.mktemp("assembled") / "terraform"
    shutil.copytree(TERRAFORM_DIR, root, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "app"))
    app = load_app()
    assemble(chalice_output, root / "environments" / STAGE / "app", options, app)
    prod = chalice_package(PROD_STAGE, tmp_path_factory.mktemp("chalice-prod") / "out")
    assemble(prod, root / "environments" / PROD_STAGE / "app", Options(app_name(), PROD_STAGE), app)
    return root


@pytest.fixture(scope="session")
def initialized(assembled: Path, terraform: Terraform) -> Path:
    """The assembled tree with every environment initialised from the mirror (no backend); the
    provider must match the committed lock file."""
    for stage in ENVIRONMENTS:
        terraform.run(
            assembled / "environments" / stage, "init", "-backend=false", "-lockfile=readonly", "-no-color"
        )
    return assembled


@pytest.fixture(scope="session")
def moto_apply(
    initialized: Path, terraform: Terraform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MotoApply]:
    job = MotoApply(initialized, terraform, tmp_path_factory.mktemp("apply"))
    yield job
    job.close()


@pytest.fixture(scope="session", autouse=True)
def _start_the_apply_early(request: pytest.FixtureRequest) -> None:
    if _apply_selected:
        request.getfixturevalue("moto_apply")
