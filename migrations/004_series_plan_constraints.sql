-- 004: the plan's constraints on `series` (see 002's header), and indexes for pruning rows
-- gone from the exchange (`ssmd prune --gone-older-than`).
-- Rows written before carry the defaults where they have NULLs (ssmd never wrote NULLs
-- there; another writer might have).
UPDATE series SET tags = '{}' WHERE tags IS NULL;
UPDATE series SET is_game = false WHERE is_game IS NULL;
UPDATE series SET active = true WHERE active IS NULL;
UPDATE series SET created_at = now() WHERE created_at IS NULL;
UPDATE series SET updated_at = now() WHERE updated_at IS NULL;
ALTER TABLE series
    ALTER COLUMN tags SET NOT NULL,
    ALTER COLUMN is_game SET NOT NULL,
    ALTER COLUMN active SET NOT NULL,
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL;

-- Tag lookups are for tracked (active) series: the GIN index covers only those.
DROP INDEX idx_series_tags;
CREATE INDEX idx_series_tags ON series USING GIN(tags) WHERE active = true;

-- Pruning finds rows gone long ago without scanning the live ones.
CREATE INDEX idx_markets_gone_at ON markets (gone_at) WHERE gone_at IS NOT NULL;
CREATE INDEX idx_events_gone_at ON events (gone_at) WHERE gone_at IS NOT NULL;
