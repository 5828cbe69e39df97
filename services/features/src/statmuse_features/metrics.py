from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "statmuse_features_messages_total", "Consumed raw events by kind", ["topic", "outcome"]
)
VECTORS = Counter("statmuse_features_vectors_total", "Feature vectors published (new or changed)")
BATCH_SECONDS = Histogram("statmuse_features_batch_seconds", "Time to process one batch")
PER_MESSAGE_SECONDS = Histogram(
    "statmuse_features_message_seconds",
    "Batch time divided by its messages",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
)
STALE_SEASONS = Gauge(
    "statmuse_features_stale_seasons", "Seasons whose vectors wait for a reconcile (0: current)"
)
LEAGUE_REVISION = Gauge(
    "statmuse_features_league_revision",
    "Latest league revision (team boxes stored by any instance) this instance computes with",
)
OWNED_PARTITIONS = Gauge(
    "statmuse_features_owned_partitions", "Raw-topic partitions assigned to this instance"
)
