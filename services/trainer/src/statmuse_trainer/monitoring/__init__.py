"""Monitoring: how the served predictions did against what happened (`performance`), whether
the inputs and outputs moved away from what the models were trained on (`drift`), and the
jobs that compute, store, export and act on both (`jobs`). docs/MONITORING.md explains the
numbers and the drift rule."""
