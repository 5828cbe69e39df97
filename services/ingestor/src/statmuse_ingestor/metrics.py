from prometheus_client import Counter, Gauge, Histogram

ROWS = Counter(
    "statmuse_ingestor_rows_total",
    "Rows by outcome (stored, unchanged, rejected, flagged)",
    ["source", "outcome"],
)
EVENTS_PUBLISHED = Counter("statmuse_ingestor_events_published_total", "Events published")
RUN_SECONDS = Histogram("statmuse_ingestor_run_seconds", "Duration of an ingest run", ["source"])
SOURCE_SECONDS = Histogram(
    "statmuse_ingestor_source_request_seconds", "Latency of one source request", ["endpoint"]
)
SOURCE_REQUESTS = Counter(
    "statmuse_ingestor_source_requests_total", "Source requests by outcome", ["endpoint", "outcome"]
)
SOURCE_FAILURES = Counter(
    "statmuse_ingestor_source_failures_total", "Ingest runs that failed", ["source"]
)
LAST_GAME_DATE = Gauge(
    "statmuse_ingestor_last_game_date_timestamp",
    "Unix time of the latest game stored (freshness = time() - this)",
)
MISSING_RATIO = Gauge(
    "statmuse_data_missing_ratio",
    "Share of the rows read in the last 24 h rejected for a missing field",
)
OUTLIER_RATIO = Gauge(
    "statmuse_data_outlier_ratio",
    "Share of the rows read in the last 24 h flagged as outliers",
)
SOURCE_FAILURE_RATIO = Gauge(
    "statmuse_data_source_failure_ratio", "Share of the ingest runs of the last 24 h that failed"
)
SCHEDULE_GAMES = Counter(
    "statmuse_ingestor_schedule_games_total",
    "Scheduled games by outcome (stored: new or changed, rejected)",
    ["source", "outcome"],
)
