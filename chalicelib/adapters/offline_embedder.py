"""Offline embedder: the WordLlama model that ships inside its own wheel (256-d, no downloads)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..distribution import LOCAL_EXTRA
from ..ports import Embedder


class WordLlamaEmbedder(Embedder):
    name = "wordllama-l2-supercat"
    dimension = 256

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    import wordllama  # heavy (numpy, safetensors): only where embeddings are made
                except ImportError as error:
                    raise ConfigError(
                        f"the offline embedder needs wordllama: {LOCAL_EXTRA}; "
                        "or set COURSEGEN_EMBEDDER=openai"
                    ) from error

                # The plain load() looks in a user cache and tries to download; the weights are
                # inside the package, so point it there and forbid the network.
                package_dir = Path(wordllama.__file__).parent
                self._model = wordllama.WordLlama.load(
                    cache_dir=package_dir, disable_download=True, dim=self.dimension
                )
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        import numpy as np

        vectors = np.asarray(self._load().embed(texts), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return (vectors / norms).tolist()  # type: ignore[no-any-return]
