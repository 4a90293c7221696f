"""What summarises a chapter (`Summariser`), the one factory that picks it (`summariser_for`),
and the offline summariser: an extractive summary (the sentences closest to the chapter's
centre in the offline embedder's space), topics from sub-headings or key phrases, and key
concepts by keyphrase extraction (YAKE). Every field is cut to the book-file limits. The model
summariser is in model_summary.py."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..config import SUMMARIZERS as SUMMARISERS
from ..config import ConfigError
from ..ports import Embedder
from .document import clean_line

if TYPE_CHECKING:
    from ..adapters.openai_client import Deadline
    from ..config import Settings

SUMMARY_SENTENCES = 3
SUMMARY_MAX_CHARS = 900
BOOK_SUMMARY_SENTENCES = 2
MAX_TOPICS = 10
MAX_KEY_CONCEPTS = 10
MAX_SECTIONS = 40
ITEM_MAX_CHARS = 100
SENTENCES_SAMPLED = 160  # per chapter: enough to find its centre, bounded for long chapters
KEYPHRASE_TEXT_CHARS = 40_000  # YAKE reads at most this much of a chapter
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class ChapterDigest:
    summary: str
    topics: list[str]
    key_concepts: list[str]
    sections: list[str]


class Summariser(Protocol):
    """Turns a chapter's text into its digest, and the chapters' summaries into the book's.
    Every field it returns respects the limits above (summary at most SUMMARY_MAX_CHARS, at most
    MAX_TOPICS topics and MAX_KEY_CONCEPTS key concepts of at most ITEM_MAX_CHARS each)."""

    def digest(self, title: str, text: str, headings: list[str]) -> ChapterDigest: ...

    def book_summary(self, chapter_summaries: list[str]) -> str: ...


def summariser_for(
    name: str, settings: Settings, embedder: Embedder | None = None, until: Deadline | None = None
) -> Summariser:
    """The summariser called `name` ("offline" or "openai"), built from `settings`.

    offline: reuses `embedder` when it is the offline embedder (WordLlama) already loaded, else
    loads its own. openai: the model server of `settings.openai`, its API key read once per
    process; a ConfigError, before anything is read, when no key, key secret or base URL is set.
    Its calls stop at `until` when given (a TransientError); the offline one ignores `until`."""
    if name == "offline":
        from ..adapters.offline_embedder import WordLlamaEmbedder

        return OfflineSummariser(embedder if isinstance(embedder, WordLlamaEmbedder) else None)
    if name == "openai":
        from .. import bootstrap
        from .model_summary import OpenAISummariser

        config = settings.openai
        if not (config.api_key or config.api_key_secret_arn or config.base_url):
            raise ConfigError(
                "the openai summariser needs an API key: set COURSEGEN_OPENAI_API_KEY (or "
                "OPENAI_API_KEY), or COURSEGEN_OPENAI_API_KEY_SECRET_ARN, or COURSEGEN_OPENAI_BASE_URL "
                "for a local server that needs none"
            )
        return OpenAISummariser(bootstrap.openai_config(settings), until=until)
    raise ConfigError(f"summariser {name!r} is not one of {', '.join(SUMMARISERS)}")


_BLOCK_START = re.compile(r"^\s*([\u2022\u25cf\u25e6*\-\u2013]|\d+(\.\d+)*\.?\s|[A-Z]\.\d)")


def _blocks(text: str) -> list[str]:
    """Paragraphs, also where a PDF's lines give no blank line: a new block starts at a list
    item, a numbered heading, or after a short line (a heading, a running header)."""
    blocks: list[list[str]] = [[]]
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or _BLOCK_START.match(stripped):
            blocks.append([])
        if stripped:
            blocks[-1].append(stripped)
        if stripped and len(stripped) < 45 and stripped[-1] not in ".,;:":
            blocks.append([])
    return [" ".join(block) for block in blocks if block]


def sentences(text: str) -> list[str]:
    """Prose sentences of `text` (code, tables, list fragments and headings left out)."""
    found = []
    for block in _blocks(text):
        for sentence in _SENTENCE_END.split(block):
            letters = sum(ch.isalpha() or ch == " " for ch in sentence)
            if (
                40 <= len(sentence) <= 400
                and letters >= 0.85 * len(sentence)
                and sentence[0].isupper()
                and sentence[-1] in ".!?"
            ):
                found.append(sentence)
    return found


def _sample(items: list[str], limit: int) -> list[str]:
    if len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def central(vectors: Sequence[Sequence[float]], count: int) -> list[int]:
    """Indices of the `count` vectors closest to their mean, skipping near-duplicates, in order."""
    import numpy as np

    if not vectors:
        return []
    matrix = np.asarray(vectors, dtype=np.float32)
    centre = matrix.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    chosen: list[int] = []
    for index in np.argsort(-(matrix @ centre)):
        if all(float(matrix[index] @ matrix[other]) < 0.92 for other in chosen):
            chosen.append(int(index))
        if len(chosen) == count:
            break
    return sorted(chosen)


def _join_within(parts: list[str], limit: int) -> str:
    text = ""
    for part in parts:
        if len(text) + len(part) + 1 > limit:
            break
        text = f"{text} {part}".strip()
    return text or clean_line(parts[0], limit) if parts else text


def keyphrases(text: str, count: int) -> list[str]:
    import yake

    extractor = yake.KeywordExtractor(lan="en", n=3, dedup_lim=0.7, top=count * 3)
    phrases: list[str] = []
    for phrase, _score in extractor.extract_keywords(text[:KEYPHRASE_TEXT_CHARS]):
        phrase = clean_line(phrase, ITEM_MAX_CHARS)
        if sum(ch.isalpha() for ch in phrase) >= 3 and phrase.casefold() not in {
            p.casefold() for p in phrases
        }:
            phrases.append(phrase)
    return phrases


def _heading_list(headings: list[str], limit: int) -> list[str]:
    cleaned: list[str] = []
    for heading in headings:
        line = clean_line(re.sub(r"^\s*(\d+\.)*\d+\.?\s+", "", heading), ITEM_MAX_CHARS)
        if line and line.casefold() not in {c.casefold() for c in cleaned}:
            cleaned.append(line)
    return cleaned[:limit]


class OfflineSummariser:
    """Summaries need the offline embedder (WordLlama); key phrases need yake."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        if embedder is None:
            from ..adapters.offline_embedder import WordLlamaEmbedder

            embedder = WordLlamaEmbedder()
        self._embedder = embedder

    def digest(self, title: str, text: str, headings: list[str]) -> ChapterDigest:
        candidates = _sample(sentences(text), SENTENCES_SAMPLED)
        vectors = self._embedder.embed(candidates) if candidates else []
        picked = [candidates[i] for i in central(vectors, SUMMARY_SENTENCES)]
        fallback = clean_line(text, SUMMARY_MAX_CHARS) if text.strip() else title
        summary = _join_within(picked, SUMMARY_MAX_CHARS) or fallback
        phrases = keyphrases(text, MAX_KEY_CONCEPTS) if text.strip() else []
        concepts = phrases[:MAX_KEY_CONCEPTS]
        topics = (
            _heading_list(headings, MAX_TOPICS) or phrases[MAX_KEY_CONCEPTS : MAX_KEY_CONCEPTS + MAX_TOPICS]
        )
        if not topics:
            topics = concepts[:3]
        return ChapterDigest(
            summary=summary,
            topics=topics,
            key_concepts=concepts,
            sections=_heading_list(headings, MAX_SECTIONS),
        )

    def book_summary(self, chapter_summaries: list[str]) -> str:
        candidates = _sample([s for summary in chapter_summaries for s in sentences(summary)], 200)
        if not candidates:
            return ""
        picked = central(self._embedder.embed(candidates), BOOK_SUMMARY_SENTENCES)
        return _join_within([candidates[i] for i in picked], SUMMARY_MAX_CHARS)
