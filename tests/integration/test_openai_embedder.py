"""The OpenAI-compatible embedder through the real `openai` client against the local test server."""

from __future__ import annotations

import math
import traceback

import pytest

from chalicelib.adapters.openai_embedder import OpenAIEmbedder
from chalicelib.config import ConfigError, OpenAIConfig
from chalicelib.errors import PermanentFailure, TransientError
from tests.support.llm_fixtures import (
    API_KEY,
    fast_config,
    llm_server_fixture,  # noqa: F401 - provides the llm_server fixture
)
from tests.support.llm_server import LLMServer, Reply, hashed_embedding, rate_limited, server_error


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_unit_length_of_the_configured_dimension(llm_server: LLMServer) -> None:
    embedder = OpenAIEmbedder(fast_config(llm_server, embedding_dimensions=32))
    vectors = embedder.embed(["discounted cash flow valuation", "tail latency in data systems"])

    assert [len(v) for v in vectors] == [32, 32]
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-9) for v in vectors)
    [body] = llm_server.embedding_requests()
    assert body["dimensions"] == 32 and body["model"] == "test-embed" and body["encoding_format"] == "float"
    assert embedder.name == "test-embed" and embedder.kind == "test-embed:32"


def test_dimensions_are_not_sent_unless_configured(llm_server: LLMServer) -> None:
    config = fast_config(llm_server, embedding_model="text-embedding-3-small", embedding_dimensions=None)
    embedder = OpenAIEmbedder(config)
    assert embedder.dimension == 1536
    llm_server.embedding_dimension = 1536
    embedder.embed(["a text"])
    assert "dimensions" not in llm_server.embedding_requests()[0]


def test_an_unknown_models_dimension_must_be_configured() -> None:
    with pytest.raises(ConfigError, match="COURSEGEN_EMBEDDING_DIMENSIONS"):
        OpenAIEmbedder(OpenAIConfig(embedding_model="nomic-embed-text"))


def test_texts_are_sent_in_batches_and_come_back_in_order(llm_server: LLMServer) -> None:
    texts = [f"chapter {i} about topic {i % 7}" for i in range(300)]
    vectors = OpenAIEmbedder(fast_config(llm_server), batch_size=256).embed(texts)

    assert [len(body["input"]) for body in llm_server.embedding_requests()] == [256, 44]
    expected = [hashed_embedding(t, 64) for t in texts]
    assert all(v == pytest.approx(e) for v, e in zip(vectors, expected, strict=True))


def test_nothing_to_embed_sends_nothing(llm_server: LLMServer) -> None:
    assert OpenAIEmbedder(fast_config(llm_server)).embed([]) == []
    assert llm_server.embedding_requests() == []


def test_a_query_finds_the_chapter_that_shares_its_words(llm_server: LLMServer) -> None:
    chapters = [
        "Terminal value with the Gordon growth model and exit multiples",
        "Replication and consistency in distributed databases",
        "Protein intake and muscle recovery after exercise",
    ]
    embedder = OpenAIEmbedder(fast_config(llm_server))
    library = embedder.embed(chapters)
    [query] = embedder.embed(["gordon growth terminal value"])
    best = max(range(len(chapters)), key=lambda i: cosine(query, library[i]))
    assert best == 0


def test_a_vector_of_another_dimension_is_refused_with_advice(llm_server: LLMServer) -> None:
    llm_server.embedding_queue.append(
        Reply(
            body={
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1] * 8}],
                "model": "m",
            }
        )
    )
    with pytest.raises(PermanentFailure, match=r"8 dimensions, expected 64.*COURSEGEN_EMBEDDING_DIMENSIONS"):
        OpenAIEmbedder(fast_config(llm_server)).embed(["x"])


def test_throttling_is_retried(llm_server: LLMServer) -> None:
    llm_server.embedding_queue.append(rate_limited(0.01))
    assert len(OpenAIEmbedder(fast_config(llm_server)).embed(["x"])) == 1
    assert len(llm_server.embedding_requests()) == 2


def test_persistent_server_errors_are_transient(llm_server: LLMServer) -> None:
    llm_server.embedding_queue.extend([server_error()] * 3)
    with pytest.raises(TransientError, match=r"embedding .*500"):
        OpenAIEmbedder(fast_config(llm_server, max_retries=2)).embed(["x"])


def test_a_wrong_key_is_permanent_and_never_shown(llm_server: LLMServer) -> None:
    llm_server.api_key = "sk-another-key-000000"
    with pytest.raises(PermanentFailure, match="401") as caught:
        OpenAIEmbedder(fast_config(llm_server)).embed(["x"])
    assert API_KEY not in "".join(traceback.format_exception(caught.value))
