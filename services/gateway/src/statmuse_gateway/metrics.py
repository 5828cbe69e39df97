from prometheus_client import Counter, Gauge

VECTORS = Counter("statmuse_gateway_vectors_total", "Feature vectors folded into the read model")
GAMES = Counter("statmuse_gateway_games_total", "Raw box scores folded into the read model")
MODELS_SERVED = Gauge("statmuse_gateway_models_served", "Production models being served")
CACHE = Counter(
    "statmuse_gateway_cache_total", "Cache lookups by cache and outcome", ["cache", "outcome"]
)
