"""The service layer: one method per entry point, each loading state, deciding, doing the I/O
of its step and saving before it publishes. Which handler runs when lives in core.registry; each
phase's step is bound to it here with `@step`."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import logs
from .core import phases, registry, rules, watchdog
from .core.events import Event, EventName, PartDetail, make_event, parse_detail
from .core.fixes import WriteObjectives
from .core.models import (
    ChapterHit,
    CourseRequest,
    CourseState,
    Outline,
    PartPlan,
    PlannedPart,
    SectionPlan,
    Status,
)
from .core.outline import build_outline
from .core.paging import Page, PageKey, SourcePage, merge_newest_first
from .core.phases import PartWritten, Verdict
from .core.registry import HandlerSpec, Phase
from .core.resume import resume_failed
from .core.retrieval import query_terms, relevant_chapters, search_text
from .core.review import review_outline
from .errors import (
    BookFileError,
    CourseConflict,
    CourseNotFound,
    InvalidRequest,
    LibraryError,
    PermanentFailure,
    StaleState,
    TransientError,
)
from .planning.usage import UsageRecorder, UsageTally
from .ports import (
    BookInfo,
    CourseStore,
    Embedder,
    EventNotPublished,
    EventPublisher,
    Ingestion,
    IngestionLog,
    KeyedCourse,
    Library,
    LibraryAdmin,
    Planner,
    RequestKey,
    RequestKeyTaken,
    SearchParams,
    StateStore,
)

if TYPE_CHECKING:
    from .ingest.upload import Added, Upload

log = logging.getLogger("coursegen.workflow")


@dataclass
class Deps:
    """Everything the workflow talks to; built once per process by bootstrap.py."""

    state_store: StateStore
    publisher: EventPublisher
    library: Library
    course_store: CourseStore
    planner: Planner
    embedder: Embedder
    clock: Callable[[], str]
    new_id: Callable[[], str]
    search: SearchParams = field(default_factory=SearchParams)
    usage: UsageRecorder = field(default_factory=UsageRecorder)  # the model planner reports here
    # Plan the sections of every part at once, one delivery per part (COURSEGEN_SECTIONS);
    # False plans them one part after another. A course keeps the choice made when its parts
    # were planned.
    parallel_sections: bool = True
    # How long an Idempotency-Key sent with POST /courses answers with the course it created.
    request_key_hours: float = 24.0
    # When a course in progress counts as stalled and how often it is redriven (core.watchdog).
    stall_policy: watchdog.Policy = field(default_factory=watchdog.Policy)

    # The uploads of books to the books bucket and how far each got (GET /books); None: none.
    ingestions: IngestionLog | None = None


@dataclass(frozen=True)
class Submitted:
    """What POST /courses answers: the course, and whether the request was sent before (its
    Idempotency-Key named a course already), so nothing new was created."""

    course_id: str
    status: Status
    replayed: bool


def request_fingerprint(request: CourseRequest) -> str:
    """The hash a request key records: equal for requests that mean the same (defaults filled in)."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def _epoch_seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


@dataclass(frozen=True)
class CourseView:
    """What GET /courses/{id} shows: the state, and the outline once stored."""

    state: CourseState | None
    outline: Outline | None
    created_at: str

    @property
    def status(self) -> str:
        return self.state.status.value if self.state else Status.COMPLETE.value

    @property
    def key(self) -> PageKey:
        """Where the course sits in the newest-first listing."""
        course_id = self.state.course_id if self.state else self.outline.course_id if self.outline else ""
        return PageKey(created_at=self.created_at, course_id=course_id)


# A step does the I/O of one phase: given the state the guard accepted and the event, it returns
# the state it leaves and the events to publish next, which the workflow saves and publishes
# together (in one transaction where the state store keeps an outbox). The step of one part of
# a course planned in parallel returns the part's result instead, written beside the state.
Outcome = tuple[CourseState, Event | tuple[Event, ...]] | PartWritten
Step = Callable[["Workflow", CourseState, Event], Outcome]
STEPS: dict[Phase, Step] = {}


def step(phase: Phase) -> Callable[[Step], Step]:
    """Bind the decorated method to `phase`: the workflow runs it for every handler of that phase."""

    def bind(function: Step) -> Step:
        if phase in STEPS:
            raise ValueError(f"phase {phase.value} has two steps")
        STEPS[phase] = function
        return function

    return bind


def _log(level: int, message: str, state_or_id: CourseState | str | None, phase: str, **extra: Any) -> None:
    course_id = state_or_id.course_id if isinstance(state_or_id, CourseState) else state_or_id
    log.log(level, message, extra={"course_id": course_id, "phase": phase, **extra})


def offline_objectives(request: CourseRequest) -> WriteObjectives:
    """The objectives the review writes for a section whose own cannot be repaired: the offline
    planner's, for a one-section part on the chapters the section cites. The one place the
    review reaches the offline objective writer, whatever planner made the outline."""
    from .planning.offline import OfflinePlanner  # loaded only when a repair needs it

    lo, hi = rules.section_minutes_range(request.preferences.pace)

    def write(section: SectionPlan, chapters: Sequence[ChapterHit], taken: Sequence[str]) -> list[str]:
        part = PartPlan(
            title=section.title, minutes=min(hi, max(lo, section.minutes)), chapters=[h.ref for h in chapters]
        )
        # An earlier "section" holding the course's objectives, so none of them is written again.
        earlier = [[SectionPlan(title="", minutes=0, objectives=list(taken))]]
        planned = OfflinePlanner().plan_sections(request, list(chapters), [part], 0, earlier)
        return [objective for s in planned for objective in s.objectives]

    return write


# The watchdog's summary line carries its counts as CloudWatch metrics (the embedded metric
# format) when the caller names the dimensions: the alarm on redrives reads them.
METRICS_NAMESPACE = "Coursegen"
SWEEP_METRICS = {"redriven": "StalledCoursesRedriven", "failed": "StalledCoursesFailed"}


class Watchdog:
    """Finds the courses in progress that stalled and redrives or fails them (core.watchdog
    decides). It needs the state store and the bus only, so the function that runs it on AWS
    reads no secret and reaches neither the database nor the model."""

    def __init__(self, state_store: StateStore, publisher: EventPublisher, policy: watchdog.Policy) -> None:
        self.state_store = state_store
        self.publisher = publisher
        self.policy = policy

    def sweep(self, now: datetime, metrics: Mapping[str, str] | None = None) -> watchdog.SweepSummary:
        """One pass over every status in progress: each course idle past its phase's deadline
        at `now` is redriven or, after the policy's redrives, failed. The write is conditional on
        the version read and the events go out only if it won, so sweeps running at once act on
        a course once. A course that cannot be handled is logged and left to the next sweep.
        `metrics`: the dimensions under which the summary line reports its counts as metrics."""
        summary = watchdog.SweepSummary()
        for status in watchdog.IN_PROGRESS:
            before = self.policy.idle_before(status, now)
            for state in self.state_store.idle(status, before, self.policy.batch):
                summary.checked += 1
                self._remedy(state, now, summary)
        fields: dict[str, Any] = summary.as_fields()
        if metrics is not None:
            fields.update(_metric_fields(summary, metrics, now))
        # A quiet sweep is worth a line only where it feeds the metrics (every minute locally).
        acted = summary.redriven or summary.failed or summary.errors
        level = logging.WARNING if acted else logging.INFO if metrics is not None else logging.DEBUG
        log.log(level, "watchdog swept", extra={"phase": "watchdog", "fields": fields})
        return summary

    def _remedy(self, state: CourseState, now: datetime, summary: watchdog.SweepSummary) -> None:
        remedy = watchdog.remedy(state, now, self.policy)
        if remedy is None:
            return  # not stalled after all (a store may read a little ahead of `now`)
        phase = remedy.phase.value
        try:
            self.state_store.save_and_publish_all(remedy.state, remedy.events, self.publisher)
        except StaleState:
            summary.raced += 1  # a step or another sweep wrote first: the course moved
            return
        except Exception as error:
            summary.errors += 1
            _log(logging.ERROR, f"watchdog could not act on the stalled course: {error}", state, phase)
            return
        if remedy.gave_up:
            summary.failed += 1
            reason = remedy.state.error.reason if remedy.state.error else "stalled"
            _log(logging.WARNING, f"course failed: {reason}", state, phase, status=Status.FAILED.value)
        else:
            summary.redriven += 1
            names = ", ".join(dict.fromkeys(event.name.value for event in remedy.events))
            _log(
                logging.WARNING,
                f"stalled in {phase}: redrove {names}"
                f" ({remedy.state.redrives} of {self.policy.max_redrives})",
                state,
                phase,
                status=remedy.state.status.value,
            )


def _metric_fields(
    summary: watchdog.SweepSummary, dimensions: Mapping[str, str], now: datetime
) -> dict[str, Any]:
    """The embedded-metric-format block and values: CloudWatch turns the log line into metrics."""
    counts = summary.as_fields()
    return {
        **dimensions,
        **{metric: counts[count] for count, metric in SWEEP_METRICS.items()},
        "_aws": {
            "Timestamp": int(now.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": metric, "Unit": "Count"} for metric in SWEEP_METRICS.values()],
                }
            ],
        },
    }


class Workflow:
    def __init__(self, deps: Deps):
        self.deps = deps

    # --- the watchdog -----------------------------------------------------------------------

    def sweep(self, now: datetime, metrics: Mapping[str, str] | None = None) -> watchdog.SweepSummary:
        """Redrive or fail the courses that stalled (Watchdog.sweep) with this workflow's store,
        bus and policy."""
        d = self.deps
        return Watchdog(d.state_store, d.publisher, d.stall_policy).sweep(now, metrics)

    # --- entry point: POST /courses ---------------------------------------------------------

    def submit(self, user_id: str, request: CourseRequest) -> CourseState:
        """Embed the query, create the state and announce it. Nothing is written if embedding
        fails; the state is written before the event, so the first handler always finds it."""
        return self._create(user_id, request, None, None)

    def submit_keyed(self, user_id: str, request: CourseRequest, request_key: str) -> Submitted:
        """`submit` with the caller's `Idempotency-Key`: the same caller sending the same key
        again within `request_key_hours` gets the course the key created the first time, even
        when both requests arrive at once; the key sent with a different request is refused
        (InvalidRequest, code idempotency_key_reused). A key whose course was deleted since
        creates a new course."""
        d = self.deps
        now = _epoch_seconds(d.clock())
        key = RequestKey(
            user_id=user_id,
            key=request_key,
            fingerprint=request_fingerprint(request),
            now=now,
            expires_at=now + d.request_key_hours * 3600,
        )
        replaces: str | None = None
        for _ in range(3):  # a deleted course's key taken over by a concurrent request: read again
            held = d.state_store.find_keyed(user_id, request_key, now)
            if held is not None:
                again = self._replay(user_id, key, held)
                if again is not None:
                    return again
                replaces = held.course_id
            try:
                state = self._create(user_id, request, key, replaces)
            except RequestKeyTaken as taken:  # a request with the same key won the race
                again = self._replay(user_id, key, taken.taken)
                if again is not None:
                    return again
                replaces = taken.taken.course_id
                continue
            return Submitted(course_id=state.course_id, status=state.status, replayed=False)
        raise TransientError(f"the request key {request_key!r} is in use by concurrent requests; try again")

    def _replay(self, user_id: str, key: RequestKey, held: KeyedCourse) -> Submitted | None:
        """The course `held` created, as the answer to a request sent again; None if it is gone."""
        if held.fingerprint != key.fingerprint:
            raise InvalidRequest(
                f"the Idempotency-Key {key.key!r} was sent with another request (course"
                f" {held.course_id}); use a new key for a new request",
                code="idempotency_key_reused",
            )
        try:
            view = self.view(user_id, held.course_id)
        except CourseNotFound:
            return None
        _log(logging.INFO, "request sent again: its course answered", held.course_id, "request")
        return Submitted(course_id=held.course_id, status=Status(view.status), replayed=True)

    def _create(
        self, user_id: str, request: CourseRequest, key: RequestKey | None, replaces: str | None
    ) -> CourseState:
        d = self.deps
        try:
            [embedding] = d.embedder.embed([search_text(request.query)])
        except TransientError as error:
            raise TransientError(f"the query could not be embedded: {error}") from error
        except PermanentFailure as error:
            raise PermanentFailure(f"the query could not be embedded: {error}") from error
        now = d.clock()
        state = CourseState(
            course_id=d.new_id(),
            user_id=user_id,
            request=request,
            created_at=now,
            updated_at=now,
            embedder=d.embedder.kind,
            query_embedding=embedding,
        )
        first_event = make_event(EventName.EMBEDDING_GENERATED, state.course_id)
        try:
            if key is None:
                state = d.state_store.create_and_publish(state, first_event, d.publisher)
            else:
                state = d.state_store.create_keyed_and_publish(state, key, first_event, d.publisher, replaces)
        except EventNotPublished as not_published:
            # Nobody retries a request whose event never left: end the course now rather than
            # leave it queued, and let the caller try again.
            cause = not_published.__cause__ or not_published
            reason = f"the course could not be announced: {cause}"
            try:
                self.fail_course(state.course_id, "request", reason)
            except Exception:  # saved as failed before CourseFailed is published: enough
                log.warning("could not announce the failure", exc_info=True, extra={"phase": "request"})
            raise TransientError(reason) from cause
        _log(logging.INFO, "course queued", state, "request")
        return state

    # --- the six event handlers -------------------------------------------------------------

    def handle(self, name: EventName, raw_detail: dict[str, Any]) -> None:
        """Apply one delivered event. Duplicates are logged no-ops; permanent failures end the
        course as failed; anything else propagates so the platform retries."""
        detail = parse_detail(name, raw_detail)
        spec = registry.BY_EVENT[name]
        with logs.context(course_id=detail.course_id, phase=spec.phase.value):
            self._handle(Event(name=name, detail=detail), spec)

    def _handle(self, event: Event, spec: HandlerSpec) -> None:
        name, detail, phase = event.name, event.detail, spec.phase.value
        store = self.deps.state_store
        state = store.get(detail.course_id)
        if (
            state is not None
            and state.fan_out
            and state.status is Status.GENERATING_SECTIONS
            and spec.phase is Phase.SECTIONS
        ):
            # The parts planned so far, each written by its own delivery: what the guard and the
            # fan-in need to see.
            state = state.model_copy(update={"planned": store.get_parts(state.course_id, state.parts_total)})
        decision = registry.decide(state, event)
        if decision.verdict is Verdict.IGNORE:
            _log(logging.INFO, f"ignored {name.value}: {decision.reason}", detail.course_id, phase)
            return
        if decision.verdict is Verdict.REPUBLISH:
            names = ", ".join(dict.fromkeys(e.name.value for e in decision.events))
            _log(logging.INFO, f"republished {names}: {decision.reason}", state, phase)
            for again in decision.events:
                self.deps.publisher.publish(again)
            return
        assert state is not None
        try:
            outcome = STEPS[spec.phase](self, state, event)
            if isinstance(outcome, PartWritten):
                store.put_part_and_publish(
                    outcome.course_id, outcome.part_index, outcome.result, outcome.event, self.deps.publisher
                )
                _log(logging.INFO, f"{name.value} -> {outcome.event.name.value}", state, phase)
                return
            left, announce = outcome
            next_events = announce if isinstance(announce, tuple) else (announce,)
            state = store.save_and_publish_all(left, next_events, self.deps.publisher)
        except StaleState:
            _log(logging.INFO, f"ignored {name.value}: a concurrent delivery won", state, phase)
            return
        except PermanentFailure as error:
            self.fail_course(state.course_id, phase, str(error))
            return
        published = ", ".join(dict.fromkeys(e.name.value for e in next_events))
        _log(logging.INFO, f"{name.value} -> {published}", state, phase, status=state.status.value)

    @step(Phase.SEARCH)
    def _search(self, state: CourseState, event: Event) -> tuple[CourseState, Event]:
        d = self.deps
        if state.status is Status.QUEUED:
            state = d.state_store.save(phases.start_search(state, d.clock()))
        # The query text travels in the state's request; its terms drive the full-text half.
        terms = query_terms(search_text(state.request.query))
        # The shared books and the course's user's own: never another user's (ports.Library).
        found = d.library.search(state.query_embedding, state.embedder, d.search, terms, caller=state.user_id)
        hits = relevant_chapters(found, terms, d.search.evidence())
        state, next_event = phases.record_hits(state, hits, d.clock())
        return state, next_event

    @staticmethod
    def _with_usage(state: CourseState, tally: UsageTally) -> CourseState:
        """The state with the model tokens its step just spent added to its usage."""
        return state.model_copy(update={"usage": state.usage.plus(tally.usage)})

    @step(Phase.PARTS)
    def _parts(self, state: CourseState, event: Event) -> Outcome:
        d = self.deps
        with d.usage.measure() as tally:
            title, parts = d.planner.plan_parts(state.request, state.chapters)
        state, next_events = phases.record_parts(
            self._with_usage(state, tally), title, parts, d.clock(), fan_out=d.parallel_sections
        )
        return state, next_events

    @step(Phase.SECTIONS)
    def _sections(self, state: CourseState, event: Event) -> Outcome:
        d = self.deps
        if state.fan_out:
            return self._part_sections(state, event)
        part_index = event.detail.part_index + 1 if isinstance(event.detail, PartDetail) else 0
        if part_index >= state.parts_total:
            state, next_event = phases.finish_sections(state, d.clock())
            return state, next_event
        with d.usage.measure() as tally:
            sections = d.planner.plan_sections(
                state.request, state.chapters, state.parts, part_index, state.sections
            )
        state, next_event = phases.record_sections(
            self._with_usage(state, tally), part_index, sections, d.clock()
        )
        return state, next_event

    def _part_sections(self, state: CourseState, event: Event) -> Outcome:
        """Parallel sections: PartsGenerated(k) plans part k alone, seeing every part's title,
        minutes and chapters but no other part's sections; PartSectionsGenerated(k) is the
        fan-in, run by the delivery that finds every part planned."""
        d = self.deps
        part_index = event.part_index
        assert part_index is not None
        if event.name is EventName.PART_SECTIONS_GENERATED:
            return phases.fan_in(state, part_index, d.clock())
        with d.usage.measure() as tally:
            sections = d.planner.plan_sections(state.request, state.chapters, state.parts, part_index, [])
        return phases.record_part(state, part_index, sections, tally.usage)

    @step(Phase.REVIEW)
    def _review(self, state: CourseState, event: Event) -> tuple[CourseState, Event]:
        d = self.deps

        def revise(outline: list[PlannedPart], failed: list[str]) -> list[PlannedPart]:
            return d.planner.revise(state.request, state.chapters, outline, failed)

        write = offline_objectives(state.request)
        with d.usage.measure() as tally:
            reviewed, notes = review_outline(
                state.request, state.chapters, phases.assemble(state), revise, write
            )
        state, next_event = phases.record_review(self._with_usage(state, tally), reviewed, notes, d.clock())
        return state, next_event

    @step(Phase.STORAGE)
    def _storage(self, state: CourseState, event: Event) -> tuple[CourseState, Event]:
        d = self.deps
        # An upsert keyed by course id with deterministic section ids: a redelivery after a
        # crash between this write and the state save stores the same rows again.
        d.course_store.store(state.user_id, build_outline(state), state.created_at)
        state, next_event = phases.record_stored(state, d.clock())
        return state, next_event

    # --- failure ----------------------------------------------------------------------------

    def _fail(self, state: CourseState, phase: str, reason: str) -> None:
        failed, event = phases.record_failure(state, phase, reason, self.deps.clock())
        self.deps.state_store.save_and_publish(failed, event, self.deps.publisher)
        _log(logging.WARNING, f"course failed: {reason}", state, phase)

    def fail_course(self, course_id: str, phase: str, reason: str) -> bool:
        """End a course as failed from outside a step (dead-letter queue, local bus giving up).
        Returns False when the course is unknown or already terminal."""
        for _ in range(5):
            state = self.deps.state_store.get(course_id)
            if state is None or state.status.is_terminal:
                return False
            try:
                self._fail(state, phase, reason)
                return True
            except StaleState:
                continue  # a step wrote meanwhile: reload and try again
        return False

    # --- reads -------------------------------------------------------------------------------

    def view(self, user_id: str, course_id: str) -> CourseView:
        """The course as its owner sees it. Another user's course is indistinguishable from
        a missing one."""
        d = self.deps
        state = d.state_store.get(course_id)
        if state is not None:
            if state.user_id != user_id:
                raise CourseNotFound(course_id)
            if state.fan_out and state.parts and not state.sections and not state.reviewed:
                # Parts planned at once: how many are done is what their results say.
                state = state.model_copy(
                    update={"planned": d.state_store.get_parts(course_id, state.parts_total)}
                )
            outline = None
            if state.status is Status.COMPLETE:
                stored = d.course_store.get(course_id)
                outline = stored.outline if stored else build_outline(state)
            return CourseView(state=state, outline=outline, created_at=state.created_at)
        stored = d.course_store.get(course_id)  # state expired (TTL) but the course is kept
        if stored is None or stored.user_id != user_id:
            raise CourseNotFound(course_id)
        return CourseView(state=None, outline=stored.outline, created_at=stored.created_at)

    def list_page(
        self, user_id: str, limit: int, cursor: PageKey | None = None, status: Status | None = None
    ) -> Page[CourseView]:
        """One page of the user's courses, newest first, after `cursor`: those in the state
        store (in progress, or finished within the state's TTL) merged with those stored for
        good, each course once. Only courses in `status` when given."""
        d = self.deps
        wanted = limit + 1  # one more than the page, to know whether another follows
        states = d.state_store.list_page(user_id, wanted, before=cursor, status=status)
        sources = [
            SourcePage(
                items=[CourseView(state=s, outline=None, created_at=s.created_at) for s in states],
                last_read=_last_read(states, wanted, lambda s: PageKey(s.created_at, s.course_id)),
            )
        ]
        if status in (None, Status.COMPLETE):
            stored = d.course_store.list_page(user_id, wanted, before=cursor)
            views = [CourseView(state=None, outline=c.outline, created_at=c.created_at) for c in stored]
            if status is Status.COMPLETE:
                # A stored outline whose state is kept but no longer complete (being retried
                # after its state failed) is not complete; the state store, filtered, did not say.
                listed = {s.course_id for s in states}
                views = [
                    v for v in views if v.key.course_id in listed or self._complete_or_gone(v.key.course_id)
                ]
            sources.append(
                SourcePage(
                    items=views,
                    last_read=_last_read(
                        stored, wanted, lambda c: _stored_key(c.outline.course_id, c.created_at)
                    ),
                )
            )
        return merge_newest_first(sources, key=lambda view: view.key, limit=limit)

    def _complete_or_gone(self, course_id: str) -> bool:
        state = self.deps.state_store.get(course_id)
        return state is None or state.status is Status.COMPLETE

    # --- actions on a course ----------------------------------------------------------------

    def _owned_state(self, user_id: str, course_id: str) -> CourseState | None:
        """The course's state, None if only its stored outline remains; CourseNotFound if the
        caller does not own it or it does not exist."""
        d = self.deps
        state = d.state_store.get(course_id)
        if state is not None:
            if state.user_id != user_id:
                raise CourseNotFound(course_id)
            return state
        stored = d.course_store.get(course_id)
        if stored is None or stored.user_id != user_id:
            raise CourseNotFound(course_id)
        return None

    def retry(self, user_id: str, course_id: str) -> CourseState:
        """Resume a failed course from the phase that failed, under the same id: its state goes
        back to that phase's status and the event that phase consumes is published again.
        CourseConflict unless the course has failed."""
        d = self.deps
        state = self._owned_state(user_id, course_id)
        if state is None or state.status is not Status.FAILED:
            shown = state.status.value if state is not None else Status.COMPLETE.value
            raise CourseConflict(
                f"course {course_id} is {shown}; only a failed course can be retried", code="not_failed"
            )
        failure = state.error
        resumed, events = resume_failed(state, d.clock())
        if resumed.status is Status.QUEUED and state.embedder != d.embedder.kind:
            # The library was re-indexed since: search with a query vector it can compare.
            try:
                [embedding] = d.embedder.embed([search_text(state.request.query)])
            except TransientError as error:
                raise TransientError(f"the query could not be embedded: {error}") from error
            except PermanentFailure as error:
                raise PermanentFailure(f"the query could not be embedded: {error}") from error
            resumed = resumed.model_copy(update={"embedder": d.embedder.kind, "query_embedding": embedding})
        try:
            # Locally the state and its event commit together (the outbox); elsewhere the event
            # is published right after the write.
            resumed = d.state_store.save_and_publish_all(resumed, events, d.publisher)
        except StaleState:
            raise CourseConflict(
                f"course {course_id} changed meanwhile (retried already?); fetch it and try again",
                code="not_failed",
            ) from None
        except Exception as error:
            # As for a new course: nobody would deliver the event, so end it failed again now.
            reason = f"the retry could not be announced: {error}"
            try:
                self.fail_course(course_id, "retry", reason)
            except Exception:
                log.warning("could not announce the failure", exc_info=True, extra={"phase": "retry"})
            raise TransientError(reason) from error
        _log(
            logging.INFO,
            f"course retried from {failure.phase if failure else '?'}",
            resumed,
            "retry",
            status=resumed.status.value,
        )
        return resumed

    def delete(self, user_id: str, course_id: str) -> None:
        """Remove a finished or failed course: its state and its stored outline. CourseConflict
        while it is in progress."""
        d = self.deps
        state = self._owned_state(user_id, course_id)
        if state is not None:
            if not state.status.is_terminal:
                raise CourseConflict(
                    f"course {course_id} is {state.status.value}; wait until it is complete or failed",
                    code="in_progress",
                )
            try:
                # Conditional on the version read: a retry that started meanwhile wins.
                d.state_store.delete(course_id, state.version)
            except StaleState:
                raise CourseConflict(
                    f"course {course_id} changed meanwhile; fetch it and try again", code="in_progress"
                ) from None
        # After the state: a crash in between leaves the stored outline, still listed and
        # deletable, rather than a kept state pointing at nothing.
        d.course_store.delete(course_id)
        _log(logging.INFO, "course deleted", course_id, "delete")

    def list_books(self, user_id: str) -> list[BookInfo]:
        """The books `user_id`'s courses draw on (the shared ones and their own), by title."""
        return self._library_admin().list_books(visible_to=user_id)

    def add_document(self, upload: Upload, out_dir: Path) -> Added:
        """One document added to the library as `coursegen library add` adds it, embedded with
        this workflow's embedder. InvalidRequest (unreadable_document) with the pipeline's reason
        when it cannot be read, or library_conflict when the library cannot take it; the
        library is then unchanged."""
        from .ingest.upload import add_upload

        try:
            added = add_upload(upload, self._library_admin(), self.deps.embedder, out_dir)
        except BookFileError as error:  # the document (DocumentError) or the book derived from it
            raise InvalidRequest(str(error), field="document", code="unreadable_document") from None
        except LibraryError as error:  # e.g. indexed with another embedder: `library reindex`
            raise InvalidRequest(str(error), code="library_conflict") from None
        if added.added:
            book = added.book
            _log(logging.INFO, f"book added: {book.title} ({book.chapters} chapters)", None, "library")
        return added

    def _library_admin(self) -> LibraryAdmin:
        library = self.deps.library
        if not isinstance(library, LibraryAdmin):
            raise TypeError(f"{type(library).__name__} cannot list or load books")
        return library

    def list_ingestions(self, owner: str) -> list[Ingestion]:
        """The owner's uploads to the books bucket, the most recently updated first."""
        log = self.deps.ingestions
        return log.list_for_owner(owner) if log is not None else []


def _stored_key(course_id: str, created_at: str) -> PageKey:
    return PageKey(created_at=created_at, course_id=course_id)


def _last_read(items: Sequence[Any], wanted: int, key: Callable[[Any], PageKey]) -> PageKey | None:
    """The key of the last item a store returned when it returned all that was asked (it may
    hold more); None when it returned fewer (it has no more)."""
    return key(items[-1]) if len(items) >= wanted and items else None
