"""The StatMusePicks shared library, in four parts:

- `contract`: what crosses a service boundary (messages, topics, stats, event ids, names);
- `models`: the model runtime (bundles, distributions, pricing, serving);
- `features`: the feature definitions, the same code in training and serving;
- `platform`: process plumbing (settings, broker, database, HTTP, runtime, scheduler).

No I/O happens at import.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
