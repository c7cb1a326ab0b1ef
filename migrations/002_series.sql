-- 002: series — the plan's table with tickers widened from VARCHAR(64) to TEXT. As first
-- written, `tags`, `is_game`, `active`, `created_at` and `updated_at` are nullable and the
-- GIN index on `tags` covers every row; 004_series_plan_constraints.sql makes them NOT NULL
-- and the GIN index partial (active series), as the plan has them.

CREATE TABLE series (
    ticker      TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    category    TEXT NOT NULL,
    tags        TEXT[] DEFAULT '{}',
    is_game     BOOLEAN DEFAULT false,
    active      BOOLEAN DEFAULT true,
    created_at  TIMESTAMPTZ DEFAULT now(),
    updated_at  TIMESTAMPTZ DEFAULT now()
);

CREATE INDEX idx_series_category ON series(category) WHERE active = true;
CREATE INDEX idx_series_category_game ON series(category, is_game) WHERE active = true;
CREATE INDEX idx_series_tags ON series USING GIN(tags);
