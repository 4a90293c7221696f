"""The LLM planner: parts, sections and revisions from a chat model on any OpenAI-compatible
server, with prompts from prompts/ and tolerant parsing. It only talks to the model and maps its
answers; `core.fixes` fits them to the rules and `core.checks` says what is left to review."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..adapters.openai_chat import ChatModel, token_counts
from ..adapters.openai_client import Deadline, make_client
from ..config import OpenAIConfig
from ..core import checks, fixes
from ..core.models import ChapterHit, ChapterRef, CourseRequest, PartPlan, PlannedPart, SectionPlan
from ..errors import PlanningError
from ..ports import Planner
from . import llm_output
from .context import (
    ContextBudgets,
    Prompt,
    estimate_tokens,
    outline_json,
    parts_prompt,
    review_prompt,
    sections_prompt,
)
from .llm_output import Shape, UnreadableAnswer
from .usage import UsageSink

log = logging.getLogger("coursegen.planner")

_REASK = "Your answer could not be read. Answer again with JSON only, in the shape asked for above."


# --- the planner --------------------------------------------------------------------------------


class OpenAIPlanner(Planner):
    """Asks a chat model for judgement (grouping, titles, objectives, citations) and leaves what
    can be computed (minutes that add up, known citation ids) to deterministic code."""

    def __init__(
        self,
        config: OpenAIConfig,
        usage: UsageSink | None = None,
        client_factory: Callable[[OpenAIConfig], Any] = make_client,
        budgets: ContextBudgets | None = None,
        with_key: Callable[[OpenAIConfig], OpenAIConfig] | None = None,
    ) -> None:
        # the key is read when the first client is built (`with_key`), at the first call
        self.model = ChatModel(config, client_factory, with_key)
        self.budgets = budgets or ContextBudgets()
        self._usage = usage

    # --- the three steps --------------------------------------------------------------------

    def plan_parts(self, request: CourseRequest, chapters: list[ChapterHit]) -> tuple[str, list[PartPlan]]:
        deadline = Deadline(self.config.deadline)
        prompt = parts_prompt(request, chapters, self.budgets)
        answer = self._ask(prompt, "parts", deadline)
        assert isinstance(answer, llm_output.PartsAnswer)
        parts, notes = to_parts(answer, _known(chapters))
        parts, changes = fixes.fit_parts(request, parts)
        _report("parts", notes + changes)
        return (llm_output.clean_title(answer.title) or request.query), parts

    def plan_sections(
        self,
        request: CourseRequest,
        chapters: list[ChapterHit],
        parts: list[PartPlan],
        part_index: int,
        earlier: list[list[SectionPlan]],
    ) -> list[SectionPlan]:
        deadline = Deadline(self.config.deadline)
        part = parts[part_index]
        prompt = sections_prompt(request, chapters, parts, part_index, earlier, self.budgets)
        answer = self._ask(prompt, "sections", deadline)
        assert isinstance(answer, llm_output.SectionsAnswer)
        sections, notes = to_sections(answer.sections, _known(chapters))
        if not sections:
            raise PlanningError(f"the model planned no sections for part {part_index + 1} '{part.title}'")
        sections, changes = fixes.fit_sections(request, part, sections)
        planned = PlannedPart(title=part.title, minutes=part.minutes, sections=sections)
        before = [PlannedPart(title="", minutes=0, sections=s) for s in earlier]
        failed = [
            *checks.check_part_sums([planned]),
            *checks.check_section_minutes(request, [planned]),
            *checks.check_objectives(request, [planned]),
            *_new_duplicates(before, planned),
        ]
        _report(f"sections of part {part_index + 1}", notes + changes, failed)
        return sections

    def revise(
        self,
        request: CourseRequest,
        chapters: list[ChapterHit],
        outline: list[PlannedPart],
        failed_checks: list[str],
    ) -> list[PlannedPart]:
        deadline = Deadline(self.config.deadline)
        prompt = review_prompt(request, chapters, outline, failed_checks, self.budgets)
        # The whole outline comes back: room for it, twice over, within the configured limit.
        room = min(self.config.max_tokens_limit, 2 * estimate_tokens(outline_json(outline)) + 512)
        answer = self._ask(prompt, "outline", deadline, max(self.config.max_tokens, room), required=False)
        revised: list[PlannedPart] = []
        notes: list[str] = []
        if isinstance(answer, llm_output.OutlineAnswer):
            revised, notes = to_outline(answer, _known(chapters))
        if not revised:
            # The reviewer's deterministic fixes still apply to the outline as planned.
            log.warning(
                "the model's revision was unusable; keeping the outline as planned", extra=_phase("review")
            )
            return outline
        revised, changes = fixes.fit_outline(request, revised)
        _report("revision", notes + changes, checks.check_outline(request, chapters, revised))
        return revised

    # --- talking to the model ---------------------------------------------------------------

    def _ask(
        self,
        prompt: Prompt,
        shape: Shape,
        deadline: Deadline,
        max_tokens: int | None = None,
        required: bool = True,
    ) -> llm_output.Answer | None:
        """The parsed answer; an unreadable one is asked for once more, then it is an error
        (or None when not `required`)."""
        messages = prompt.messages()
        text = self._complete(messages, prompt, shape, deadline, max_tokens)
        try:
            return llm_output.parse_answer(text, shape)
        except UnreadableAnswer as first:
            log.info(
                "%s: unreadable answer (%s); asking again", prompt.phase, first, extra=_phase(prompt.phase)
            )
        messages = [*messages, {"role": "assistant", "content": text}, {"role": "user", "content": _REASK}]
        text = self._complete(messages, prompt, shape, deadline, max_tokens)
        try:
            return llm_output.parse_answer(text, shape)
        except UnreadableAnswer as error:
            if not required:
                return None
            raise PlanningError(f"{prompt.phase}: the model's answer could not be read: {error}") from None

    def _complete(
        self,
        messages: list[dict[str, str]],
        prompt: Prompt,
        shape: Shape,
        deadline: Deadline,
        max_tokens: int | None,
    ) -> str:
        """The answer's text. A truncated answer is retried once with a larger limit, then it
        is a PlanningError: repairing half an outline would be guessing."""
        limit = max_tokens or self.config.max_tokens
        for attempt in (1, 2):
            response = self._create(messages, prompt, shape, deadline, limit)
            choice = response.choices[0] if response.choices else None
            text = (choice.message.content if choice else None) or ""
            self._record(prompt, messages, response, text)
            reason = choice.finish_reason if choice else None
            if reason == "length":
                if attempt == 1 and limit < self.config.max_tokens_limit:
                    log.info("%s: answer truncated at %d tokens; retrying with more",
                             prompt.phase, limit, extra=_phase(prompt.phase))  # fmt: skip
                    limit = min(self.config.max_tokens_limit, 2 * limit)
                    continue
                raise PlanningError(
                    f"{prompt.phase}: the model's answer was cut off at {limit} tokens twice; raise "
                    "COURSEGEN_LLM_MAX_TOKENS or use a model with a larger output limit"
                )
            if reason == "content_filter":
                raise PlanningError(f"{prompt.phase}: the model's answer was withheld by its content filter")
            return text
        raise AssertionError("unreachable")

    def _create(
        self, messages: list[dict[str, str]], prompt: Prompt, shape: Shape, deadline: Deadline, limit: int
    ) -> Any:
        """One chat completion within the deadline, in the best format the server accepts."""
        return self.model.create(
            messages,
            limit,
            deadline,
            what=f"{prompt.phase} planning ({self.config.chat_model})",
            schema_name=f"course_{shape}",
            schema=lambda: llm_output.json_schema(shape, sorted(prompt.allowed)),
            permanent=PlanningError,
        )

    @property
    def config(self) -> OpenAIConfig:
        """The model settings, with the API key once the first call has read it."""
        return self.model.config

    @property
    def response_format(self) -> str:
        """What the planner asks the server for now: json_schema, json_object or text."""
        return self.model.response_format

    def _record(self, prompt: Prompt, messages: list[dict[str, str]], response: Any, text: str) -> None:
        prompt_tokens, completion_tokens = token_counts(response, messages, text, estimate_tokens)
        log.info("%s: %d prompt + %d completion tokens", prompt.phase, prompt_tokens, completion_tokens,
                 extra=_phase(prompt.phase))  # fmt: skip
        if self._usage is not None:
            self._usage(prompt.phase, prompt_tokens, completion_tokens)


# --- mapping the answers, and what is left after each step --------------------------------------


def _known(chapters: Sequence[ChapterHit]) -> set[str]:
    return {hit.ref.key for hit in chapters}


def _phase(phase: str) -> dict[str, str]:
    return {"phase": phase}


def _new_duplicates(before: list[PlannedPart], planned: PlannedPart) -> list[str]:
    known = set(checks.check_duplicates(before))
    return [f for f in checks.check_duplicates([*before, planned]) if f not in known]


def _report(step: str, changes: list[str], failed: Sequence[str] = ()) -> None:
    phase = "parts" if step == "parts" else "review" if step == "revision" else "sections"
    for change in changes:
        log.info("%s: %s", step, change, extra=_phase(phase))
    if failed:
        log.info(
            "%s: %d checks left for the reviewer: %s",
            step,
            len(failed),
            "; ".join(failed[:5]),
            extra=_phase(phase),
        )


def to_ref(key: str) -> ChapterRef:
    book, _, chapter = key.rpartition("#")
    return ChapterRef(book_id=book, chapter_number=int(chapter))


def keep_known(keys: Iterable[str], known: set[str]) -> tuple[list[ChapterRef], list[str]]:
    """The refs among `keys` that are in `known`, and the keys dropped (never replaced)."""
    kept: list[str] = []
    dropped: list[str] = []
    for key in dict.fromkeys(keys):
        (kept if key in known else dropped).append(key)
    return [to_ref(k) for k in kept], dropped


def to_parts(answer: llm_output.PartsAnswer, known: set[str]) -> tuple[list[PartPlan], list[str]]:
    parts, dropped = [], []
    for part in answer.parts:
        if part.title:
            refs, lost = keep_known(part.chapters, known)
            dropped += [f"part '{part.title}': dropped unknown chapter id {k}" for k in lost]
            parts.append(PartPlan(title=part.title, minutes=max(0, part.minutes), chapters=refs))
    return parts, dropped


def to_sections(
    items: Sequence[llm_output.SectionAnswer], known: set[str]
) -> tuple[list[SectionPlan], list[str]]:
    sections, dropped = [], []
    for s in items:
        if s.title:
            refs, lost = keep_known(s.sources, known)
            dropped += [f"section '{s.title}': dropped unknown chapter id {k}" for k in lost]
            sections.append(
                SectionPlan(title=s.title, minutes=max(0, s.minutes), objectives=s.objectives, sources=refs)
            )
    return sections, dropped


def to_outline(answer: llm_output.OutlineAnswer, known: set[str]) -> tuple[list[PlannedPart], list[str]]:
    parts, dropped = [], []
    for part in answer.parts:
        sections, lost = to_sections(part.sections, known)
        dropped += lost
        if sections:
            minutes = part.minutes or sum(s.minutes for s in sections)
            parts.append(PlannedPart(title=part.title or "Part", minutes=minutes, sections=sections))
    return parts, dropped
