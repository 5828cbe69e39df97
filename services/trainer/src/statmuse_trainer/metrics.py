from prometheus_client import Counter

EXAMPLES = Counter("statmuse_trainer_examples_total", "Feature vectors stored as examples")
TRAINED = Counter(
    "statmuse_trainer_trainings_total", "Training requests by outcome", ["stat", "outcome"]
)
