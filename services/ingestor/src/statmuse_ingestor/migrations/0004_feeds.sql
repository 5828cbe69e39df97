-- Feeds: the schedule, availability and prop lines, each item the latest its source gave under
-- its natural key (the schedule's: the game id). Also their outbox.
CREATE TABLE feeds (
    feed         text        NOT NULL CHECK (feed IN ('schedule', 'availability', 'lines')),
    key          text        NOT NULL,
    game_date    date        NOT NULL,
    checksum     text        NOT NULL,
    -- The event exactly as it is published.
    payload      jsonb       NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    PRIMARY KEY (feed, key)
);
CREATE INDEX feeds_unpublished ON feeds (feed, game_date, key) WHERE published_at IS NULL;
