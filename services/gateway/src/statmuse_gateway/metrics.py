from prometheus_client import Counter, Gauge, Histogram

VECTORS = Counter("statmuse_gateway_vectors_total", "Feature vectors folded into the read model")
GAMES = Counter("statmuse_gateway_games_total", "Raw box scores folded into the read model")
MODELS_SERVED = Gauge("statmuse_gateway_models_served", "Production models being served")
CACHE = Counter(
    "statmuse_gateway_cache_total", "Cache lookups by cache and outcome", ["cache", "outcome"]
)
REQUESTS = Counter(
    "statmuse_gateway_requests_total",
    "HTTP requests by route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "statmuse_gateway_request_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0),
)
RATE_LIMITED = Counter(
    "statmuse_gateway_rate_limited_total",
    "Requests refused with 429, by who was limited",
    ["kind"],
)
PROPS = Counter("statmuse_gateway_props_total", "Priced props folded into the slate")
