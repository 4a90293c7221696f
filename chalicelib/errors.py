"""Exception hierarchy. Leaves say what went wrong; HTTP mapping happens only in app.py."""

from __future__ import annotations


class CourseGenError(Exception):
    """Base class for every error this project raises on purpose."""


class InvalidRequest(CourseGenError):
    """A course request (or other user input) failed validation."""

    def __init__(self, message: str, field: str | None = None, code: str = "invalid_request"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class CourseNotFound(CourseGenError):
    """No course with this id is visible to the caller."""


class CourseConflict(CourseGenError):
    """The course exists but is in no state for what was asked (retry a course that has not
    failed, delete one still in progress)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


class StaleState(CourseGenError):
    """A conditional state write lost against a concurrent writer (version moved on)."""


class PermanentFailure(CourseGenError):
    """A step can never succeed for this course; the course must end as failed."""


class NoBooksFound(PermanentFailure):
    """The library holds no chapter similar enough to the query."""


class PlanningError(PermanentFailure):
    """The planner could not produce an outline that satisfies the rules."""


class EmptyLibrary(NoBooksFound):
    """The library holds no book at all, so no course can be built from it."""


class LibraryError(CourseGenError):
    """The library cannot be used as asked (bad book file, wrong embedder, empty library)."""


class BookFileError(LibraryError):
    """A book file is malformed; the message names the file and the offending field."""


class EmbedderMismatch(LibraryError, PermanentFailure):
    """A query vector was made by another embedder or dimension than the library's."""


class TransientError(CourseGenError):
    """A dependency failed in a way that retrying may fix (throttling, timeout, 5xx)."""


class DatabasePasswordRefused(TransientError):
    """The database refused the password of its secret, read again after a first refusal. Its
    message is a sentence a learner may read; the step is retried like any other transient
    fault, since a password rotation under way settles within moments."""


class LocalDatabaseError(CourseGenError):
    """The embedded PostgreSQL server could not be installed, initialised or started."""
