"""The assembled module directory and the offline Terraform setup."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from deploy.aurora import password_from_secret
from deploy.package import without_shared
from deploy.terraform_cli import TerraformSetupError, cli_config, find_mirror
from tests.ingest.made import pdf_bytes, prose

from .support import STAGE


def test_the_assembled_module_holds_the_rewritten_json_its_versions_and_the_zip(assembled: Path) -> None:
    app = assembled / "environments" / STAGE / "app"
    assert sorted(p.name for p in app.iterdir()) == [
        "chalice.tf.json",
        "deployment.zip",
        "readers-layer.zip",
        "versions.tf",
    ]
    module = json.loads((app / "chalice.tf.json").read_text(encoding="utf-8"))
    assert "terraform" not in module  # in versions.tf, where checkov's JSON parser does not choke on it
    versions = (app / "versions.tf").read_text(encoding="utf-8")
    assert 'required_version = ">= 1.3.0"' in versions and 'version = "~> 5.0"' in versions


def test_a_missing_mirror_fails_with_a_message_saying_how_to_make_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TF_PLUGIN_MIRROR", str(tmp_path / "nothing-here"))
    with pytest.raises(TerraformSetupError, match="terraform providers mirror"):
        find_mirror()


def test_the_cli_config_installs_hashicorp_providers_from_the_mirror_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0").mkdir(parents=True)
    monkeypatch.setenv("TF_PLUGIN_MIRROR", str(tmp_path))
    config = cli_config(find_mirror())
    assert f'path    = "{tmp_path}"' in config
    assert 'exclude = ["registry.terraform.io/hashicorp/*"]' in config  # never the registry


@pytest.mark.usefixtures("aws_credentials")
def test_the_aurora_migration_reads_the_password_from_the_rds_managed_secret() -> None:
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="rds!cluster-1", SecretString='{"username": "u", "password": "p w"}')[
            "ARN"
        ]
        assert password_from_secret(arn, client) == "p w"


def test_the_zip_carries_bytecode_so_a_cold_start_compiles_nothing(chalice_output: Path) -> None:
    with zipfile.ZipFile(chalice_output / "deployment.zip") as archive:
        names = set(archive.namelist())
    tag = sys.implementation.cache_tag
    for module in ("app", "chalicelib/workflow", "chalicelib/core/models", "pydantic/main"):
        folder, _, name = module.rpartition("/")
        source = f"{module}.py"
        compiled = f"{folder + '/' if folder else ''}__pycache__/{name}.{tag}.pyc"
        assert source in names and compiled in names, compiled


def test_the_document_readers_are_in_the_ingestion_layer_and_not_in_the_zip_every_function_shares(
    assembled: Path,
) -> None:
    app = assembled / "environments" / STAGE / "app"
    readers = ("pypdfium2", "lxml", "markdown_it", "yake", "wordllama", "numpy")
    with zipfile.ZipFile(app / "readers-layer.zip") as archive:
        layer = {name.split("/")[1] for name in archive.namelist() if name.startswith("python/")}
        compiled = [name for name in archive.namelist() if name.endswith(".pyc")]
    assert set(readers) <= layer and compiled  # under python/, where Lambda puts layers on sys.path
    assert "pydantic" not in layer  # WordLlama requires it, but the function's own zip holds it
    with zipfile.ZipFile(app / "deployment.zip") as archive:
        shared = {name.split("/")[0] for name in archive.namelist()}
    assert not shared & set(readers)
    assert "chalicelib" in shared  # the readers' code itself is the app's


def test_the_layer_leaves_out_what_the_app_zip_holds_already(tmp_path: Path) -> None:
    def made(path: Path, files: dict[str, str]) -> Path:
        with zipfile.ZipFile(path, "w") as archive:
            for name, text in files.items():
                archive.writestr(name, text)
        return path

    app = made(tmp_path / "app.zip", {"typing_extensions-4.0.dist-info/RECORD": "typing_extensions.py,,\n"})
    layer = made(
        tmp_path / "layer.zip",
        {
            "python/typing_extensions.py": "",
            "python/__pycache__/typing_extensions.cpython-311.pyc": "",
            "python/typing_extensions-4.1.dist-info/RECORD": "typing_extensions.py,,\n",
            "python/numpy/__init__.py": "",
            "python/numpy-2.0.dist-info/RECORD": "numpy/__init__.py,,\n",
        },
    )
    with zipfile.ZipFile(without_shared(layer, app, tmp_path / "out.zip")) as out:
        assert sorted(out.namelist()) == ["python/numpy-2.0.dist-info/RECORD", "python/numpy/__init__.py"]


@pytest.mark.slow  # unpacks 220 MB and loads WordLlama in a fresh interpreter
def test_the_ingestion_function_reads_a_document_with_its_zip_and_layer_alone(
    assembled: Path, tmp_path: Path
) -> None:
    """What Lambda gives the function: its code folder (the shared zip) and /opt/python (the
    layer), no site-packages: the readers the pipeline imports must all be in the two."""
    app = assembled / "environments" / STAGE / "app"
    code, opt = tmp_path / "task", tmp_path / "opt"
    with zipfile.ZipFile(app / "deployment.zip") as archive:
        archive.extractall(code)
    with zipfile.ZipFile(app / "readers-layer.zip") as archive:
        archive.extractall(opt)
    document = tmp_path / "sea.md"
    chapters = "".join(f"## {name}\n\n{' '.join(prose(name))}\n\n" for name in ("Waves", "Winds"))
    document.write_text(f"# Sea Book\n\n{chapters}", encoding="utf-8")
    pdf = tmp_path / "one.pdf"
    pdf.write_bytes(pdf_bytes([[(20, "Tides"), *[(11, line) for line in prose("tide")]]]))
    probe = (
        "import sys, json; sys.path[:0] = sys.argv[1:3]\n"
        "from chalicelib.ingest import ingest, read_document\n"
        "book = ingest(sys.argv[3])\n"
        "pages = read_document(__import__('pathlib').Path(sys.argv[4]))\n"
        "outside = [m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None)"
        " and 'site-packages' in m.__file__]\n"
        "print(json.dumps({'chapters': len(book.chapters), 'pdf_parts': len(pages.chapters),"
        " 'outside': outside}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(code), str(opt / "python"), str(document), str(pdf)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # not the checkout: nothing of it may be imported
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["chapters"] == 2 and found["pdf_parts"] >= 1
    assert found["outside"] == []  # nothing came from the machine's own packages
