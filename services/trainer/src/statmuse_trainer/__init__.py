"""Trainer: datasets -> models -> the registry (schema `registry`) -> ModelPublished."""
