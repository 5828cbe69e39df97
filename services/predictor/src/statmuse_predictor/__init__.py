"""Predictor: feature vectors + production models -> PredictionMade."""
