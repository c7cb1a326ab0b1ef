-- 001: events and markets — what the exchange says now.
-- Tickers are TEXT: real tickers outgrew VARCHAR(64).
-- Prices are fixed-point dollars and counts fixed-point contracts, both NUMERIC (exact).
-- gone_at: set when the exchange stopped listing the row; cleared when it reappears.

CREATE TABLE events (
    ticker                  TEXT PRIMARY KEY,
    series_ticker           TEXT NOT NULL,
    title                   TEXT,
    sub_title               TEXT,
    category                TEXT,
    mutually_exclusive      BOOLEAN,
    strike_date             TIMESTAMPTZ,
    strike_period           TEXT,
    collateral_return_type  TEXT,
    exchange_updated_at     TIMESTAMPTZ,
    fetched_at              TIMESTAMPTZ NOT NULL,
    gone_at                 TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_events_series_ticker ON events (series_ticker);

CREATE TABLE markets (
    ticker                    TEXT PRIMARY KEY,
    event_ticker              TEXT NOT NULL REFERENCES events (ticker),
    series_ticker             TEXT NOT NULL,
    market_type               TEXT,
    title                     TEXT,
    subtitle                  TEXT,
    yes_sub_title             TEXT,
    no_sub_title              TEXT,
    -- raw exchange status: initialized, active, inactive, closed, determined,
    -- disputed, amended, finalized (not the query-side vocabulary)
    status                    TEXT NOT NULL,
    result                    TEXT,
    created_time              TIMESTAMPTZ,
    updated_time              TIMESTAMPTZ,
    open_time                 TIMESTAMPTZ,
    close_time                TIMESTAMPTZ,
    expected_expiration_time  TIMESTAMPTZ,
    latest_expiration_time    TIMESTAMPTZ,
    settlement_ts             TIMESTAMPTZ,
    can_close_early           BOOLEAN,
    strike_type               TEXT,
    floor_strike              NUMERIC,
    cap_strike                NUMERIC,
    custom_strike             JSONB,
    rules_primary             TEXT,
    rules_secondary           TEXT,
    yes_bid_dollars           NUMERIC,
    yes_ask_dollars           NUMERIC,
    no_bid_dollars            NUMERIC,
    no_ask_dollars            NUMERIC,
    last_price_dollars        NUMERIC,
    notional_value_dollars    NUMERIC,
    settlement_value_dollars  NUMERIC,
    volume_fp                 NUMERIC,
    volume_24h_fp             NUMERIC,
    open_interest_fp          NUMERIC,
    fetched_at                TIMESTAMPTZ NOT NULL,
    gone_at                   TIMESTAMPTZ,
    created_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_markets_series_ticker ON markets (series_ticker);
CREATE INDEX idx_markets_status ON markets (status);
CREATE INDEX idx_markets_event_ticker ON markets (event_ticker);
CREATE INDEX idx_markets_close_time ON markets (close_time);
