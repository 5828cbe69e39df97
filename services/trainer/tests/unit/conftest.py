"""The trainer's runtime over in-memory repositories and artifact store (tests/unit/fakes.py),
with a broker that never connects (FastStream's TestKafkaBroker in the handler tests)."""

import pytest

from statmuse_trainer.runtime import TrainerRuntime

from .fakes import runtime


@pytest.fixture
def rt() -> TrainerRuntime:
    return runtime()
