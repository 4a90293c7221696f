-- Books a user uploads (books/<owner>/<file>) serve only that user's courses: a book has an
-- optional owner, NULL for a shared book (the samples, what an operator loads). Every book
-- loaded before this migration stays shared.
--
-- The chapters carry their book's owner too, so a search filters the rows its HNSW and GIN index
-- scans read (`owner IS NULL OR owner = <caller>`) without joining the books. A trigger copies
-- the owner from the book whenever a chapter is written: a chapter never holds another owner
-- than its book's, whatever the loading code does. Adding nullable columns without a default
-- changes only the catalogue: no table rewrite, no index rebuild, however large the library.
ALTER TABLE books ADD COLUMN owner text CHECK (owner <> '');
ALTER TABLE chapters ADD COLUMN owner text;

CREATE FUNCTION chapters_take_book_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.owner := (SELECT owner FROM books WHERE id = NEW.book_id);
    RETURN NEW;
END
$$;

CREATE TRIGGER chapters_take_book_owner BEFORE INSERT OR UPDATE ON chapters
    FOR EACH ROW EXECUTE FUNCTION chapters_take_book_owner();

-- A user's own books, for listing them and for finding an upload's document among them; the
-- shared books are most of the library and need no index of their own.
CREATE INDEX books_owner_idx ON books (owner, source_sha256) WHERE owner IS NOT NULL;
