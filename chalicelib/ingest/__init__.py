"""Bring your own books: EPUB, PDF, Markdown, HTML and plain text turned into book files.

Heavy parsing libraries are imported by the readers only, so the Lambda handlers never load them.
"""

from .document import MAX_DOCUMENT_BYTES, DocumentError
from .pipeline import content_hash, ingest, read_document

__all__ = ["MAX_DOCUMENT_BYTES", "DocumentError", "content_hash", "ingest", "read_document"]
