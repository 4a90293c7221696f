"""Where Chalice looks for the app.

The routes and handlers live in chalicelib/service.py, so that the installed `coursegen` command
carries the same app (docs/development.md#layout). Chalice names each Lambda's handler
`app.<function>`; this module re-exports every function it names, and a test keeps the two in step.
"""

from chalicelib.service import (
    app,
    book_ingestion_handler,
    course_book_search_handler,
    course_dead_letter_handler,
    course_embedding_handler,
    course_migrate,
    course_outline_reviewer,
    course_parts_handler,
    course_sections_handler,
    course_storage_handler,
    course_watchdog,
)

__all__ = [
    "app",
    "book_ingestion_handler",
    "course_book_search_handler",
    "course_dead_letter_handler",
    "course_embedding_handler",
    "course_migrate",
    "course_outline_reviewer",
    "course_parts_handler",
    "course_sections_handler",
    "course_storage_handler",
    "course_watchdog",
]
