"""`coursegen library add --summarizer openai` end to end: a made document summarised by the
model on the local test server, the book loaded and the calls and tokens printed; a model that
never answers with JSON leaves the library unchanged, the error naming the chapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.cli import main
from tests.ingest.made import prose
from tests.ingest.summary_model import SummaryModel
from tests.support.llm_fixtures import (
    llm_server_fixture,  # noqa: F401 - provides the llm_server fixture
)
from tests.support.llm_server import LLMServer

pytestmark = pytest.mark.slow


def coursegen(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), *args])


def made_book(path: Path, name: str, chapters: list[str]) -> Path:
    text = f"---\ntitle: {name}\nauthor: A. Maker\n---\n" + "".join(
        f"## Chapter {n}: {chapter}\n\n### {chapter} basics\n\n{' '.join(prose(chapter.lower(), 10))}\n\n"
        for n, chapter in enumerate(chapters, start=1)
    )
    path.write_text(text)
    return path


@pytest.fixture(name="model_env")
def model_env_fixture(llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> LLMServer:
    monkeypatch.setenv("COURSEGEN_OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("COURSEGEN_CHAT_MODEL", "test-chat")
    monkeypatch.setenv("COURSEGEN_LLM_DEADLINE", "10")
    monkeypatch.setenv("COURSEGEN_EMBEDDER", "offline")
    return llm_server


def listing(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert coursegen(data_dir, "library", "list") == 0
    return capsys.readouterr().out.splitlines()


def test_adding_a_document_summarised_by_the_model(
    data_dir: Path, model_env: LLMServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_env.chat_model = model = SummaryModel()
    document = made_book(tmp_path / "seas.md", "Seas Book", ["Tides", "Storms", "Reefs"])
    out = tmp_path / "books"
    code = coursegen(data_dir, "library", "add", str(document), "--summarizer", "openai", "--out", str(out))
    err = capsys.readouterr().err
    assert code == 0, err
    assert model.steps == ["digest", "digest", "digest", "book"]
    assert "seas.md: chapter 3 of 3: Reefs" in err and "added 1 book(s), 3 chapters" in err
    usage = err.strip().splitlines()[-1]
    assert usage.startswith("summarised 3 chapters with the model: 4 calls, ")
    assert usage.endswith("completion tokens")
    (written,) = out.glob("*.json")
    book = json.loads(written.read_text())
    assert book["chapters"][0]["key_concepts"][0] == "tides"
    assert book["summary"].startswith("A book in 3 chapters.")
    assert any("Seas Book" in line and "(3 chapters)" in line for line in listing(data_dir, capsys))


def test_a_model_answer_never_json_leaves_the_library_unchanged(
    data_dir: Path, model_env: LLMServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = listing(data_dir, capsys)
    model_env.chat_model = SummaryModel(prose=True)
    document = made_book(tmp_path / "winds.md", "Winds Book", ["Breezes", "Gales"])
    out = tmp_path / "books"
    code = coursegen(data_dir, "library", "add", str(document), "--summarizer", "openai", "--out", str(out))
    err = capsys.readouterr().err
    assert code == 1
    assert f"coursegen: error: {document}: chapter 'Breezes': the model's answer is not the JSON" in err
    assert "summarised 0 chapters with the model: 2 calls" in err  # what was spent is still said
    assert not out.exists() or not list(out.glob("*.json"))
    assert listing(data_dir, capsys) == before
