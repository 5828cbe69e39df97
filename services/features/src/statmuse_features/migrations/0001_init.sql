-- Schema `features`: this service's own copy of the games it consumed, and its vectors.
CREATE TABLE player_games (
    player_id   integer NOT NULL,
    game_key    text    NOT NULL,
    game_date   date    NOT NULL,
    season      text    NOT NULL,
    team        text    NOT NULL,
    player_name text    NOT NULL,
    minutes     double precision NOT NULL,
    points      integer NOT NULL,
    rebounds    integer NOT NULL,
    assists     integer NOT NULL,
    threes      integer,
    event_id    text    NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (player_id, game_key)
);
CREATE INDEX player_games_by_date ON player_games (player_id, game_date);

CREATE TABLE feature_vectors (
    player_id           integer NOT NULL,
    as_of               date    NOT NULL,
    feature_set_version text    NOT NULL,
    season              text    NOT NULL,
    features            jsonb   NOT NULL,
    event_id            text    NOT NULL,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (player_id, as_of, feature_set_version)
);
