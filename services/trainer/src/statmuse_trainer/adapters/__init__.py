"""Schema `registry` through asyncpg, one module per concern: the training examples
(`examples`), the model registry (`registry`), the monitor's tables (`monitoring`) and the
scheduled runs done (`scheduled_runs`). Each implements a port of `statmuse_trainer.ports`
over the service's `Database`."""
