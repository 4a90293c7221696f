"""OpenAI-compatible embeddings (OpenAI, vLLM, Ollama, LiteLLM): batched, unit-normalised, and
within a deadline; the model name and dimension are what a library records."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..config import ConfigError, OpenAIConfig
from ..errors import PermanentFailure
from ..ports import Embedder
from .openai_client import (
    EMBEDDING_DIMENSIONS,
    Deadline,
    call_mapped,
    make_client,
    with_retries,
)

BATCH_SIZE = 256  # texts per request; OpenAI takes up to 2048, smaller servers fewer


class OpenAIEmbedder(Embedder):
    permanent_error: type[PermanentFailure] = PermanentFailure  # what a rejected request raises

    def __init__(
        self,
        config: OpenAIConfig,
        client_factory: Callable[[OpenAIConfig], Any] = make_client,
        batch_size: int = BATCH_SIZE,
        with_key: Callable[[OpenAIConfig], OpenAIConfig] | None = None,
    ) -> None:
        dimension = config.embedding_dimensions or EMBEDDING_DIMENSIONS.get(config.embedding_model)
        if not dimension:
            raise ConfigError(
                f"the dimension of embedding model {config.embedding_model!r} is not known: "
                "set COURSEGEN_EMBEDDING_DIMENSIONS"
            )
        self.name = config.embedding_model
        self.dimension = dimension
        self.config = config
        self.batch_size = max(1, batch_size)
        self._client_factory = client_factory
        self._client: Any = None
        self._with_key = with_key  # called when the first client is built: the key is read then

    def embed(self, texts: list[str]) -> list[list[float]]:
        deadline = Deadline(self.config.deadline)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors += self._embed_batch(texts[start : start + self.batch_size], deadline)
        return vectors

    def _embed_batch(self, texts: list[str], deadline: Deadline) -> list[list[float]]:
        if self._client is None:
            if self._with_key is not None:
                self.config = self._with_key(self.config)
            self._client = self._client_factory(self.config)
        client = self._client
        request: dict[str, Any] = {
            "model": self.name,
            "input": [text if text.strip() else " " for text in texts],  # empty input is refused
            "encoding_format": "float",  # every compatible server speaks float; not all base64
        }
        if self.config.embedding_dimensions:
            request["dimensions"] = self.config.embedding_dimensions
        what = f"embedding ({self.name})"
        response = call_mapped(
            lambda: with_retries(
                lambda timeout: client.embeddings.create(**request, timeout=timeout), deadline, self.config
            ),
            what,
            self.config,
            self.permanent_error,
        )
        items = sorted(response.data, key=lambda item: item.index)
        if len(items) != len(texts):
            raise self.permanent_error(
                f"embedding ({self.name}): the server returned {len(items)} vectors for {len(texts)} texts"
            )
        return [self._unit(list(item.embedding)) for item in items]

    def _unit(self, vector: list[float]) -> list[float]:
        if len(vector) != self.dimension:
            raise self.permanent_error(
                f"embedding ({self.name}): the server returned {len(vector)} dimensions, expected "
                f"{self.dimension}; set COURSEGEN_EMBEDDING_DIMENSIONS to the model's dimension"
            )
        norm = math.sqrt(math.fsum(x * x for x in vector))
        return [x / norm for x in vector] if norm > 0 else vector
