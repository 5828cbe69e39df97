from prometheus_client import Counter

EXAMPLES = Counter(
    "statmuse_trainer_examples_total", "Vectors of played games stored as training examples"
)
VECTORS_SEEN = Counter("statmuse_trainer_vectors_total", "Feature vectors consumed")
TRAINED = Counter(
    "statmuse_trainer_trainings_total", "Training requests by outcome", ["stat", "outcome"]
)
