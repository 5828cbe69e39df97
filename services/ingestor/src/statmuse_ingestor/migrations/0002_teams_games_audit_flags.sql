-- Teams, games and team box scores; the raw audit trail; outlier flags; flagged counts.
CREATE TABLE teams (
    abbreviation text PRIMARY KEY,
    team_id      bigint,
    name         text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE games (
    game_key    text PRIMARY KEY,
    game_id     text,
    game_date   date NOT NULL,
    season      text NOT NULL,
    season_type text NOT NULL,
    home_team   text NOT NULL,
    away_team   text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX games_by_date ON games (game_date);

CREATE TABLE team_game_stats (
    game_key     text        NOT NULL,
    team         text        NOT NULL,
    game_id      text,
    season       text        NOT NULL,
    season_type  text        NOT NULL,
    game_date    date        NOT NULL,
    opponent     text        NOT NULL,
    is_home      boolean     NOT NULL,
    points       integer     NOT NULL,
    source       text        NOT NULL,
    checksum     text        NOT NULL,
    event_id     text        NOT NULL,
    payload      jsonb       NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    PRIMARY KEY (game_key, team)
);
CREATE INDEX team_game_stats_unpublished
    ON team_game_stats (game_date, game_key, team) WHERE published_at IS NULL;

-- Every record exactly as a source gave it, once per (source, checksum).
CREATE TABLE raw_records (
    id         bigserial PRIMARY KEY,
    source     text        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('player', 'team')),
    location   text        NOT NULL,
    checksum   text        NOT NULL,
    record     jsonb       NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, checksum)
);

ALTER TABLE player_game_stats ADD COLUMN flag_reason text;
ALTER TABLE ingest_runs ADD COLUMN rows_flagged integer NOT NULL DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN team_rows_stored integer NOT NULL DEFAULT 0;
