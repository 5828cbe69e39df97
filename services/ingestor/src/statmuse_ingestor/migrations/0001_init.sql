-- Schema `ingest`: trusted box scores, the outbox of events to publish, runs and rejects.
CREATE TABLE players (
    player_id   integer PRIMARY KEY,
    player_name text NOT NULL,
    last_team   text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE player_game_stats (
    game_key     text        NOT NULL,
    player_id    integer     NOT NULL,
    game_id      text,
    season       text        NOT NULL,
    season_type  text        NOT NULL,
    game_date    date        NOT NULL,
    team         text        NOT NULL,
    opponent     text        NOT NULL,
    is_home      boolean     NOT NULL,
    minutes      double precision NOT NULL,
    points       integer     NOT NULL,
    rebounds     integer     NOT NULL,
    assists      integer     NOT NULL,
    fg3m         integer,
    source       text        NOT NULL,
    checksum     text        NOT NULL,
    event_id     text        NOT NULL,
    -- The event exactly as it is published: this table is also the outbox.
    payload      jsonb       NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    PRIMARY KEY (game_key, player_id)
);
CREATE INDEX player_game_stats_unpublished
    ON player_game_stats (game_date, game_key, player_id) WHERE published_at IS NULL;
CREATE INDEX player_game_stats_player_date ON player_game_stats (player_id, game_date);

CREATE TABLE ingest_runs (
    run_id           uuid PRIMARY KEY,
    source           text        NOT NULL,
    params           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    status           text        NOT NULL DEFAULT 'running',
    rows_read        integer     NOT NULL DEFAULT 0,
    rows_stored      integer     NOT NULL DEFAULT 0,
    rows_unchanged   integer     NOT NULL DEFAULT 0,
    rows_rejected    integer     NOT NULL DEFAULT 0,
    events_published integer     NOT NULL DEFAULT 0,
    error            text
);

CREATE TABLE rejects (
    id         bigserial PRIMARY KEY,
    run_id     uuid        NOT NULL REFERENCES ingest_runs (run_id),
    source     text        NOT NULL,
    location   text        NOT NULL,
    reason     text        NOT NULL,
    record     jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
