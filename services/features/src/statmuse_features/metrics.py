from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "statmuse_features_messages_total", "Consumed messages by outcome", ["topic", "outcome"]
)
VECTORS = Counter("statmuse_features_vectors_total", "Feature vectors computed and published")
BATCH_SECONDS = Histogram("statmuse_features_batch_seconds", "Time to process one batch")
