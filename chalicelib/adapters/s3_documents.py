"""S3Documents: fetches an uploaded document from the books bucket to a local file (the ingestion
function's /tmp), refusing one larger than the pipeline accepts before writing it."""

from __future__ import annotations

import threading
from pathlib import Path

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from ..errors import CourseGenError

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
_BLOCK = 2**20


class ObjectTooLarge(CourseGenError):
    """The object is larger than the caller's limit; nothing was kept."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size / 2**20:.0f} MB is over the limit for one document ({limit // 2**20} MB)")
        self.size = size
        self.limit = limit


class S3Documents:
    def __init__(self, client: BaseClient | None = None) -> None:
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> BaseClient:
        # Created on first use so importing the app needs no AWS configuration.
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = boto3.client("s3", config=_CLIENT_CONFIG)
        return self._client

    def download(self, bucket: str, key: str, version_id: str | None, dest: Path, max_bytes: int) -> int:
        """Write the object (that version of it, when given) to `dest`; returns its size. Raises
        ObjectTooLarge, leaving no file, when it holds more than `max_bytes`."""
        extra = {"VersionId": version_id} if version_id else {}
        response = self.client.get_object(Bucket=bucket, Key=key, **extra)
        body = response["Body"]
        size = int(response.get("ContentLength") or 0)
        try:
            if size > max_bytes:
                raise ObjectTooLarge(size, max_bytes)
            written = 0
            with dest.open("wb") as out:
                for block in iter(lambda: body.read(_BLOCK), b""):
                    written += len(block)
                    if written > max_bytes:  # a length the headers did not announce
                        raise ObjectTooLarge(written, max_bytes)
                    out.write(block)
            return written
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        finally:
            body.close()
