-- Schema `predictions`: the latest vector per player (to re-predict when a model changes)
-- and every prediction published.
CREATE TABLE latest_features (
    player_id           integer PRIMARY KEY,
    player_name         text    NOT NULL,
    as_of               date    NOT NULL,
    feature_set_version text    NOT NULL,
    features            jsonb   NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE predictions (
    player_id       integer NOT NULL,
    stat            text    NOT NULL,
    as_of           date    NOT NULL,
    model_version   text    NOT NULL,
    predicted_value double precision NOT NULL,
    payload         jsonb   NOT NULL,
    event_id        text    NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (player_id, stat, as_of, model_version)
);
