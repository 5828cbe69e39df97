-- The schedule: one row per NBA game id, as its source last gave it; also its outbox.
CREATE TABLE schedule (
    game_id      text        PRIMARY KEY,
    game_key     text        NOT NULL,
    game_date    date        NOT NULL,
    tip_off      timestamptz,
    season       text        NOT NULL,
    season_type  text        NOT NULL,
    home_team    text        NOT NULL,
    away_team    text        NOT NULL,
    status       text        NOT NULL
        CHECK (status IN ('scheduled', 'postponed', 'cancelled', 'final')),
    source       text        NOT NULL,
    checksum     text        NOT NULL,
    -- The event exactly as it is published.
    payload      jsonb       NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX schedule_by_date ON schedule (game_date);
CREATE INDEX schedule_unpublished ON schedule (game_date, game_id) WHERE published_at IS NULL;
