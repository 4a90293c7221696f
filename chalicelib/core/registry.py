"""The workflow's handlers in one table: for each, the event it consumes, its Chalice (and Lambda)
name, the phase it reports, the status it runs in, what it publishes, whether it spends model
tokens and when it runs. app.py, the workflow, bootstrap, the CLI and the deploy step read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from . import phases
from .events import Event, EventName, pattern_for
from .models import CourseState, Status
from .phases import Decision, Guard


class Phase(StrEnum):
    """The name a handler reports in logs and in a failed course's `error.phase`; the workflow
    binds one step function to each. Two handlers plan sections, so they share a phase."""

    SEARCH = "search"
    PARTS = "parts"
    SECTIONS = "sections"
    REVIEW = "review"
    STORAGE = "storage"


@dataclass(frozen=True)
class HandlerSpec:
    """One workflow handler: an `@app.on_cw_event` in app.py, a Lambda and an EventBridge rule."""

    handler: str  # the Chalice function name, hence the Lambda's and its EventBridge rule's
    consumes: EventName
    phase: Phase
    status: Status  # the course's status while the step runs
    publishes: tuple[EventName, ...]  # on success; any step may end the course with CourseFailed
    spends_tokens: bool  # whether its step may call the model planner
    does: str  # what its step does, in one line
    guard: Guard  # RUN, REPUBLISH or None (ignore) for a delivered event; see core.phases

    @property
    def pattern(self) -> dict[str, list[str]]:
        """The EventBridge rule pattern that routes `consumes` to this handler."""
        return pattern_for(self.consumes)


# The handler names are the first deployment's (Lambda, rule and alarm names depend on them) and
# most name the event they consume, not their work: course-book-search-handler plans the parts.
SEARCH_LIBRARY = HandlerSpec(
    handler="course-embedding-handler",
    consumes=EventName.EMBEDDING_GENERATED,
    phase=Phase.SEARCH,
    status=Status.SEARCHING,
    publishes=(EventName.BOOK_SUMMARIES_FOUND,),
    spends_tokens=False,
    does="searches the library for the chapters closest to the query's embedding",
    guard=phases.search_guard,
)
PLAN_PARTS = HandlerSpec(
    handler="course-book-search-handler",
    consumes=EventName.BOOK_SUMMARIES_FOUND,
    phase=Phase.PARTS,
    status=Status.PLANNING,
    publishes=(EventName.PARTS_GENERATED,),
    spends_tokens=True,
    does=(
        "plans the parts (titles and minutes) from the chapters found; asks for part 1's sections,"
        " or with parallel sections for every part's at once (one PartsGenerated per part index)"
    ),
    guard=phases.parts_guard,
)
PLAN_FIRST_PART = HandlerSpec(
    handler="course-parts-handler",
    consumes=EventName.PARTS_GENERATED,
    phase=Phase.SECTIONS,
    status=Status.GENERATING_SECTIONS,
    publishes=(EventName.PART_SECTIONS_GENERATED,),
    spends_tokens=True,
    does=(
        "plans the sections of part 1, or with parallel sections of the part the event names,"
        " written beside the state (PartSectionsGenerated with that index)"
    ),
    guard=phases.first_part_guard,
)
PLAN_NEXT_PART = HandlerSpec(
    handler="course-sections-handler",
    consumes=EventName.PART_SECTIONS_GENERATED,
    phase=Phase.SECTIONS,
    status=Status.GENERATING_SECTIONS,
    publishes=(EventName.PART_SECTIONS_GENERATED, EventName.ALL_PARTS_COMPLETE),
    spends_tokens=True,
    does=(
        "plans the next part's sections, or announces that every part is planned; with parallel"
        " sections it is the fan-in: the delivery that finds every part written gathers them"
        " and announces AllPartsComplete"
    ),
    guard=phases.next_part_guard,
)
REVIEW_OUTLINE = HandlerSpec(
    handler="course-outline-reviewer",
    consumes=EventName.ALL_PARTS_COMPLETE,
    phase=Phase.REVIEW,
    status=Status.REVIEWING,
    publishes=(EventName.OUTLINE_REVIEW,),
    spends_tokens=True,
    does="checks the outline, asks for a revision only if a check fails, and repairs what still fails",
    guard=phases.review_guard,
)
STORE_COURSE = HandlerSpec(
    handler="course-storage-handler",
    consumes=EventName.OUTLINE_REVIEW,
    phase=Phase.STORAGE,
    status=Status.STORING,
    publishes=(EventName.COURSE_STORED,),
    spends_tokens=False,
    does="stores the course and its sections (one transaction, an upsert)",
    guard=phases.storage_guard,
)

# In the order a course passes through them.
HANDLERS: tuple[HandlerSpec, ...] = (
    SEARCH_LIBRARY,
    PLAN_PARTS,
    PLAN_FIRST_PART,
    PLAN_NEXT_PART,
    REVIEW_OUTLINE,
    STORE_COURSE,
)


BY_EVENT: Mapping[EventName, HandlerSpec] = {spec.consumes: spec for spec in HANDLERS}
BY_HANDLER: Mapping[str, HandlerSpec] = {spec.handler: spec for spec in HANDLERS}
if not len(BY_EVENT) == len(BY_HANDLER) == len(HANDLERS):
    raise ValueError("every handler needs a name and an event of its own")
BY_PHASE: Mapping[Phase, tuple[HandlerSpec, ...]] = {
    phase: tuple(spec for spec in HANDLERS if spec.phase is phase) for phase in Phase
}
# The phases TokenUsage counts, in workflow order; its fields are exactly these.
TOKEN_PHASES: tuple[Phase, ...] = tuple(
    phase for phase, specs in BY_PHASE.items() if any(spec.spends_tokens for spec in specs)
)


def decide(state: CourseState | None, event: Event) -> Decision:
    """Whether `event` is the one `state` expects (RUN), announces a step that already ran but
    whose successor may not have been published (REPUBLISH), or is a duplicate/stale (IGNORE)."""
    if state is None:
        return phases.ignore("unknown course")
    if state.status is Status.FAILED:
        return phases.ignore("course already failed")
    spec = BY_EVENT.get(event.name)
    decision = spec.guard(state, event) if spec is not None else None
    if decision is not None:
        return decision
    progress = f"{state.parts_done}/{state.parts_total} parts"
    return phases.ignore(f"duplicate or stale: course is {state.status.value} with {progress}")
