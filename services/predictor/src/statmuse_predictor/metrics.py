from prometheus_client import Counter, Gauge

PREDICTIONS = Counter("statmuse_predictor_predictions_total", "Predictions published", ["stat"])
# Versions are a small closed set per deployment (production and at most one staged per key).
PREDICTIONS_BY_VERSION = Counter(
    "statmuse_predictor_predictions_by_version_total",
    "Predictions published, by model version and A/B arm (production or challenger)",
    ["stat", "version", "arm"],
)
MODELS_LOADED = Gauge("statmuse_predictor_models_loaded", "Production models being served")
CHALLENGERS_LOADED = Gauge(
    "statmuse_predictor_challengers_loaded", "Staged models served to the A/B challenger share"
)
VECTORS = Counter("statmuse_predictor_vectors_total", "Feature vectors consumed")
LINES = Counter("statmuse_predictor_lines_total", "The books' prop lines consumed")
PROPS_PRICED = Counter(
    "statmuse_predictor_props_priced_total", "Posted prop lines priced and published", ["stat"]
)
