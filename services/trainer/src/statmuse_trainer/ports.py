"""What the trainer's handlers, jobs and commands need from storage, as interfaces: PostgreSQL
implements them in `adapters/`, the unit tests in memory (tests/unit/fakes.py).

Registry moves are read-decide-write sequences (a promote reads the staged version and moves
two aliases), so the registry hands out a `RegistrySession`, one at a time across replicas, in
which the registry's own logic (`registry/`) decides; the drift alert's
cooldown check and its record likewise share a `DriftAlerts` transaction, serialised per stat
across replicas.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from statmuse_shared.contract.messages import (
    FeaturesComputed,
    ModelMetrics,
    ModelPublished,
    ModelTracking,
    PredictionMade,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import Features
from statmuse_shared.platform.scheduler import RunLog
from statmuse_trainer.monitoring.drift import SeriesDrift
from statmuse_trainer.monitoring.performance import (
    BookProp,
    DayMetrics,
    PlayedGame,
    StoredPrediction,
)
from statmuse_trainer.training.baseline import Example
from statmuse_trainer.training.dataset import Row


class ExampleRepository(Protocol):
    """The vectors of played games, each with its outcome: the training examples."""

    async def upsert(self, vectors: Sequence[FeaturesComputed]) -> int:
        """Store the vectors of played games (they carry their outcome); returns how many
        there were. A replay of a stored vector changes nothing."""
        ...

    async def latest_feature_set(self) -> str | None:
        """The feature-set version of the newest stored example."""
        ...

    async def labelled(
        self, *, stat: Stat, feature_set_version: str, seasons: Sequence[str]
    ) -> list[Example]:
        """Game vectors with the stat's value in that game as the label (`seasons` empty:
        every season)."""
        ...

    async def dataset_rows(self, *, feature_set_version: str, seasons: Sequence[str]) -> list[Row]:
        """Every stored game vector with its outcome in `seasons`, by game date and player."""
        ...

    async def played_games(self, *, first: dt.date, last: dt.date) -> list[PlayedGame]:
        """Every player's played games dated in [first, last], once each."""
        ...

    async def feature_sample(
        self,
        *,
        feature_set_version: str,
        first: dt.date | None,
        last: dt.date | None,
        seasons: Sequence[str] = (),
        limit: int,
    ) -> list[Features]:
        """Game vectors' features dated in [first, last] (open ends allowed)
        and in `seasons` (empty: any), at most `limit`, the same rows every run."""
        ...

    async def players_with_games(self, *, after: dt.date, until: dt.date) -> list[int]:
        """Players with a played game dated in (after, until]."""
        ...


@dataclass(frozen=True, slots=True)
class VersionRow:
    """A registered model version, and the id of its latest alias move (None: never moved)."""

    version: str
    name: str
    stat: Stat
    player_id: int | None
    model_type: str
    artifact_uri: str
    checksum: str
    feature_set_version: str
    dataset_version: str | None
    metrics: ModelMetrics
    moved: int | None
    tracking: ModelTracking | None = None  # its MLflow run and registry version


class RegistrySession(Protocol):
    """The registry while this session holds it (no other session moves anything). The
    command ids and the audit log commit together, or not at all when the block raises."""

    async def record_command(self, command_id: str) -> bool:
        """Remember a command id; False when it was recorded before (carried out already)."""
        ...

    async def alias_version(self, key: str, alias: str) -> str | None: ...

    async def previous_production(self, key: str, current: str) -> str | None:
        """The latest version, other than `current`, that was production for `key`."""
        ...

    async def set_alias(
        self,
        key: str,
        alias: str,
        version: str,
        *,
        requested_by: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Point `alias` of `key` at `version`, and add the move to the audit log (with who
        asked and, for a pin, what it was)."""
        ...

    async def last_archived(self, key: str) -> str | None:
        """The version of `key` archived last, from the audit log (to announce that move
        again, never to decide one)."""
        ...

    async def drop_staging(self, key: str, version: str) -> None:
        """Remove `key`'s staging alias if it points at `version`."""
        ...

    async def version(self, version: str) -> VersionRow:
        """A registered version (LookupError when there is none)."""
        ...

    async def next_version(self, base: str) -> str:
        """`base`, or `base-rN` when `base` is taken."""
        ...

    async def register(
        self,
        published: ModelPublished,
        metadata: Mapping[str, Any] | None = None,
        *,
        bundle: bytes | None = None,
        reports: Sequence[Path] = (),
        base: str | None = None,
        requested_by: str | None = None,
    ) -> ModelTracking | None:
        """Add the version (its training run: metadata, bundle and report files; `base`: the
        name `next_version` was asked for) and point its alias at it; returns where it is
        tracked."""
        ...


class RegistryRepository(Protocol):
    """Model versions, their aliases (production, staging, archived) and their history."""

    async def ping(self) -> bool:
        """Whether the registry answers."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[RegistrySession]: ...

    async def trained_on(self, stat: Stat, day: dt.date) -> str | None:
        """The newest full (count_model) version of the stat trained on `day`."""
        ...

    async def production_training_windows(self) -> list[dict[str, Any]]:
        """The training windows (`metadata.training_window`) of the stats' production models."""
        ...


class DriftAlerts(Protocol):
    """A stat's drift alerts, inside a transaction that holds the stat's alert lock."""

    async def last(self) -> dt.datetime | None:
        """When the stat's latest alert fired."""
        ...

    async def record(
        self,
        *,
        day: dt.date,
        fired_at: dt.datetime,
        event_id: str,
        reason: str,
        features: Sequence[str],
    ) -> None: ...


class MonitorRepository(Protocol):
    """The predictions heard for the monitor and what the monitor computed from them."""

    async def store_predictions(self, made: Sequence[PredictionMade]) -> int:
        """Keep predictions once per event id; returns how many were new."""
        ...

    async def stored_predictions(
        self, *, stat: Stat, first: dt.date, last: dt.date
    ) -> list[StoredPrediction]:
        """The stat's predictions with `as_of` in [first, last]."""
        ...

    async def store_ab_props(self, props: Sequence[BookProp]) -> int:
        """Keep each A/B prop as last priced (an older pricing arriving late changes nothing);
        returns how many were new or newer."""
        ...

    async def ab_props(self, *, stat: Stat, first: dt.date, last: dt.date) -> list[BookProp]:
        """The stat's A/B props with a game date in [first, last]."""
        ...

    async def save_day_metrics(self, rows: Sequence[DayMetrics]) -> None:
        """Store (or replace) each stat's figures of a day."""
        ...

    async def roi_history(
        self, *, stat: Stat, until: dt.date, days: int = 366
    ) -> list[tuple[dt.date, int, float | None]]:
        """(day, bets, roi) of the stat's stored days up to `until`, newest first."""
        ...

    async def latest_day_metrics(self, *, until: dt.date | None = None) -> list[DayMetrics]:
        """Each stat's newest stored day (up to `until`)."""
        ...

    async def save_drift_reports(
        self, *, day: dt.date, reports: Mapping[str, Sequence[SeriesDrift]]
    ) -> None:
        """A day's drift reports by scope ("features", or a stat), together; a rerun for the
        same day replaces them."""
        ...

    def drift_alerts(self, stat: Stat) -> AbstractAsyncContextManager[DriftAlerts]:
        """The stat's alerts, one replica at a time (the second waits, then sees the first
        one's record)."""
        ...


class ScheduledRuns(RunLog, Protocol):
    """Scheduled runs done, by job and run key (a game day)."""

    async def last(self, job: str) -> str | None:
        """The newest run key recorded for `job`."""
        ...
