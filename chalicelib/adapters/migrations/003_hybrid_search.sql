-- Full-text search over the library, which searches fuse with the vector ranking (pg_library.py).
-- A generated column: a library loaded before this migration gets its vectors computed here, in
-- place, and every later load or re-index keeps them current without a line of loading code.
-- Weights: the chapter's title A, its topics (section titles) and key concepts B, its summary C,
-- and the sections' own topics and terms D. `jsonb_to_tsvector` indexes each string of the arrays
-- on its own, so a phrase never runs from one topic into the next.

-- Adding a stored column rewrites the table and rebuilds its indexes, the HNSW one included:
-- give that rebuild the memory an in-memory build of a large library needs.
SET LOCAL maintenance_work_mem = '1GB';

ALTER TABLE chapters ADD COLUMN search_terms tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A')
    || setweight(jsonb_to_tsvector('english', topics, '["string"]'), 'B')
    || setweight(jsonb_to_tsvector('english', key_concepts, '["string"]'), 'B')
    || setweight(to_tsvector('english', summary), 'C')
    || setweight(jsonb_to_tsvector('english', sections, '["string"]'), 'D')
) STORED;

CREATE INDEX chapters_search_terms_gin ON chapters USING gin (search_terms);
