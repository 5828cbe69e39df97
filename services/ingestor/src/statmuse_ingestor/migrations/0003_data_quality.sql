-- Data quality, one row per measurement: the last day of ingest runs summed up.
CREATE TABLE data_quality (
    measured_at          timestamptz PRIMARY KEY,
    window_hours         integer     NOT NULL,
    runs                 integer     NOT NULL,
    runs_failed          integer     NOT NULL,
    rows_read            bigint      NOT NULL,
    rows_missing         bigint      NOT NULL,
    rows_rejected        bigint      NOT NULL,
    rows_flagged         bigint      NOT NULL,
    last_game_date       date,
    missing_ratio        double precision,
    outlier_ratio        double precision,
    source_failure_ratio double precision,
    freshness_hours      double precision
);
