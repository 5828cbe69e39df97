-- Schema `registry`: the trainer's training examples, model versions and aliases.
CREATE TABLE training_examples (
    player_id           integer NOT NULL,
    as_of               date    NOT NULL,
    feature_set_version text    NOT NULL,
    season              text    NOT NULL,
    features            jsonb   NOT NULL,
    last_game           jsonb   NOT NULL,
    event_id            text    NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (player_id, as_of, feature_set_version)
);

CREATE TABLE model_versions (
    version             text PRIMARY KEY,
    name                text    NOT NULL,
    stat                text    NOT NULL,
    player_id           integer,
    model_type          text    NOT NULL,
    artifact_uri        text    NOT NULL,
    checksum            text    NOT NULL,
    feature_set_version text    NOT NULL,
    dataset_version     text,
    metrics             jsonb   NOT NULL DEFAULT '{}'::jsonb,
    trained_at          timestamptz NOT NULL DEFAULT now()
);

-- The serving key is `<stat>` or `<stat>:<player_id>`; one version per (key, alias).
CREATE TABLE aliases (
    serving_key text NOT NULL,
    alias       text NOT NULL CHECK (alias IN ('production', 'staging', 'archived')),
    version     text NOT NULL REFERENCES model_versions (version),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (serving_key, alias)
);

CREATE TABLE alias_history (
    id          bigserial PRIMARY KEY,
    serving_key text NOT NULL,
    alias       text NOT NULL,
    version     text NOT NULL REFERENCES model_versions (version),
    changed_at  timestamptz NOT NULL DEFAULT now()
);
