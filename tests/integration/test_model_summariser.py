"""The model summariser through the real `openai` client and the local test server: one call for
a short chapter, map then reduce for a long one, token totals, answers fitted to the book-file
limits, retries of throttling and server errors, and a clear error for an answer without JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai  # noqa: F401 - imported at collection, so that no test pays for the import
import pytest

from chalicelib.adapters.book_files import parse_book
from chalicelib.adapters.openai_client import Deadline
from chalicelib.cli import main
from chalicelib.config import ConfigError, OpenAIConfig, Settings
from chalicelib.errors import PermanentFailure, TransientError
from chalicelib.ingest import DocumentError, ingest
from chalicelib.ingest.model_summary import (
    OpenAISummariser,
    SummaryUsage,
    chunks,
    clip,
    fit_digest,
)
from chalicelib.ingest.summarise import (
    ITEM_MAX_CHARS,
    MAX_KEY_CONCEPTS,
    MAX_TOPICS,
    SUMMARY_MAX_CHARS,
    OfflineSummariser,
    summariser_for,
)
from tests.ingest.made import prose
from tests.ingest.summary_model import SummaryModel, material_of, step_of
from tests.support.llm_fixtures import (
    fast_config,
    llm_server_fixture,  # noqa: F401 - provides the llm_server fixture
)
from tests.support.llm_server import (
    LLMServer,
    Reply,
    count_tokens,
    error,
    rate_limited,
    server_error,
    truncated,
)

CHUNK_TOKENS = 300  # 1,200 characters: a few sentences of prose() make a long chapter


def markdown_book(path: Path, chapters: dict[str, int]) -> Path:
    """A Markdown book whose chapters (name -> sentences of prose) each have one sub-heading."""
    text = "# Made Book\n\n" + "".join(
        f"## Chapter {n}: {name}\n\n### {name} basics\n\n{' '.join(prose(name.lower(), count))}\n\n"
        for n, (name, count) in enumerate(chapters.items(), start=1)
    )
    path.write_text(text)
    return path


def summariser(server: LLMServer, model: SummaryModel | None = None, **config: object) -> OpenAISummariser:
    server.chat_model = model or SummaryModel()
    return OpenAISummariser(fast_config(server, **config), chunk_tokens=CHUNK_TOKENS)


def chapter_text(name: str, sentences: int) -> str:
    return " ".join(prose(name, sentences))


# --- the steps and their calls ------------------------------------------------------------------


def test_short_chapters_take_one_call_each_and_the_book_one_more(
    llm_server: LLMServer, tmp_path: Path
) -> None:
    model = SummaryModel()
    model_summariser = summariser(llm_server, model)
    book = ingest(markdown_book(tmp_path / "b.md", {"Tides": 6, "Storms": 6}), summariser=model_summariser)
    assert model.steps == ["digest", "digest", "book"]
    tides = book.chapters[0]
    assert "tides" in tides.summary and "tides" in tides.key_concepts
    assert tides.sections[0].title == "Tides basics"
    assert book.summary.startswith("A book in 2 chapters.")
    requests = llm_server.chat_requests()
    assert [r["response_format"]["json_schema"]["name"] for r in requests] == [
        "chapter_digest", "chapter_digest", "chapter_book",
    ]  # fmt: skip
    assert "Its sections: Tides basics." in requests[0]["messages"][1]["content"]
    # the running total is the server's own count of every call
    prompt = sum(count_tokens(m["content"]) for r in requests for m in r["messages"])
    usage = model_summariser.usage
    assert (usage.chapters, usage.calls, usage.prompt_tokens) == (2, 3, prompt)
    assert usage.completion_tokens > 0
    assert usage.line().startswith(f"summarised 2 chapters with the model: 3 calls, {prompt:,} prompt tokens")


def test_a_long_chapter_is_read_in_chunks_then_reduced(llm_server: LLMServer) -> None:
    model = SummaryModel()
    model_summariser = summariser(llm_server, model)
    text = chapter_text("estuary", 40)  # about 3,800 characters: four chunks of at most 1,200
    expected = chunks(text, CHUNK_TOKENS * 4)
    assert len(expected) == 4 and all(len(chunk) <= CHUNK_TOKENS * 4 for chunk in expected)
    digest = model_summariser.digest("Estuaries", text, ["Mixing", "Sediment"])
    assert model.steps == ["notes"] * 4 + ["digest"]
    requests = llm_server.chat_requests()
    assert [material_of(r) for r in requests[:4]] == expected  # the whole text, in order
    notes = material_of(requests[4])
    assert notes.count("Terms:") == 4 and len(notes) <= CHUNK_TOKENS * 4
    assert "Notes on its parts, in order:" in requests[4]["messages"][1]["content"]
    assert "estuary" in digest.key_concepts
    assert digest.sections == ["Mixing", "Sediment"]
    assert model_summariser.usage.calls == 5 and model_summariser.usage.chapters == 1


def test_notes_too_long_for_one_call_are_condensed_before_the_digest(llm_server: LLMServer) -> None:
    model = SummaryModel()
    model_summariser = summariser(llm_server, model, deadline=20.0)
    text = chapter_text("delta", 200)
    mapped = len(chunks(text, CHUNK_TOKENS * 4))
    model_summariser.digest("Deltas", text, [])
    steps = model.steps
    assert steps[-1] == "digest" and steps[:-1] == ["notes"] * (len(steps) - 1)
    condensed = len(steps) - 1 - mapped
    assert condensed >= 1  # notes on the notes, then the digest
    requests = llm_server.chat_requests()
    assert all(len(material_of(r)) <= CHUNK_TOKENS * 4 for r in requests)
    assert "Notes on consecutive parts:" in requests[mapped]["messages"][1]["content"]
    assert material_of(requests[-1]).count("Terms:") == condensed  # the digest reads the condensed notes


def test_an_empty_chapter_costs_no_call(llm_server: LLMServer) -> None:
    model_summariser = summariser(llm_server)
    digest = model_summariser.digest("Blank", "   ", ["One"])
    assert (digest.summary, digest.topics) == ("Blank", ["One"])
    assert llm_server.chat_requests() == [] and model_summariser.usage.chapters == 1


# --- answers fitted to the limits -----------------------------------------------------------------


def test_over_long_answers_are_clipped_to_the_book_file_limits(llm_server: LLMServer, tmp_path: Path) -> None:
    model_summariser = summariser(llm_server, SummaryModel(long_fields=True))
    book = ingest(markdown_book(tmp_path / "b.md", {"Reefs": 30}), summariser=model_summariser)
    chapter = book.chapters[0]
    assert len(chapter.summary) <= SUMMARY_MAX_CHARS and chapter.summary.endswith(".")
    assert chapter.summary.startswith("Sentence 0 of a summary")
    assert len(chapter.topics) == MAX_TOPICS and chapter.topics[0] == "topic 0"  # list marks gone
    assert len(chapter.key_concepts) == MAX_KEY_CONCEPTS
    assert all(len(item) <= ITEM_MAX_CHARS for item in [*chapter.topics, *chapter.key_concepts])
    assert chapter.key_concepts[0].endswith("…") and chapter.key_concepts[1] == "concept 0"
    parse_book(book.model_dump(), "again")  # still a valid book file


def test_fitting_repairs_missing_and_oddly_shaped_fields() -> None:
    digest = fit_digest(
        {"Summary": ["First part.", "Second part."], "keyConcepts": "alpha; beta; alpha", "topics": []},
        "Title",
        "Opening words of the chapter.",
        ["1.2 A heading", "Another"],
    )
    assert digest.summary == "First part. Second part."
    assert digest.key_concepts == ["alpha", "beta"]
    assert digest.topics == ["A heading", "Another"]  # from the sub-headings
    empty = fit_digest({}, "Title", "x" * 5000, [])
    assert len(empty.summary) <= SUMMARY_MAX_CHARS and empty.topics == []


def test_clip_keeps_whole_sentences_or_cuts_at_a_word() -> None:
    assert clip("One. Two. " + "three " * 10, 16) == "One. Two."
    words = clip("word " * 100, 50)
    assert len(words) <= 50 and words.endswith("…")
    assert clip("short", 50) == "short"


def test_chunks_cover_the_text_in_order_within_the_limit() -> None:
    text = "\n\n".join(chapter_text(f"topic{n}", 7) for n in range(9)) + "\n\n" + "x" * 3000
    pieces = chunks(text, 1000)
    assert all(0 < len(piece) <= 1000 for piece in pieces)
    assert "".join(pieces).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
    assert chunks("", 1000) == [] and chunks("small", 1000) == ["small"]


# --- faults ---------------------------------------------------------------------------------------


def test_throttling_and_server_errors_are_retried_then_succeed(llm_server: LLMServer) -> None:
    model_summariser = summariser(llm_server)
    llm_server.script(rate_limited(0.01), server_error())
    digest = model_summariser.digest("Tides", chapter_text("tides", 5), [])
    assert "tides" in digest.key_concepts
    assert len(llm_server.chat_requests()) == 3
    assert model_summariser.usage.calls == 1  # only answers are counted


def test_an_error_no_retry_fixes_names_the_chapter(llm_server: LLMServer) -> None:
    model_summariser = summariser(llm_server)
    llm_server.script(error(401, "Incorrect API key provided"))
    with pytest.raises(PermanentFailure, match=r"summarising chapter 'Tides' \(test-chat\).*401"):
        model_summariser.digest("Tides", chapter_text("tides", 5), [])
    assert len(llm_server.chat_requests()) == 1


def test_a_server_without_structured_output_gets_plain_json_requests(llm_server: LLMServer) -> None:
    model_summariser = summariser(llm_server)
    llm_server.reject_formats = {"json_schema"}
    model_summariser.digest("Tides", chapter_text("tides", 5), [])
    model_summariser.digest("Storms", chapter_text("storms", 5), [])
    kinds = [r["response_format"]["type"] for r in llm_server.chat_requests()]
    assert kinds == ["json_schema", "json_object", "json_object"]  # stepped down once, remembered


def test_an_answer_without_json_is_asked_for_again(llm_server: LLMServer) -> None:
    model = SummaryModel(prose_once=True)
    digest = summariser(llm_server, model).digest("Tides", chapter_text("tides", 5), [])
    assert "tides" in digest.key_concepts
    second = llm_server.chat_requests()[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]


def test_an_answer_never_json_is_an_error_naming_the_file_and_chapter(
    llm_server: LLMServer, tmp_path: Path
) -> None:
    path = markdown_book(tmp_path / "b.md", {"Tides": 6, "Storms": 6})
    model = SummaryModel(prose=True)
    with pytest.raises(DocumentError) as caught:
        ingest(path, summariser=summariser(llm_server, model))
    message = str(caught.value)
    assert message.startswith(f"{path}: chapter 'Tides': the model's answer is not the JSON asked for")
    assert "lovely summary" in message
    assert model.steps == ["digest", "digest"]  # asked twice, then stopped


def test_the_steps_the_test_model_tells_apart(llm_server: LLMServer) -> None:
    """The scripted model reads the prompts the summariser sends: guard its parsing."""
    seen: list[str] = []

    def recording(body: dict[str, Any]) -> Reply:
        seen.append(step_of(body))
        return SummaryModel()(body)

    llm_server.chat_model = recording
    OpenAISummariser(fast_config(llm_server), chunk_tokens=CHUNK_TOKENS).book_summary(["One.", "Two."])
    assert seen == ["book"]


# --- the factory ------------------------------------------------------------------------------------


def test_the_factory_builds_each_summariser(llm_server: LLMServer) -> None:
    settings = Settings(openai=fast_config(llm_server))
    model = summariser_for("openai", settings)
    assert isinstance(model, OpenAISummariser) and model.config.chat_model == "test-chat"
    assert model.usage == SummaryUsage()
    with pytest.raises(ConfigError, match="'gpt' is not one of offline, openai"):
        summariser_for("gpt", settings)


def test_the_factory_reuses_a_loaded_offline_embedder() -> None:
    class Embedder:  # not the offline embedder: the summariser loads its own, lazily
        pass

    offline = summariser_for("offline", Settings(), Embedder())  # type: ignore[arg-type]
    assert isinstance(offline, OfflineSummariser)


def test_the_model_summariser_needs_a_key_or_a_server() -> None:
    with pytest.raises(ConfigError, match="the openai summariser needs an API key"):
        summariser_for("openai", Settings(openai=OpenAIConfig()))


def test_the_cli_refuses_the_model_without_a_key_before_reading_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("COURSEGEN_OPENAI_API_KEY", "OPENAI_API_KEY", "COURSEGEN_OPENAI_API_KEY_SECRET_ARN",
                 "COURSEGEN_OPENAI_BASE_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "data"
    code = main(["--data-dir", str(data_dir), "library", "add", str(tmp_path / "missing.pdf"),
                 "--summarizer", "openai"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "the openai summariser needs an API key" in err
    assert "missing.pdf" not in err and not data_dir.exists()  # neither the file nor the database touched


def test_no_call_outlasts_the_summarisers_deadline(llm_server: LLMServer) -> None:
    model_summariser = summariser(llm_server)
    model_summariser.until = Deadline(0.0)
    with pytest.raises(TransientError, match="deadline leaves only"):
        model_summariser.digest("Tides", chapter_text("tides", 5), [])
    assert llm_server.chat_requests() == []


def test_a_very_long_chapter_is_read_in_an_even_sample(
    llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chalicelib.ingest.model_summary.MAX_CHUNKS", 3)
    model = SummaryModel()
    text = chapter_text("lagoon", 60)
    parts = chunks(text, CHUNK_TOKENS * 4)
    assert len(parts) == 5
    summariser(llm_server, model).digest("Lagoons", text, [])
    assert model.steps == ["notes"] * 3 + ["digest"]
    read = [material_of(r) for r in llm_server.chat_requests()[:3]]
    assert read == [parts[0], parts[1], parts[3]]  # evenly spread, in order


def test_an_answer_cut_off_at_the_token_limit_is_asked_for_with_more(llm_server: LLMServer) -> None:
    model_summariser = summariser(llm_server)
    llm_server.script(truncated('{"summary": "Tides rise and fall twice a day.", "topics": ["tides"]}'))
    digest = model_summariser.digest("Tides", chapter_text("tides", 5), [])
    assert "tides" in digest.key_concepts  # the second, whole answer
    limits = [r["max_completion_tokens"] for r in llm_server.chat_requests()]
    assert limits == [1000, 2000] and model_summariser.usage.calls == 2


def test_the_book_summary_of_many_chapters_stays_within_one_chunk(llm_server: LLMServer) -> None:
    model_summariser = summariser(llm_server)
    model_summariser.book_summary([f"Chapter {n} teaches {'many things ' * 40}." for n in range(300)])
    (request,) = llm_server.chat_requests()
    assert len(material_of(request)) <= CHUNK_TOKENS * 4 * 2
