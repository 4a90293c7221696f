"""The layer rule of docs/architecture.md, checked on the source: the core imports nothing but
the standard library, pydantic, itself and the error types."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "chalicelib" / "core"
CORE_MAY_IMPORT = ("chalicelib.core", "chalicelib.errors", "pydantic", "pydantic_core")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            # the package imports itself relatively (docs/development.md#layout): resolve from core
            base = ["chalicelib", "core"][: 3 - node.level]
            names.add(".".join([*base, *([node.module] if node.module else [])]))
    return names


def is_allowed_in_core(module: str) -> bool:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top == "__future__":
        return True
    return any(module == allowed or module.startswith(allowed + ".") for allowed in CORE_MAY_IMPORT)


def test_the_core_imports_only_the_standard_library_pydantic_itself_and_the_errors() -> None:
    assert len(list(CORE.glob("*.py"))) >= 5  # the path is right: there is a core to check
    offending = {
        f"{path.name}: {module}"
        for path in sorted(CORE.glob("*.py"))
        for module in imported_modules(path)
        if not is_allowed_in_core(module)
    }
    assert not offending, sorted(offending)


def test_the_import_check_would_catch_an_adapter_or_a_cloud_client() -> None:
    assert not is_allowed_in_core("chalicelib.adapters.pg")
    assert not is_allowed_in_core("boto3")
    assert not is_allowed_in_core("chalicelib.workflow")
    assert is_allowed_in_core("chalicelib.core.models")


def test_relative_imports_resolve_from_the_core(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("from .models import X\nfrom ..adapters import pg\nfrom .. import errors\n")
    assert imported_modules(source) == {"chalicelib.core.models", "chalicelib.adapters", "chalicelib"}
