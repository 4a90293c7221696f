"""How the ingestion function reads S3's events and keys (books/<owner>/<file>)."""

from __future__ import annotations

import pytest

from chalicelib.book_uploads import UploadRefused, owner_of, uploads

BUCKET = "coursegen-dev-books"


def test_keys_and_events_are_read_as_s3_writes_them() -> None:
    assert owner_of("books/u-1/My Book.pdf") == ("u-1", "My Book.pdf")
    # an IAM caller's id is its ARN, slashes included
    assert owner_of("books/arn:aws:iam::123456789012:user/ana/b.pdf") == (
        "arn:aws:iam::123456789012:user/ana",
        "b.pdf",
    )
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:CompleteMultipartUpload",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "books/u/A+B%26C.pdf", "sequencer": "05"}},
    }
    marker = {**record, "s3": {"bucket": {"name": BUCKET}, "object": {"key": "books/u/", "sequencer": "06"}}}
    removed = {**record, "eventName": "ObjectRemoved:Delete"}
    (found,) = uploads({"Records": [record, marker, removed]})
    assert (found.key, found.upload, found.version_id) == ("books/u/A B&C.pdf", "05", None)


@pytest.mark.parametrize("key", ["books/sea.md", "books//sea.md", "books/u/", "other/u/sea.md"])
def test_a_key_outside_books_owner_file_is_refused(key: str) -> None:
    with pytest.raises(UploadRefused, match=r"upload to books/<owner>/<file>"):
        owner_of(key)
