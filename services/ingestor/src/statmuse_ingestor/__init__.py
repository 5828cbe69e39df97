"""Ingestor: NBA box scores in, validated, stored once in schema `ingest`, published once."""
