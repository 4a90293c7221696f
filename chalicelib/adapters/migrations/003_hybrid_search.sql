-- Full-text search over the library, which searches fuse with the vector ranking (pg_library.py).
-- Generated columns: a library loaded before this migration gets them computed here, in place,
-- and every later load or re-index keeps them current without a line of loading code.
--   named_terms   what names the chapter: its title (weight A), its topics (section titles) and
--                 key concepts (B). Candidates are the chapters whose names contain a query term.
--   search_terms  all of its text, which ranks them: the names, the summary (C) and the sections'
--                 own topics and terms (D).
-- `jsonb_to_tsvector` indexes each string of the arrays on its own, so a phrase never runs from
-- one topic into the next.

-- Adding stored columns rewrites the table and rebuilds its indexes, the HNSW one included:
-- give that rebuild the memory an in-memory build of a large library needs.
SET LOCAL maintenance_work_mem = '1GB';

ALTER TABLE chapters
    ADD COLUMN named_terms tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(jsonb_to_tsvector('english', topics, '["string"]'), 'B')
        || setweight(jsonb_to_tsvector('english', key_concepts, '["string"]'), 'B')
    ) STORED,
    ADD COLUMN search_terms tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(jsonb_to_tsvector('english', topics, '["string"]'), 'B')
        || setweight(jsonb_to_tsvector('english', key_concepts, '["string"]'), 'B')
        || setweight(to_tsvector('english', summary), 'C')
        || setweight(jsonb_to_tsvector('english', sections, '["string"]'), 'D')
    ) STORED;

CREATE INDEX chapters_named_terms_gin ON chapters USING gin (named_terms);

-- ANALYZE records the most common lexemes of named_terms (pg_stats.most_common_elems), which
-- searches read to leave words in thousands of titles out of the candidate query.
ANALYZE chapters;
