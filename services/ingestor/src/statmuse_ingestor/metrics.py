from prometheus_client import Counter, Gauge, Histogram

ROWS = Counter("statmuse_ingestor_rows_total", "Rows read, by outcome", ["source", "outcome"])
EVENTS_PUBLISHED = Counter("statmuse_ingestor_events_published_total", "Events published")
RUN_SECONDS = Histogram("statmuse_ingestor_run_seconds", "Duration of an ingest run", ["source"])
LAST_GAME_DATE = Gauge(
    "statmuse_ingestor_last_game_date_timestamp", "Unix time of the latest game stored"
)
