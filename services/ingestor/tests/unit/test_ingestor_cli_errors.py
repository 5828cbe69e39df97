"""The backfill command's exit on a broker it cannot publish to: a clear message and exit code
3, the stored rows left for the next run (no traceback)."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import typer

from statmuse_ingestor import cli
from statmuse_ingestor.settings import IngestorSettings
from statmuse_shared.platform.broker import PublishTimeout, TopicMissing


@pytest.mark.parametrize(
    "error",
    [
        TopicMissing("topic 'nba.games.raw.v1' has no partitions on the broker"),
        PublishTimeout("the broker did not acknowledge 3 of 3 messages within 1 s"),
    ],
)
def test_a_broker_that_cannot_take_the_rows_is_exit_code_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception
) -> None:
    @contextlib.asynccontextmanager
    async def connected(_settings: Any) -> AsyncIterator[object]:
        yield object()

    async def run(_rt: Any) -> None:
        raise error

    monkeypatch.setattr(cli, "connected", connected)
    settings = IngestorSettings(database_url="postgresql://unused@localhost/none")
    with pytest.raises(typer.Exit) as exited:
        cli._run_or_exit(settings, run)
    assert exited.value.exit_code == 3
    said = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert said.startswith("broker unavailable:")
    assert "the stored rows are published by the next run" in said
