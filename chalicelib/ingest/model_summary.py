"""The model summariser: a chapter's summary, topics and key concepts written by a chat model on
any OpenAI-compatible server, from the chapter's text in bounded chunks.

A chapter that fits in one chunk is summarised in one call. A longer one is read part by part
(map: each chunk of at most `chunk_tokens` becomes short notes), and the notes in order become
the digest (reduce); notes that together would not fit in one chunk are first condensed the
same way, batch by batch. Every answer is JSON, read tolerantly and fitted to the book-file
limits (summarise.py): an over-long field is clipped, never a reason to fail the book. An answer
that holds no JSON is asked for once more, then it is a SummaryError naming the chapter.

Calls go through `openai_client` like the planner's: the client never retries by itself,
`with_retries` retries what a retry can fix within `OpenAIConfig.deadline` per step, and errors
are mapped to ours. `usage` totals the calls, prompt and completion tokens, thread-safely."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from string import Template
from typing import Any, Literal

from ..adapters.openai_chat import ChatModel, token_counts
from ..adapters.openai_client import Deadline, make_client
from ..config import OpenAIConfig
from ..planning.context import CHARS_PER_TOKEN, estimate_tokens
from ..planning.llm_output import find_json
from .document import DocumentError, clean_line
from .summarise import (
    ITEM_MAX_CHARS,
    MAX_KEY_CONCEPTS,
    MAX_SECTIONS,
    MAX_TOPICS,
    SUMMARY_MAX_CHARS,
    ChapterDigest,
    _heading_list,
)

log = logging.getLogger("coursegen.summariser")

Step = Literal["notes", "digest", "book"]
DEFAULT_CHUNK_TOKENS = 3000  # the most chapter text one call reads
MAX_CHUNKS = 64  # a chapter longer than this many chunks is read in an even sample of them
NOTE_MAX_CHARS = 1200  # one chunk's notes, clipped to this
HEADINGS_SHOWN = 20
_REASK = "Your answer could not be read. Answer again with JSON only, in the shape asked for above."
_ROLE_MARK = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)
_LIST_MARK = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")

_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}
_SCHEMAS: dict[Step, dict[str, Any]] = {
    "notes": {"points": _STRINGS, "terms": _STRINGS},
    "digest": {"summary": _STRING, "topics": _STRINGS, "key_concepts": _STRINGS},
    "book": {"summary": _STRING},
}


class SummaryError(DocumentError):
    """The model's answers for a chapter (or the book) could not be read; names the chapter."""


@dataclass(frozen=True)
class SummaryUsage:
    """What the model summariser has spent so far."""

    chapters: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def line(self) -> str:
        return (
            f"summarised {self.chapters} chapters with the model: {self.calls} calls, "
            f"{self.prompt_tokens:,} prompt tokens, {self.completion_tokens:,} completion tokens"
        )


# --- prompts --------------------------------------------------------------------------------------


@cache
def template(step: Step) -> tuple[Template, Template]:
    """The (system, user) templates of a step, read once from prompts/<step>.txt."""
    text = resources.files(__package__).joinpath("prompts", f"{step}.txt").read_text(encoding="utf-8")
    pieces = _ROLE_MARK.split(text)
    roles = {pieces[i]: pieces[i + 1].strip() for i in range(1, len(pieces) - 1, 2)}
    return Template(roles["system"]), Template(roles["user"])


def messages(step: Step, **fields: object) -> list[dict[str, str]]:
    system, user = template(step)
    values = {k: str(v) for k, v in fields.items()}
    return [
        {"role": "system", "content": system.substitute(values)},
        {"role": "user", "content": user.substitute(values)},
    ]


# --- chunks ---------------------------------------------------------------------------------------


def _pieces(text: str, limit: int) -> list[str]:
    """Paragraphs of `text`, a longer one cut at sentence ends (else spaces) to at most `limit`."""
    pieces: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        while len(block) > limit:
            cut = block.rfind(". ", 0, limit) + 1
            if cut < limit // 2:
                cut = block.rfind(" ", 0, limit)
            if cut < limit // 2:
                cut = limit
            pieces.append(block[:cut].strip())
            block = block[cut:].strip()
        if block:
            pieces.append(block)
    return pieces


def chunks(text: str, limit: int) -> list[str]:
    """`text` in consecutive chunks of at most `limit` characters, cut between paragraphs where
    possible and of about equal size (no short last chunk)."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    target = min(limit, math.ceil(len(text) / math.ceil(len(text) / limit)) + limit // 20)
    out: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        if current and len(current) + 2 + len(piece) > target:
            out.append(current)
            current = piece
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        out.append(current)
    return out


def _sample(items: list[str], limit: int) -> list[str]:
    if len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


# --- fitting answers to the book-file limits ------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """`text` on one line in at most `limit` characters: whole sentences when they keep at least
    half of it, else cut at a word with an ellipsis."""
    line = clean_line(text, 10 * limit)
    if len(line) <= limit:
        return line
    end = max(line.rfind(mark, 0, limit) for mark in (". ", "! ", "? "))
    if end + 1 >= limit // 2:
        return line[: end + 1]
    return clean_line(line, limit - 1)


def _strings(value: Any) -> list[str]:
    """A list of strings from what a model may send: a list (of strings, or of objects with a
    name), or one string of items separated by semicolons, commas or lines."""
    if isinstance(value, str):
        value = re.split(r"\s*[;\n]\s*", value) if re.search(r"[;\n]", value) else value.split(",")
    if not isinstance(value, list):
        return []
    items = []
    for item in value:
        if isinstance(item, dict):
            item = next((v for k, v in item.items() if k in ("name", "term", "title", "topic")), None)
        if isinstance(item, str):
            items.append(item)
    return items


def fit_items(value: Any, limit: int) -> list[str]:
    """At most `limit` distinct items of at most ITEM_MAX_CHARS, without list marks."""
    fitted: list[str] = []
    for item in _strings(value):
        line = clip(_LIST_MARK.sub("", item).strip().strip("\"'").rstrip("."), ITEM_MAX_CHARS)
        if sum(ch.isalpha() for ch in line) >= 2 and line.casefold() not in {f.casefold() for f in fitted}:
            fitted.append(line)
    return fitted[:limit]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _field(data: dict[str, Any], *names: str) -> Any:
    for name in names:
        first, *rest = name.split("_")
        camel = first + "".join(word.title() for word in rest)
        for key in (name, camel, camel[:1].upper() + camel[1:], name.replace("_", " ")):
            if key in data:
                return data[key]
    return None


def fit_digest(data: dict[str, Any], title: str, text: str, headings: list[str]) -> ChapterDigest:
    """The digest a model's answer describes, within the book-file limits; a missing summary
    falls back to the chapter's opening, missing topics to its sub-headings."""
    summary = clip(_text(_field(data, "summary", "abstract")), SUMMARY_MAX_CHARS)
    if not summary:
        summary = clip(text, SUMMARY_MAX_CHARS) or clean_line(title) or "(no text)"
    concepts = fit_items(_field(data, "key_concepts", "concepts", "keywords", "terms"), MAX_KEY_CONCEPTS)
    topics = fit_items(_field(data, "topics", "themes"), MAX_TOPICS)
    topics = topics or _heading_list(headings, MAX_TOPICS) or concepts[:3]
    return ChapterDigest(
        summary=summary,
        topics=topics,
        key_concepts=concepts,
        sections=_heading_list(headings, MAX_SECTIONS),
    )


def render_notes(data: dict[str, Any]) -> str:
    """One chunk's notes as text for the next step, at most NOTE_MAX_CHARS."""
    points = [clip(p, 300) for p in _strings(_field(data, "points", "notes", "summary"))]
    lines = [f"- {p}" for p in points if p]
    terms = fit_items(_field(data, "terms", "key_concepts", "concepts"), 10)
    if terms:
        lines.append("Terms: " + "; ".join(terms))
    text = "\n".join(lines)
    return text if len(text) <= NOTE_MAX_CHARS else text[:NOTE_MAX_CHARS].rsplit("\n", 1)[0]


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _json_object(text: str) -> dict[str, Any] | None:
    data = find_json(text)
    if isinstance(data, list) and data and all(isinstance(d, dict) for d in data):
        data = data[0]
    return data if isinstance(data, dict) and data else None


# --- the summariser -------------------------------------------------------------------------------


class OpenAISummariser:
    """A `Summariser` that asks a chat model. `chunk_tokens` bounds the chapter text (or notes)
    one call reads, counted as four characters a token. Each call (with its re-ask) has
    `config.deadline`, and none outlasts `until` when it is given: a call that would start with
    too little time left is a TransientError."""

    def __init__(
        self,
        config: OpenAIConfig,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
        client_factory: Callable[[OpenAIConfig], Any] = make_client,
        until: Deadline | None = None,
    ) -> None:
        if chunk_tokens < 200:
            raise ValueError("chunk_tokens must be at least 200")
        self.model = ChatModel(config, client_factory)
        self.chunk_chars = chunk_tokens * CHARS_PER_TOKEN
        self.until = until  # when set, no call outlasts it (a Lambda's remaining time less a margin)
        self._lock = threading.Lock()
        self._usage = SummaryUsage()

    @property
    def usage(self) -> SummaryUsage:
        """The calls and tokens spent so far (a snapshot)."""
        return self._usage

    # --- the Summariser interface -------------------------------------------------------------

    def digest(self, title: str, text: str, headings: list[str]) -> ChapterDigest:
        what = f"chapter {clean_line(title, 80)!r}"
        parts = chunks(text, self.chunk_chars)
        if not parts:
            digest = fit_digest({}, title, text, headings)
        else:
            if len(parts) > MAX_CHUNKS:
                log.warning("%s: %d chunks; reading an even sample of %d", what, len(parts), MAX_CHUNKS)
                parts = _sample(parts, MAX_CHUNKS)
            if len(parts) == 1:
                material, kind = parts[0], "Text"
            else:
                material, kind = self._notes(title, parts, what), "Notes on its parts, in order"
            shown = _heading_list(headings, HEADINGS_SHOWN)
            answer = self._ask(
                "digest",
                what,
                title=clean_line(title),
                headings=f" Its sections: {'; '.join(shown)}." if shown else "",
                summary_chars=SUMMARY_MAX_CHARS,
                max_topics=MAX_TOPICS,
                max_concepts=MAX_KEY_CONCEPTS,
                kind=kind,
                material=material,
            )
            digest = fit_digest(answer, title, text, headings)
        with self._lock:
            self._usage = replace(self._usage, chapters=self._usage.chapters + 1)
        return digest

    def book_summary(self, chapter_summaries: list[str]) -> str:
        summaries = [s for s in chapter_summaries if s.strip()]
        if not summaries:
            return ""
        summaries = _sample(summaries, max(1, self.chunk_chars // 200))  # a book of many chapters
        each = max(200, self.chunk_chars // len(summaries))
        material = "\n".join(f"{n}. {clip(s, each)}" for n, s in enumerate(summaries, 1))
        answer = self._ask("book", "the book's summary", summary_chars=SUMMARY_MAX_CHARS, material=material)
        return clip(_text(_field(answer, "summary", "abstract")), SUMMARY_MAX_CHARS)

    # --- map and reduce -----------------------------------------------------------------------

    def _notes(self, title: str, parts: list[str], what: str) -> str:
        """Notes on every part, condensed batch by batch until they fit in one chunk."""
        notes = [self._note(title, n, len(parts), "Text", part, what) for n, part in enumerate(parts, 1)]
        while len(joined := "\n\n".join(notes)) > self.chunk_chars and len(notes) > 1:
            batches = chunks(joined, self.chunk_chars)
            if len(batches) >= len(notes):  # cannot condense further: keep what fits
                break
            notes = [
                self._note(title, n, len(batches), "Notes on consecutive parts", batch, what)
                for n, batch in enumerate(batches, 1)
            ]
        return "\n\n".join(notes)[: self.chunk_chars]

    def _note(self, title: str, part: int, parts: int, kind: str, material: str, what: str) -> str:
        answer = self._ask(
            "notes", f"{what}, part {part} of {parts}",
            title=clean_line(title), part=part, parts=parts, kind=kind, material=material,
        )  # fmt: skip
        return render_notes(answer)

    # --- talking to the model -----------------------------------------------------------------

    def _ask(self, step: Step, what: str, **fields: object) -> dict[str, Any]:
        """The answer's JSON object; an unreadable answer is asked for once more, then it is a
        SummaryError naming `what`. One deadline (`config.deadline`) covers both."""
        seconds = self.config.deadline
        if self.until is not None:
            seconds = min(seconds, self.until.remaining)
        deadline = Deadline(seconds)
        sent = messages(step, **fields)
        text = self._complete(sent, step, deadline, what)
        if (data := _json_object(text)) is not None:
            return data
        log.info("%s: unreadable answer (%s); asking again", what, _excerpt(text))
        sent = [*sent, {"role": "assistant", "content": text}, {"role": "user", "content": _REASK}]
        text = self._complete(sent, step, deadline, what)
        if (data := _json_object(text)) is not None:
            return data
        raise SummaryError(
            f"{what}: the model's answer is not the JSON asked for, even when asked again: {_excerpt(text)!r}"
        )

    def _complete(self, sent: list[dict[str, str]], step: Step, deadline: Deadline, what: str) -> str:
        """The answer's text; one cut off at the token limit is asked for again with a larger one."""
        limit = self.config.max_tokens
        for attempt in (1, 2):
            response = self._create(sent, step, deadline, limit, what)
            choice = response.choices[0] if response.choices else None
            text = (choice.message.content if choice else None) or ""
            self._record(sent, response, text)
            if choice is not None and choice.finish_reason == "content_filter":
                raise SummaryError(f"{what}: the model's answer was withheld by its content filter")
            cut_off = choice is not None and choice.finish_reason == "length"
            if cut_off and attempt == 1 and limit < self.config.max_tokens_limit:
                log.info("%s: answer cut off at %d tokens; asking with more", what, limit)
                limit = min(self.config.max_tokens_limit, 2 * limit)
                continue
            return text
        raise AssertionError("unreachable")

    def _create(
        self, sent: list[dict[str, str]], step: Step, deadline: Deadline, limit: int, what: str
    ) -> Any:
        """One chat completion within `deadline`, in the best format the server accepts."""
        properties = _SCHEMAS[step]
        schema = {"type": "object", "properties": properties, "required": list(properties)}
        return self.model.create(
            sent,
            limit,
            deadline,
            what=f"summarising {what} ({self.config.chat_model})",
            schema_name=f"chapter_{step}",
            schema=lambda: {**schema, "additionalProperties": False},
        )

    @property
    def config(self) -> OpenAIConfig:
        return self.model.config

    def _record(self, sent: list[dict[str, str]], response: Any, text: str) -> None:
        prompt_tokens, completion_tokens = token_counts(response, sent, text, estimate_tokens)
        with self._lock:
            self._usage = replace(
                self._usage,
                calls=self._usage.calls + 1,
                prompt_tokens=self._usage.prompt_tokens + prompt_tokens,
                completion_tokens=self._usage.completion_tokens + completion_tokens,
            )
