from prometheus_client import Counter, Gauge

PREDICTIONS = Counter("statmuse_predictor_predictions_total", "Predictions published", ["stat"])
MODELS_LOADED = Gauge("statmuse_predictor_models_loaded", "Production models being served")
VECTORS = Counter("statmuse_predictor_vectors_total", "Feature vectors consumed")
