-- Monitoring (docs/MONITORING.md): the predictions the trainer hears on nba.predictions.v1,
-- joined later to the outcomes it already holds; the daily metrics; drift reports; the drift
-- alerts that published a TrainRequested (the cooldown reads them); scheduled runs done.

-- By event id: a redelivered or replayed prediction is stored once.
CREATE TABLE monitor_predictions (
    event_id        text PRIMARY KEY,
    player_id       integer NOT NULL,
    stat            text    NOT NULL,
    as_of           date    NOT NULL,
    predicted_value double precision NOT NULL,
    lines           jsonb   NOT NULL,
    model_version   text    NOT NULL,
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX monitor_predictions_by_stat ON monitor_predictions (stat, as_of);

-- One row per stat and game day; the *_7d columns cover the 7 days ending on `day`.
CREATE TABLE monitor_daily_metrics (
    stat                  text    NOT NULL,
    day                   date    NOT NULL,
    predictions           integer NOT NULL,
    bets                  integer NOT NULL,
    wins                  integer NOT NULL,
    losses                integer NOT NULL,
    pushes                integer NOT NULL,
    hit_rate              double precision,
    brier                 double precision,
    ece                   double precision,
    roi                   double precision,
    profit                double precision NOT NULL,
    mean_over_probability double precision,
    over_rate             double precision,
    bets_7d               integer NOT NULL,
    hit_rate_7d           double precision,
    ece_7d                double precision,
    computed_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stat, day)
);

-- scope: 'features' for feature vectors, else the stat whose predictions were compared.
CREATE TABLE monitor_drift_reports (
    day               date    NOT NULL,
    scope             text    NOT NULL,
    name              text    NOT NULL,
    psi               double precision,
    ks_statistic      double precision,
    ks_pvalue         double precision,
    reference_n       integer NOT NULL,
    recent_n          integer NOT NULL,
    reference_missing double precision NOT NULL,
    recent_missing    double precision NOT NULL,
    drifted           boolean NOT NULL,
    counted           boolean NOT NULL,
    computed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, scope, name)
);

CREATE TABLE monitor_drift_alerts (
    id        bigserial PRIMARY KEY,
    stat      text        NOT NULL,
    day       date        NOT NULL,
    fired_at  timestamptz NOT NULL,
    event_id  text        NOT NULL,
    reason    text        NOT NULL,
    features  text[]      NOT NULL
);
CREATE INDEX monitor_drift_alerts_by_stat ON monitor_drift_alerts (stat, fired_at DESC);

-- A scheduled job done for a run key (a day): a replica whose clock is late sees it and skips.
CREATE TABLE scheduled_runs (
    job         text NOT NULL,
    run_key     text NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (job, run_key)
);
