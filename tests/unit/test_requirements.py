"""pyproject.toml declares every dependency, pinned exactly; requirements.txt, what `chalice
package` puts into the Lambda zip, is derived from it and must not drift; and every library the
package imports is declared."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from deploy.requirements import (
    INGEST_REQUIREMENTS,
    PYPROJECT,
    REQUIREMENTS,
    RequirementsError,
    declared,
    main,
    name_of,
    render,
    render_ingest,
)

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "chalicelib"


def pyproject() -> dict[str, object]:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def test_the_committed_requirements_txt_is_what_pyproject_declares() -> None:
    assert REQUIREMENTS.read_text(encoding="utf-8") == render(pyproject()), "run `make requirements`"


def test_the_committed_requirements_ingest_txt_is_the_ingest_extra() -> None:
    assert INGEST_REQUIREMENTS.read_text(encoding="utf-8") == render_ingest(pyproject()), (
        "run `make requirements`"
    )
    readers = {
        name_of(line) for line in INGEST_REQUIREMENTS.read_text().splitlines() if not line.startswith("#")
    }
    assert readers >= {"pypdfium2", "lxml", "markdown-it-py", "yake", "wordllama"}
    assert not readers & {name_of(req) for req in declared(pyproject())[""]}  # none already in the zip


def test_an_extra_naming_another_holds_its_requirements_and_a_bad_reference_is_refused() -> None:
    extras = {"ingest": ["lxml==6.1.3"], "local": ["coursegen[ingest]", "moto==5.2.5"]}
    project: dict[str, Any] = {"optional-dependencies": extras}
    assert declared({"project": project})["local"] == ["lxml==6.1.3", "moto==5.2.5"]
    assert declared({"project": project})["ingest"] == ["lxml==6.1.3"]
    extras["local"] = ["coursegen[nothing]"]
    with pytest.raises(RequirementsError, match="coursegen\\[nothing\\]"):
        declared({"project": project})


def test_the_lambda_zip_gets_the_runtime_dependencies_less_chalice_and_no_extra() -> None:
    lines = [line for line in render(pyproject()).splitlines() if not line.startswith("#")]
    assert [name_of(line) for line in lines] == ["pydantic", "pg8000", "openai"]
    assert "chalice" in {name_of(req) for req in declared(pyproject())[""]}  # the CLI needs it


def test_every_dependency_of_every_group_is_pinned_exactly() -> None:
    groups = declared(pyproject())
    assert set(groups) == {"", "local", "ingest", "aws", "dev", "bench"}
    assert all(re.search(r"==\d", req) for reqs in groups.values() for req in reqs)


@pytest.mark.parametrize("requirement", ["pydantic>=2", "pydantic", "pydantic==2.*", "pydantic~=2.14"])
def test_a_loose_pin_is_refused_naming_it(requirement: str) -> None:
    with pytest.raises(RequirementsError, match=re.escape(repr(requirement))):
        render({"project": {"dependencies": [requirement]}})


def test_check_fails_on_a_drifted_file_and_the_rewrite_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml, out = tmp_path / "pyproject.toml", tmp_path / "requirements.txt"
    toml.write_text('[project]\ndependencies = ["chalice==1.0", "pydantic==2.0"]\n', encoding="utf-8")
    out.write_text("pydantic==1.0\n", encoding="utf-8")
    paths = ["--pyproject", str(toml), "--out", str(out)]
    assert main(["--check", *paths]) == 1
    assert "make requirements" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "pydantic==1.0\n"  # --check writes nothing
    assert main(paths) == 0
    assert out.read_text(encoding="utf-8").splitlines()[-1] == "pydantic==2.0"
    assert main(["--check", *paths]) == 0
    assert not list(tmp_path.glob(".*partial"))


def imported_libraries() -> set[str]:
    """The top-level modules outside the standard library that the package imports anywhere."""
    found: set[str] = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "chalicelib"}


def closure(names: set[str]) -> set[str]:
    """The distributions `names` install: themselves and what they require, transitively."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:  # required on another platform only (a marker)
            continue
        seen.add(name)
        for requirement in requires:
            if "extra ==" not in requirement:
                todo.append(re.sub(r"[-_.]+", "-", re.split(r"[ ;<>=!~\[(]", requirement)[0]).lower())
    return seen


def test_every_library_the_package_imports_comes_with_its_dependencies_or_extras() -> None:
    groups = declared(pyproject())
    installed = closure({name_of(req) for group in ("", "local", "aws") for req in groups[group]})
    providers = metadata.packages_distributions()
    missing = {
        module: providers.get(module)
        for module in imported_libraries()
        if not {re.sub(r"[-_.]+", "-", dist).lower() for dist in providers.get(module, [])} & installed
    }
    assert not missing, f"imported, but in no dependency group but dev/bench: {missing}"
