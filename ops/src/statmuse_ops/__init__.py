"""Operator tooling: the local stack from pip (PostgreSQL, Redis, a Kafka-protocol broker)."""
