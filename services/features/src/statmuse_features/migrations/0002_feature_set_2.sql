-- Feature set 2: team box scores for opponent strength, game context on the player rows, and
-- vectors stored as arrays (names are fixed per feature-set version; see docs/FEATURES.md).
ALTER TABLE player_games ADD COLUMN season_type text;
ALTER TABLE player_games ADD COLUMN opponent text;
ALTER TABLE player_games ADD COLUMN is_home boolean;

CREATE TABLE team_games (
    game_key       text    NOT NULL,
    team           text    NOT NULL,
    game_date      date    NOT NULL,
    season         text    NOT NULL,
    points_allowed integer,
    possessions    double precision,
    minutes        double precision,
    event_id       text    NOT NULL,
    PRIMARY KEY (game_key, team)
);
CREATE INDEX team_games_by_season ON team_games (season, game_date);

DROP TABLE feature_vectors;
CREATE TABLE feature_vectors (
    player_id           integer NOT NULL,
    as_of               date    NOT NULL,
    feature_set_version text    NOT NULL,
    kind                text    NOT NULL CHECK (kind IN ('next', 'game')),
    season              text    NOT NULL,
    game_date           date,
    vector              double precision[] NOT NULL,
    event_id            text    NOT NULL,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (player_id, as_of, feature_set_version)
);
CREATE INDEX feature_vectors_by_season ON feature_vectors (feature_set_version, season);
ALTER TABLE team_games ADD COLUMN points integer;
ALTER TABLE team_games ADD COLUMN fga integer;
ALTER TABLE team_games ADD COLUMN oreb integer;
ALTER TABLE team_games ADD COLUMN tov integer;
ALTER TABLE team_games ADD COLUMN fta integer;
