"""Stock checkov with .checkov.yaml over terraform/, both environments' generated modules in place:
no failed check, and every skip carries a reason and still hides a finding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deploy.checkov_scan import ScanResult, config_skips, find_checkov, scan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checkov() -> str:
    found = find_checkov()
    if found is None:
        pytest.fail("checkov not found: run `make iac-setup` (installs requirements-iac.txt into .venv/iac)")
    return found


@pytest.fixture(scope="module")
def result(assembled: Path, checkov: str) -> ScanResult:
    return scan(assembled, checkov)


@pytest.fixture(scope="module")
def without_config(assembled: Path, checkov: str) -> ScanResult:
    return scan(assembled, checkov, config=None)


def test_checkov_parses_every_file_and_checks_something(result: ScanResult) -> None:
    # checkov exits 0 on a syntax error; only the summary says a file was not scanned.
    assert result.parsing_errors == 0
    assert result.passed > 150


def test_stock_checkov_with_the_config_file_finds_nothing(result: ScanResult) -> None:
    assert result.failed == []


def test_every_skip_of_the_config_file_gives_a_reason_and_names_the_generated_module_only() -> None:
    skips = config_skips()
    assert len(skips) >= 10
    for skip in skips:
        assert len(skip.reason) > 60, skip.check_id
        assert skip.path_pattern == r"environments/[a-z0-9]+/app/chalice\.tf\.json", skip.check_id
    assert len({skip.check_id for skip in skips}) == len(skips)


def test_every_skip_of_the_config_file_still_hides_a_finding_of_each_environment(
    without_config: ScanResult,
) -> None:
    hidden = {
        check
        for check, path in without_config.failed_checks
        if any(re.fullmatch(skip.path_pattern, path) for skip in config_skips() if skip.check_id == check)
    }
    assert hidden == {skip.check_id for skip in config_skips()}, (
        "a skip whose check no longer fails should go"
    )
    generated = {path for _, path in without_config.failed_checks if path.endswith("chalice.tf.json")}
    assert generated == {"environments/dev/app/chalice.tf.json", "environments/prod/app/chalice.tf.json"}


def test_without_the_config_only_the_generated_module_fails(without_config: ScanResult) -> None:
    # Our HCL justifies its findings inline; only the JSON module relies on the config file.
    assert {path for _, path in without_config.failed_checks} == {
        "environments/dev/app/chalice.tf.json",
        "environments/prod/app/chalice.tf.json",
    }


def test_every_inline_skip_in_the_modules_gives_a_reason_and_is_still_needed(
    result: ScanResult, assembled: Path
) -> None:
    written = {
        match.group(1)
        for path in assembled.rglob("*.tf")
        for match in re.finditer(r"#checkov:skip=(CKV2?_AWS_\d+):\S", path.read_text(encoding="utf-8"))
    }
    used = {entry.split()[0] for entry in result.skipped}
    assert written == used, "a #checkov:skip whose check no longer fails should go"
    assert all(len(entry.split(": ", 1)[1]) > 20 for entry in result.skipped)
