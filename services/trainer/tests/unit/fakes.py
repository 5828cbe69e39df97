"""In-memory stand-ins for the trainer's ports (statmuse_trainer.ports), its artifact store and
its publishers, for unit tests without PostgreSQL or Kafka; `runtime()` builds the service's
runtime over them."""

import asyncio
import copy
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from statmuse_shared.contract.messages import (
    FeaturesComputed,
    GameRef,
    ModelPublished,
    PredictionMade,
    StatLine,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import FEATURE_SET_VERSION, feature_names
from statmuse_shared.models.artifacts import ArtifactError, sha256
from statmuse_trainer.app import build_runtime
from statmuse_trainer.monitoring.drift import SeriesDrift
from statmuse_trainer.monitoring.performance import (
    BookProp,
    DayMetrics,
    LineQuote,
    OtherArm,
    PlayedGame,
    StoredPrediction,
)
from statmuse_trainer.ports import VersionRow
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.settings import TrainerSettings
from statmuse_trainer.training.baseline import Example
from statmuse_trainer.training.dataset import Row


class MemoryArtifactStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> tuple[str, str]:
        self.blobs[f"mem://{key}"] = data
        return f"mem://{key}", sha256(data)

    def get(self, uri: str, *, checksum: str) -> bytes:
        data = self.blobs[uri]
        if sha256(data) != checksum:
            raise ArtifactError(f"checksum mismatch for {uri}")
        return data


class InMemoryExamples:
    """Game vectors by (player, as_of, feature set), as the table keys them."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, dt.date, str], FeaturesComputed] = {}

    async def upsert(self, vectors: Sequence[FeaturesComputed]) -> int:
        played = [v for v in vectors if v.kind == "game" and v.outcome is not None]
        for v in played:
            self.rows[(v.player_id, v.as_of, v.feature_set_version)] = v
        return len(played)

    async def latest_feature_set(self) -> str | None:
        return next(reversed(self.rows.values())).feature_set_version if self.rows else None

    def _outcomes(self) -> list[tuple[FeaturesComputed, dict[str, Any]]]:
        return [(v, v.outcome.model_dump(mode="json")) for v in self.rows.values() if v.outcome]

    async def labelled(
        self, *, stat: Stat, feature_set_version: str, seasons: Sequence[str]
    ) -> list[Example]:
        out = []
        for v, o in self._outcomes():
            if v.feature_set_version != feature_set_version or (
                seasons and v.season not in seasons
            ):
                continue
            parts = ["points", "rebounds", "assists"] if stat is Stat.PRA else [stat.value]
            if any(o.get(p) is None for p in parts):
                continue
            out.append(Example(dict(v.features), float(sum(o[p] for p in parts))))
        return out

    async def dataset_rows(self, *, feature_set_version: str, seasons: Sequence[str]) -> list[Row]:
        rows = [
            Row(v.player_id, v.season, v.as_of, v.as_of, dict(v.features), o, v.player_name)
            for v, o in self._outcomes()
            if v.feature_set_version == feature_set_version and v.season in seasons
        ]
        return sorted(rows, key=lambda r: (r.game_date, r.player_id))

    async def played_games(self, *, first: dt.date, last: dt.date) -> list[PlayedGame]:
        return [
            PlayedGame(
                v.player_id,
                v.as_of,
                float(o.get("minutes") or 0),
                {k: o.get(k) for k in ("points", "rebounds", "assists", "threes")},
            )
            for v, o in self._outcomes()
            if first <= v.as_of <= last
        ]

    async def feature_sample(
        self,
        *,
        feature_set_version: str,
        first: dt.date | None,
        last: dt.date | None,
        seasons: Sequence[str] = (),
        limit: int,
    ) -> list[dict[str, float | None]]:
        found = [
            dict(v.features)
            for v in self.rows.values()
            if v.feature_set_version == feature_set_version
            and (first is None or v.as_of >= first)
            and (last is None or v.as_of <= last)
            and (not seasons or v.season in seasons)
        ]
        return found[:limit]

    async def players_with_games(self, *, after: dt.date, until: dt.date) -> list[int]:
        return sorted({v.player_id for v, _ in self._outcomes() if after < v.as_of <= until})


class _RegistryState:
    def __init__(self) -> None:
        self.versions: dict[str, tuple[ModelPublished, dict[str, Any]]] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.history: list[tuple[int, str, str, str]] = []  # (id, key, alias, version)
        self.requested_by: list[str | None] = []  # who asked for each move of `history`
        self.details: list[str | None] = []  # and what a pin was
        self.commands: set[str] = set()


class InMemoryRegistrySession:
    def __init__(self, state: _RegistryState) -> None:
        self.s = state

    async def record_command(self, command_id: str) -> bool:
        if command_id in self.s.commands:
            return False
        self.s.commands.add(command_id)
        return True

    async def alias_version(self, key: str, alias: str) -> str | None:
        return self.s.aliases.get((key, alias))

    async def previous_production(self, key: str, current: str) -> str | None:
        for _, k, alias, version in reversed(self.s.history):
            if k == key and alias == "production" and version != current:
                return version
        return None

    async def set_alias(
        self,
        key: str,
        alias: str,
        version: str,
        *,
        requested_by: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.s.aliases[(key, alias)] = version
        self.s.history.append((len(self.s.history) + 1, key, alias, version))
        self.s.requested_by.append(requested_by)
        self.s.details.append(detail)

    async def last_archived(self, key: str) -> str | None:
        found = [v for _, k, a, v in self.s.history if k == key and a == "archived"]
        return found[-1] if found else None

    async def drop_staging(self, key: str, version: str) -> None:
        if self.s.aliases.get((key, "staging")) == version:
            del self.s.aliases[(key, "staging")]

    async def version(self, version: str) -> VersionRow:
        if version not in self.s.versions:
            raise LookupError(f"no model version {version}")
        p, _ = self.s.versions[version]
        moved = max((i for i, _, _, v in self.s.history if v == version), default=None)
        return VersionRow(
            version=p.version,
            name=p.name,
            stat=p.stat,
            player_id=p.player_id,
            model_type=p.model_type,
            artifact_uri=p.artifact_uri,
            checksum=p.checksum,
            feature_set_version=p.feature_set_version,
            dataset_version=p.dataset_version,
            metrics=p.metrics,
            moved=moved,
        )

    async def next_version(self, base: str) -> str:
        taken = sum(v == base or v.startswith(f"{base}-r") for v in self.s.versions)
        return base if taken == 0 else f"{base}-r{taken + 1}"

    async def register(
        self,
        published: ModelPublished,
        metadata: Mapping[str, Any] | None = None,
        *,
        bundle: bytes | None = None,
        reports: Sequence[Path] = (),
        base: str | None = None,
        requested_by: str | None = None,
    ) -> None:
        self.s.versions[published.version] = (published, dict(metadata or {}))
        await self.set_alias(
            published.key, published.alias, published.version, requested_by=requested_by
        )


class InMemoryRegistry:
    """A transaction works on a copy and replaces the state only when its block succeeds."""

    def __init__(self) -> None:
        self.state = _RegistryState()
        self.trained: list[ModelPublished] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[InMemoryRegistrySession]:
        draft = copy.deepcopy(self.state)
        yield InMemoryRegistrySession(draft)
        self.state = draft

    def alias(self, key: str, alias: str) -> str | None:
        return self.state.aliases.get((key, alias))

    async def ping(self) -> bool:
        return True

    async def trained_on(self, stat: Stat, day: dt.date) -> str | None:
        found = [
            v
            for v, (p, _) in self.state.versions.items()
            if p.stat is stat and p.model_type == "count_model" and v.startswith(f"v{day}-")
        ]
        return found[-1] if found else None

    async def production_training_windows(self) -> list[dict[str, Any]]:
        out = []
        for (key, alias), version in self.state.aliases.items():
            p, metadata = self.state.versions[version]
            if alias == "production" and key == p.stat.value and "training_window" in metadata:
                out.append(metadata["training_window"])
        return out


class InMemoryDriftAlerts:
    def __init__(self, monitor: "InMemoryMonitor", stat: Stat) -> None:
        self.monitor, self.stat = monitor, stat
        self.pending: list[dict[str, Any]] = []

    async def last(self) -> dt.datetime | None:
        fired = [a["fired_at"] for a in self.monitor.alerts if a["stat"] is self.stat]
        return max(fired, default=None)

    async def record(
        self,
        *,
        day: dt.date,
        fired_at: dt.datetime,
        event_id: str,
        reason: str,
        features: Sequence[str],
    ) -> None:
        self.pending.append(
            {
                "stat": self.stat,
                "day": day,
                "fired_at": fired_at,
                "event_id": event_id,
                "reason": reason,
                "features": list(features),
            }
        )


class InMemoryMonitor:
    def __init__(self) -> None:
        self.predictions: dict[str, PredictionMade] = {}
        self.days: dict[tuple[Stat, dt.date], DayMetrics] = {}
        self.drift: dict[tuple[dt.date, str, str], SeriesDrift] = {}
        self.alerts: list[dict[str, Any]] = []
        self.locks: dict[Stat, asyncio.Lock] = {}
        self.ab: dict[tuple[Any, ...], BookProp] = {}

    async def store_predictions(self, made: Sequence[PredictionMade]) -> int:
        new = [p for p in made if p.event_id not in self.predictions]
        self.predictions.update((p.event_id, p) for p in new)
        return len(new)

    async def stored_predictions(
        self, *, stat: Stat, first: dt.date, last: dt.date
    ) -> list[StoredPrediction]:
        return [
            StoredPrediction(
                p.event_id,
                p.player_id,
                p.stat,
                p.as_of,
                p.predicted_value,
                tuple(
                    LineQuote(q.line, q.over_probability, q.under_probability, q.push_probability)
                    for q in p.lines
                ),
                p.model_version,
                p.occurred_at,
                p.arm,
                None
                if p.other_arm is None
                else OtherArm(
                    p.other_arm.arm,
                    p.other_arm.model_version,
                    tuple(
                        LineQuote(
                            q.line, q.over_probability, q.under_probability, q.push_probability
                        )
                        for q in p.other_arm.lines
                    ),
                ),
            )
            for p in self.predictions.values()
            if p.stat is stat and first <= p.as_of <= last
        ]

    async def store_ab_props(self, props: Sequence[BookProp]) -> int:
        stored = 0
        for p in props:
            key = (p.player_id, p.stat, p.game_date, p.line, p.production_version,
                   p.challenger_version)  # fmt: skip
            known = self.ab.get(key)
            if known is None or known.priced_at < p.priced_at:
                self.ab[key] = p
                stored += 1
        return stored

    async def ab_props(self, *, stat: Stat, first: dt.date, last: dt.date) -> list[BookProp]:
        return [p for p in self.ab.values() if p.stat is stat and first <= p.game_date <= last]

    async def save_day_metrics(self, rows: Sequence[DayMetrics]) -> None:
        self.days.update(((m.stat, m.day), m) for m in rows)

    async def roi_history(
        self, *, stat: Stat, until: dt.date, days: int = 366
    ) -> list[tuple[dt.date, int, float | None]]:
        mine = sorted(
            (m for m in self.days.values() if m.stat is stat and m.day <= until),
            key=lambda m: m.day,
            reverse=True,
        )
        return [(m.day, m.bets, m.roi) for m in mine[:days]]

    async def latest_day_metrics(self, *, until: dt.date | None = None) -> list[DayMetrics]:
        latest: dict[Stat, DayMetrics] = {}
        for m in self.days.values():
            if (until is None or m.day <= until) and (
                m.stat not in latest or m.day > latest[m.stat].day
            ):
                latest[m.stat] = m
        return [latest[s] for s in sorted(latest, key=lambda s: s.value)]

    async def save_drift_reports(
        self, *, day: dt.date, reports: Mapping[str, Sequence[SeriesDrift]]
    ) -> None:
        for scope, rows in reports.items():
            self.drift.update(((day, scope, r.name), r) for r in rows)

    @asynccontextmanager
    async def drift_alerts(self, stat: Stat) -> AsyncIterator[InMemoryDriftAlerts]:
        async with self.locks.setdefault(stat, asyncio.Lock()):
            alerts = InMemoryDriftAlerts(self, stat)
            yield alerts
            self.alerts.extend(alerts.pending)  # kept only when the block succeeds


class InMemoryRuns:
    def __init__(self) -> None:
        self.recorded: dict[tuple[str, str], Mapping[str, Any]] = {}

    async def done(self, job: str, run_key: str) -> bool:
        return (job, run_key) in self.recorded

    async def record(self, job: str, run_key: str, detail: Mapping[str, Any]) -> None:
        self.recorded[(job, run_key)] = detail

    async def last(self, job: str) -> str | None:
        return max((k for j, k in self.recorded if j == job), default=None)


class RecordingPublisher:
    """A declared publisher's stand-in: what was published, decoded, with its key."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        self.sent: list[tuple[bytes | None, Any]] = []

    async def publish(
        self, body: bytes, topic: str = "", *, key: bytes | None = None, **_: Any
    ) -> None:
        self.sent.append((key, self.model.model_validate_json(body)))

    @property
    def messages(self) -> list[Any]:
        return [m for _, m in self.sent]


NOW = dt.datetime(2024, 3, 21, 11, 0, tzinfo=dt.UTC)


def game_vector(
    pid: int, day: dt.date, *, points: int = 20, sma: float | None = 19.0, kind: str = "game"
) -> FeaturesComputed:
    """A played game's vector with its outcome (what the trainer keeps as an example): a whole
    vector of the current feature set, as the topic carries, the baseline's inputs set."""
    played = kind == "game"
    return FeaturesComputed(
        event_id=f"fv-{pid}-{day}-{kind}",
        player_id=pid,
        player_name=f"Player {pid}",
        team="LAL",
        season="2023-24",
        as_of=day,
        kind=kind,
        game=GameRef(game_date=day, season_type="Regular Season", opponent="DEN", is_home=True)
        if played
        else None,
        feature_set_version=FEATURE_SET_VERSION,
        features={
            **dict.fromkeys(feature_names()),
            "points_sma_10": sma,
            "points_n_10": 10.0,
            "points_season_avg": 18.0,
        },
        outcome=StatLine(game_date=day, minutes=30, points=points, rebounds=5, assists=4)
        if played
        else None,
    )


def runtime(**settings: object) -> TrainerRuntime:
    return build_runtime(
        TrainerSettings(database_url="postgresql://unused@localhost/none", **settings),
        examples=InMemoryExamples(),
        registry=InMemoryRegistry(),
        monitor=InMemoryMonitor(),
        runs=InMemoryRuns(),
        store=MemoryArtifactStore(),
        clock=lambda: NOW,
    )
