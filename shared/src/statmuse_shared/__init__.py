"""The StatMusePicks shared library: the contract between services.

Settings bases, message schemas and topic names, deterministic event ids, logging, the Kafka
broker factory, the migration runner and the model runtime. No I/O happens at import.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
