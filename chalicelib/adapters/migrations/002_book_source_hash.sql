-- The sha256 of the document a book was derived from (`coursegen library add`), so adding the
-- same document again is recognised. Books loaded from hand-written book files keep ''.
ALTER TABLE books ADD COLUMN source_sha256 text NOT NULL DEFAULT '';
CREATE INDEX books_source_sha256_idx ON books (source_sha256) WHERE source_sha256 <> '';
