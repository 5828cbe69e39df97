-- Schema `gateway`: the gateway's own read models, built from the topics it consumes.
CREATE TABLE players (
    player_id       integer PRIMARY KEY,
    player_name     text NOT NULL,
    normalized_name text NOT NULL,
    team            text NOT NULL,
    last_as_of      date NOT NULL
);
CREATE INDEX players_normalized_name ON players (normalized_name);

CREATE TABLE feature_vectors (
    player_id           integer NOT NULL,
    as_of               date    NOT NULL,
    feature_set_version text    NOT NULL,
    features            jsonb   NOT NULL,
    event_id            text    NOT NULL,
    PRIMARY KEY (player_id, as_of)
);

CREATE TABLE models (
    version     text PRIMARY KEY,
    serving_key text NOT NULL,
    alias       text NOT NULL,
    payload     jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
