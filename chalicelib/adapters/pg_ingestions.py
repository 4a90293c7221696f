"""PgIngestions: the progress of each uploaded document, in the library's database (Aurora on AWS),
beside the books it becomes: the ingestion function and GET /books already hold connections to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..ports import INGESTION_STATUSES, Ingestion, IngestionLog
from .pg import ConnectionFactory, session

_MAX_REASON = 1000  # a sentence, never a whole traceback

_UPSERT = """
INSERT INTO book_ingestions (object_key, upload, owner, status, reason, book_id, title, chapters)
VALUES (:key, :upload, :owner, :status, :reason, :book_id, :title, :chapters)
ON CONFLICT (object_key, upload) DO UPDATE SET
    owner = EXCLUDED.owner, status = EXCLUDED.status, reason = EXCLUDED.reason,
    book_id = EXCLUDED.book_id, title = EXCLUDED.title, chapters = EXCLUDED.chapters,
    updated_at = now()
"""

_COLUMNS = "object_key, upload, owner, status, reason, book_id, title, chapters, updated_at"


def _timestamp(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ingestion(row: list[Any]) -> Ingestion:
    key, upload, owner, status, reason, book_id, title, chapters, updated_at = row
    return Ingestion(
        key, upload, owner, status, reason, book_id, title, int(chapters), _timestamp(updated_at)
    )


class PgIngestions(IngestionLog):
    def __init__(self, connect: ConnectionFactory) -> None:
        self._connect = connect

    def save(self, ingestion: Ingestion) -> None:
        if ingestion.status not in INGESTION_STATUSES:
            raise ValueError(f"status {ingestion.status!r} is not one of {', '.join(INGESTION_STATUSES)}")
        reason = ingestion.reason
        if reason is not None and len(reason) > _MAX_REASON:
            reason = reason[: _MAX_REASON - 1] + "…"
        with session(self._connect) as conn:
            conn.run(
                _UPSERT,
                key=ingestion.key,
                upload=ingestion.upload,
                owner=ingestion.owner,
                status=ingestion.status,
                reason=reason,
                book_id=ingestion.book_id,
                title=ingestion.title,
                chapters=ingestion.chapters,
            )

    def get(self, key: str, upload: str) -> Ingestion | None:
        with session(self._connect) as conn:
            rows = conn.run(
                f"SELECT {_COLUMNS} FROM book_ingestions WHERE object_key = :key AND upload = :upload",
                key=key,
                upload=upload,
            )
        return _ingestion(rows[0]) if rows else None

    def list_for_owner(self, owner: str, limit: int = 50) -> list[Ingestion]:
        with session(self._connect) as conn:
            rows = conn.run(
                f"SELECT {_COLUMNS} FROM book_ingestions WHERE owner = :owner"
                " ORDER BY updated_at DESC, object_key, upload LIMIT :limit",
                owner=owner,
                limit=limit,
            )
        return [_ingestion(row) for row in rows]
