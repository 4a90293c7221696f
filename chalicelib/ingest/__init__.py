"""Bring your own books: EPUB, PDF, Markdown, HTML and plain text turned into book files.

Heavy parsing libraries are imported by the readers only, so the Lambda handlers never load them.
"""

from .document import MAX_DOCUMENT_BYTES, DocumentError
from .pipeline import content_hash, ingest, read_document
from .summarise import Summariser, summariser_for

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "DocumentError",
    "Summariser",
    "content_hash",
    "ingest",
    "read_document",
    "summariser_for",
]
