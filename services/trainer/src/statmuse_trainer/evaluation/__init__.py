"""Evaluation on a held-out season: the tables (`tables`: baselines, the books on the real
lines, bootstrap intervals) and the markdown report `statmuse evaluate` writes (`report`,
docs/EVALUATION.md)."""
