-- Documents uploaded to the books bucket (books/<owner>/<file>) on their way into the library:
-- one row per upload, which the ingestion function updates as it reads, summarises and loads the
-- document, and which GET /books shows its owner. `upload` is S3's event sequencer, so a
-- redelivered event finds its row and a new upload of the same key gets its own.
-- The library itself is shared: the owner is recorded here, not on the book.
CREATE TABLE book_ingestions (
    object_key text NOT NULL,
    upload     text NOT NULL,
    owner      text NOT NULL,
    status     text NOT NULL
        CHECK (status IN ('queued', 'reading', 'summarising', 'loaded', 'failed')),
    reason     text,
    book_id    text,
    title      text,
    chapters   integer NOT NULL DEFAULT 0 CHECK (chapters >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (object_key, upload)
);

CREATE INDEX book_ingestions_by_owner ON book_ingestions (owner, updated_at DESC);
