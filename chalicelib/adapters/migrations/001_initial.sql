-- The library (books, chapters with embeddings) and the stored courses.
-- chapters.embedding is an untyped `vector`: its dimension is only known when the first book is
-- embedded. pg_library.py then records it in library_meta and creates an expression HNSW index
-- on (embedding::vector(<dimension>)), which searches use by ordering on the same expression.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE library_meta (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),  -- at most one row
    embedder_kind text NOT NULL CHECK (embedder_kind <> ''),
    dimension     integer NOT NULL CHECK (dimension > 0),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE books (
    id        text PRIMARY KEY,
    title     text NOT NULL,
    author    text NOT NULL,
    summary   text NOT NULL DEFAULT '',
    loaded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chapters (
    book_id      text NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    number       integer NOT NULL,
    title        text NOT NULL,
    summary      text NOT NULL,
    topics       jsonb NOT NULL DEFAULT '[]',
    key_concepts jsonb NOT NULL DEFAULT '[]',
    sections     jsonb NOT NULL DEFAULT '[]',
    embedding    vector NOT NULL,
    PRIMARY KEY (book_id, number)
);

CREATE TABLE courses (
    course_id     text PRIMARY KEY,
    user_id       text NOT NULL,
    title         text NOT NULL,
    query         text NOT NULL,
    hours         numeric NOT NULL,
    depth         text NOT NULL,
    pace          text NOT NULL,
    total_minutes integer NOT NULL,
    outline       jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX courses_user_created_idx ON courses (user_id, created_at DESC);

-- One row per section, for queries across courses; the outline column stays the source of truth.
CREATE TABLE course_sections (
    id          text PRIMARY KEY,  -- '<course_id>:<position>', so a re-store overwrites in place
    course_id   text NOT NULL REFERENCES courses (course_id) ON DELETE CASCADE,
    part_index  integer NOT NULL,
    part_title  text NOT NULL,
    position    integer NOT NULL,  -- 0-based across the whole course
    title       text NOT NULL,
    minutes     integer NOT NULL,
    objectives  jsonb NOT NULL,
    sources     jsonb NOT NULL,
    UNIQUE (course_id, position)
);
