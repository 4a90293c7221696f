"""terraform fmt and validate, offline, and the house layout of every module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .support import STAGE, TERRAFORM_DIR, Terraform

MODULES = sorted(path for path in (TERRAFORM_DIR / "modules").iterdir() if path.is_dir())
BLOCK = re.compile(r'^(variable|output) "([a-z0-9_]+)" \{\n(.*?)^\}', re.MULTILINE | re.DOTALL)


def test_every_terraform_file_is_formatted(terraform: Terraform) -> None:
    terraform.run(TERRAFORM_DIR, "fmt", "-check", "-recursive", "-diff", "-no-color")


@pytest.mark.slow
def test_the_dev_environment_and_every_module_it_composes_are_valid(
    terraform: Terraform, initialized: Path
) -> None:
    # `validate` checks the whole configuration tree: the environment, the post-processed Chalice
    # module and each module under terraform/modules (the next test makes sure dev calls them all).
    output = terraform.run(initialized / "environments" / STAGE, "validate", "-no-color")
    assert "Success" in output
    assert "Warning" not in output, output


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
    assert re.search(r'version\s*=\s*">= 5\.\d+"', versions), "minimum provider versions, not pins"


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
