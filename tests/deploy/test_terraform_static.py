"""terraform fmt and validate, offline, and the house layout of every module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .support import ENVIRONMENTS, PROD_STAGE, STAGE, TERRAFORM_DIR, Terraform

MODULES = sorted(path for path in (TERRAFORM_DIR / "modules").iterdir() if path.is_dir())
BLOCK = re.compile(r'^(variable|output) "([a-z0-9_]+)" \{\n(.*?)^\}', re.MULTILINE | re.DOTALL)


def blocks_named(text: str, name: str) -> list[str]:
    return [body for _, found, body in BLOCK.findall(text) if found == name]


def test_every_terraform_file_is_formatted(terraform: Terraform) -> None:
    terraform.run(TERRAFORM_DIR, "fmt", "-check", "-recursive", "-diff", "-no-color")


@pytest.mark.slow
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_and_every_module_it_composes_are_valid(
    terraform: Terraform, initialized: Path, environment: str
) -> None:
    # `validate` checks the whole configuration tree: the environment, the post-processed Chalice
    # module and each module under terraform/modules (the next test makes sure dev calls them all).
    # `initialized` ran `init -lockfile=readonly`: the committed lock file matches the constraints.
    output = terraform.run(initialized / "environments" / environment, "validate", "-no-color")
    assert "Success" in output
    assert "Warning" not in output, output


def test_prod_composes_what_dev_composes_with_its_own_defaults() -> None:
    dev, prod = TERRAFORM_DIR / "environments" / STAGE, TERRAFORM_DIR / "environments" / PROD_STAGE
    for shared in ("main.tf", "outputs.tf", "versions.tf"):
        assert (prod / shared).read_text(encoding="utf-8") == (dev / shared).read_text(encoding="utf-8")
    variables = (prod / "variables.tf").read_text(encoding="utf-8")
    assert 'default     = "prod"' in variables
    for setting in (
        "deletion_protection   = optional(bool, true)",
        "skip_final_snapshot   = optional(bool, false)",
        "min_capacity          = optional(number, 1)",
        "max_capacity          = optional(number, 8)",
    ):
        assert setting in variables
    [alarm_email] = blocks_named(variables, "alarm_email")
    assert "default" not in alarm_email, "prod alarms must reach someone: no default address"


def test_the_lock_files_pin_one_provider_version_within_the_constraints() -> None:
    locks = [(TERRAFORM_DIR / "environments" / e / ".terraform.lock.hcl").read_text() for e in ENVIRONMENTS]
    assert locks[0] == locks[1]
    [version] = re.findall(r'version\s+= "(5\.\d+\.\d+)"', locks[0])
    assert int(version.split(".")[1]) >= 100  # environments require ~> 5.100
    assert re.search(r'"h1:[A-Za-z0-9+/=]{40,}"', locks[0])
    ignored = (TERRAFORM_DIR / ".gitignore").read_text(encoding="utf-8")
    assert ".terraform.lock.hcl" not in [line.strip() for line in ignored.splitlines()]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_has_an_s3_backend_example_with_the_native_lock_file(environment: str) -> None:
    example = (TERRAFORM_DIR / "environments" / environment / "backend.tf.example").read_text()
    assert 'backend "s3"' in example and "use_lockfile = true" in example
    assert f'key          = "coursegen/{environment}/terraform.tfstate"' in example
    assert "dynamodb_table" not in example


def test_the_dev_environment_composes_every_module() -> None:
    main = (TERRAFORM_DIR / "environments" / STAGE / "main.tf").read_text(encoding="utf-8")
    used = set(re.findall(r'source\s*=\s*"\.\./\.\./modules/([a-z0-9-]+)"', main))
    assert used == {module.name for module in MODULES}
    assert 'source = "./app"' in main


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_a_module_has_the_four_files_and_a_readme(module: Path) -> None:
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} <= {
        p.name for p in module.iterdir()
    }
    versions = (module / "versions.tf").read_text(encoding="utf-8")
    assert re.search(r'version\s*=\s*"~> 5\.\d+"', versions), "provider 5.x from a minimum, never 6"


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_every_input_is_typed_and_described_and_every_output_described(module: Path) -> None:
    variables = BLOCK.findall((module / "variables.tf").read_text(encoding="utf-8"))
    outputs = BLOCK.findall((module / "outputs.tf").read_text(encoding="utf-8"))
    assert variables and outputs
    for kind, name, body in variables:
        assert "description" in body and re.search(r"^\s+type\s+=", body, re.MULTILINE), f"{kind} {name}"
        assert " any" not in body, f"{kind} {name}: use a typed object, not any"
    for kind, name, body in outputs:
        assert "description" in body, f"{kind} {name}"
    assert any("validation" in body for _, _, body in variables), "validate names and enums"
