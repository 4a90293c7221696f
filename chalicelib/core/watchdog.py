"""The watchdog's decisions: when a course in progress has stalled, and what to do about it.

A course stalls when the event its state expects next was lost: a function killed between
writing the state and publishing the event, an event dead-lettered but never consumed, a
process hung holding its claimed events. Nothing moves it on; its `updated_at` only ages. A
course not written for longer than its phase's deadline is stalled: the watchdog publishes the
event(s) its state expects again (core.resume.resume_point), counting the redrive in the state,
and after `max_redrives` of them ends it failed. Every step's write resets the count (a course
that moves on is no longer stalled), so the bound is on redrives without progress in between.

Pure: the workflow reads the candidates (StateStore.idle), saves what this module decides with
the store's conditional write, and publishes the events only if that write won, so two sweeps
at once redrive or fail a course once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .events import Event
from .models import CourseState, Status
from .phases import record_failure
from .registry import HANDLERS, Phase
from .resume import resume_point

# The phase whose event a course in each status waits for, in workflow order: a queued course
# waits for the search, like a searching one.
PHASE_OF_STATUS: Mapping[Status, Phase] = {
    Status.QUEUED: Phase.SEARCH,
    **{spec.status: spec.phase for spec in HANDLERS},
}
IN_PROGRESS: tuple[Status, ...] = tuple(PHASE_OF_STATUS)
if set(IN_PROGRESS) != {status for status in Status if not status.is_terminal}:
    raise ValueError("every status in progress needs the phase it waits for")

# How long a course may go unwritten in each phase before it counts as stalled. A deadline must
# exceed the longest a live step of the phase can take, retries included, or the watchdog would
# redrive a course that is moving: the planning phases (a model call of up to 300 s on AWS, tried
# three times, a minute and two apart) get 20 minutes; search and storage (120 s functions, no
# model) get 10.
DEFAULT_DEADLINES: Mapping[Phase, timedelta] = {
    Phase.SEARCH: timedelta(minutes=10),
    Phase.PARTS: timedelta(minutes=20),
    Phase.SECTIONS: timedelta(minutes=20),
    Phase.REVIEW: timedelta(minutes=20),
    Phase.STORAGE: timedelta(minutes=10),
}
HANDLER_NAME = "course-watchdog"  # the function that sweeps on AWS, every five minutes
MAX_REDRIVES = 3
BATCH = 100  # courses of one status looked at per sweep; the next sweep takes the rest


@dataclass(frozen=True)
class Policy:
    """When a course is stalled and how often it is redriven before it fails."""

    deadlines: Mapping[Phase, timedelta] = field(default_factory=lambda: dict(DEFAULT_DEADLINES))
    max_redrives: int = MAX_REDRIVES
    batch: int = BATCH

    def __post_init__(self) -> None:
        missing = [phase.value for phase in Phase if phase not in self.deadlines]
        if missing:
            raise ValueError(f"no stall deadline for phase(s) {', '.join(missing)}")
        short = [phase.value for phase, limit in self.deadlines.items() if limit <= timedelta(0)]
        if short:
            raise ValueError(f"the stall deadline of {', '.join(short)} must be positive")
        if self.max_redrives < 0 or self.batch < 1:
            raise ValueError("max_redrives must be 0 or more and batch at least 1")

    def deadline(self, status: Status) -> timedelta:
        """How long a course in `status` may go unwritten. ValueError for complete or failed."""
        phase = PHASE_OF_STATUS.get(status)
        if phase is None:
            raise ValueError(f"a {status.value} course cannot stall")
        return self.deadlines[phase]

    def idle_before(self, status: Status, now: datetime) -> datetime:
        """Courses in `status` last written before this instant are stalled at `now`."""
        return now - self.deadline(status)


def parse_time(stamp: str) -> datetime:
    """A state's timestamp as an aware datetime (one without an offset is UTC)."""
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """The form the workflow's clock writes: UTC, milliseconds, a Z; it sorts as it compares."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sort_key(stamp: str) -> str:
    """`stamp` in the one form every store indexes, so that text order is time order whatever
    offset or precision the timestamp was written with."""
    return format_time(parse_time(stamp))


def is_stalled(state: CourseState, now: datetime, policy: Policy) -> bool:
    """Whether the course is in progress and was last written longer ago than its phase allows."""
    if state.status.is_terminal:
        return False
    return parse_time(state.updated_at) < policy.idle_before(state.status, now)


@dataclass(frozen=True)
class Remedy:
    """What to do with a stalled course: save `state` (conditionally, on the version read), then
    publish `events`. `gave_up` when the state ends the course failed."""

    state: CourseState
    events: tuple[Event, ...]
    gave_up: bool
    phase: Phase

    @property
    def redrive(self) -> bool:
        return not self.gave_up


def stall_reason(phase: Phase, deadline: timedelta, redrives: int) -> str:
    """Why a stalled course failed, in a sentence a learner can read."""
    minutes = round(deadline.total_seconds() / 60)
    waited = f"no progress for {minutes} minute{'s' if minutes != 1 else ''}"
    if redrives == 0:
        return f"stalled in {phase.value}: {waited}"
    times = f"{redrives} redrive{'s' if redrives != 1 else ''}"
    return f"stalled in {phase.value}: {waited} after {times} of its next step"


def remedy(state: CourseState, now: datetime, policy: Policy) -> Remedy | None:
    """None when the course is not stalled at `now`; else the redrive (the state back at the
    phase whose work it lacks, its redrives counted, its clock restarted, and the events that
    phase consumes) or, once `max_redrives` redrives brought no progress, the course failed."""
    if not is_stalled(state, now, policy):
        return None
    phase = PHASE_OF_STATUS[state.status]
    stamp = format_time(now)
    if state.redrives >= policy.max_redrives:
        reason = stall_reason(phase, policy.deadline(state.status), state.redrives)
        failed, event = record_failure(state, phase.value, reason, stamp)
        return Remedy(state=failed, events=(event,), gave_up=True, phase=phase)
    status, events = resume_point(state)
    redrives = state.redrives + 1
    redriven = state.model_copy(update={"status": status, "updated_at": stamp, "redrives": redrives})
    return Remedy(state=redriven, events=events, gave_up=False, phase=phase)


@dataclass
class SweepSummary:
    """What one sweep did: the courses it looked at, redrove and failed, those another writer
    changed first (left to the next sweep) and those it could not handle (an error, logged)."""

    checked: int = 0
    redriven: int = 0
    failed: int = 0
    raced: int = 0
    errors: int = 0

    def as_fields(self) -> dict[str, int]:
        return {
            "checked": self.checked,
            "redriven": self.redriven,
            "failed": self.failed,
            "raced": self.raced,
            "errors": self.errors,
        }
