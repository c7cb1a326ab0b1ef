-- 003: what a trading connector needs of a market, as the exchange's Market schema has it
-- (docs: api-reference_market_get-markets.md; price level structures change on the
-- lifecycle channel as price_level_structure_updated), plus the rest of the schema's
-- reference fields. Every column is nullable: rows written before this migration, and
-- markets the exchange describes without them, have none.
ALTER TABLE markets
    ADD COLUMN expiration_time             TIMESTAMPTZ,
    ADD COLUMN settlement_timer_seconds    BIGINT,
    ADD COLUMN early_close_condition       TEXT,
    ADD COLUMN functional_strike           TEXT,
    ADD COLUMN price_level_structure       TEXT,
    ADD COLUMN price_ranges                JSONB,
    ADD COLUMN expiration_value            TEXT,
    ADD COLUMN occurrence_datetime         TIMESTAMPTZ,
    ADD COLUMN fee_waiver_expiration_time  TIMESTAMPTZ,
    ADD COLUMN primary_participant_key     TEXT,
    ADD COLUMN is_provisional              BOOLEAN;
