"""An in-memory `FeatureRepository` (see statmuse_features.ports) with the semantics of the
PostgreSQL one (adapters/postgres.py): upserts that report what changed (by event id), the
league revision every team-box write takes, the opponent's points for a box without its own,
and the per-partition progress and stale marks of `features.partitions`, statement by
statement. `Faulty` wraps any repository (this one or PostgreSQL's) to count the operations
called and make one raise (a crash at that point)."""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from statmuse_features.engine import Engine
from statmuse_features.ports import GameKey, History, Progress, StaleRange
from statmuse_features.service import player_game, team_report, vectors_and_state
from statmuse_shared.contract.messages import (
    AvailabilityReported,
    FeaturesComputed,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.features import TeamGame, TeamReport, possessions_of
from statmuse_shared.features.teams import plays


class Crash(RuntimeError):
    """What the operation named in `Faulty.fail_on` raises."""


class Faulty:
    """A repository (any `FeatureRepository`) whose operations are counted in `calls`;
    `fail_on` names one whose next call raises `Crash` instead of running. Sessions share
    the counts and the fault."""

    def __init__(self, inner: Any, *, root: "Faulty | None" = None) -> None:
        self.inner = inner
        self.root = self if root is None else root
        self.fail_on: str | None = None
        self.calls: list[str] = []

    @asynccontextmanager
    async def session(self) -> AsyncIterator["Faulty"]:
        async with self.inner.session() as session:
            yield Faulty(session, root=self.root)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        operation = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.root.calls.append(name)
            if self.root.fail_on == name:
                self.root.fail_on = None
                raise Crash(f"crash in {name}")
            return await operation(*args, **kwargs)

        return call


@dataclass
class _TeamRow:
    """A row of features.team_games."""

    game_key: str
    team: str
    game_date: dt.date
    season: str
    points: int
    event_id: str
    points_allowed: int | None = None
    possessions: float | None = None
    minutes: float | None = None
    plays: float | None = None
    revision: int = 0


@dataclass
class _Partition:
    latest_day: dt.date
    checked_revision: int
    stale_since: dt.date | None = None
    stale_version: int = 0


class InMemoryFeatures:
    def __init__(self) -> None:
        self.player_games: dict[GameKey, PlayerGameIngested] = {}
        self.team_rows: dict[tuple[str, str], _TeamRow] = {}  # (game_key, team)
        self.revision = 1  # features.league starts at 1
        self.partitions: dict[tuple[int, str], _Partition] = {}
        self.vectors: dict[tuple[int, dt.date, str], FeaturesComputed] = {}
        # (game_key, team) -> (revision, the report as stored)
        self.report_rows: dict[tuple[str, str], tuple[int, TeamReport]] = {}

    @asynccontextmanager
    async def session(self) -> AsyncIterator["InMemoryFeatures"]:
        yield self

    async def store_games(
        self, *, players: Sequence[PlayerGameIngested], teams: Sequence[TeamGameIngested]
    ) -> set[GameKey]:
        new: set[GameKey] = set()
        if players:
            _unique([(g.player_id, g.game_key) for g in players])
            for g in players:
                known = self.player_games.get((g.player_id, g.game_key))
                if known is None or known.event_id != g.event_id:
                    self.player_games[(g.player_id, g.game_key)] = g
                    new.add((g.player_id, g.game_key))
        if teams:
            self._upsert_team_games(teams)
        return new

    def _upsert_team_games(self, games: Sequence[TeamGameIngested]) -> None:
        _unique([(g.game_key, g.team) for g in games])
        self.revision += 1  # every write takes a revision, whether anything changes or not
        changed: set[str] = set()
        for g in games:
            known = self.team_rows.get((g.game_key, g.team))
            if known is not None and known.event_id == g.event_id:
                continue
            row = _TeamRow(g.game_key, g.team, g.game_date, g.season, g.points, g.event_id)
            row.points_allowed, row.possessions, row.minutes = (
                g.opponent_points,
                possessions_of(g),
                g.minutes,
            )
            row.plays = plays(fga=g.fga, tov=g.tov, fta=g.fta)
            row.revision = self.revision
            self.team_rows[(g.game_key, g.team)] = row
            changed.add(g.game_key)
        for t in list(self.team_rows.values()):
            if t.game_key not in changed or t.points_allowed is not None:
                continue
            for o in self.team_rows.values():
                if o.game_key == t.game_key and o.team != t.team:
                    t.points_allowed, t.revision = o.points, self.revision

    async def games_without_vectors(
        self, games: Sequence[PlayerGameIngested], *, feature_set_version: str
    ) -> set[GameKey]:
        return {
            (g.player_id, g.game_key)
            for g in games
            if (v := self.vectors.get((g.player_id, g.game_date, feature_set_version))) is None
            or v.kind != "game"
        }

    async def league_revision(self) -> int:
        return self.revision

    async def team_games(
        self, *, after: int | None = None, upto: int | None = None
    ) -> list[TeamGame]:
        rows = [
            t
            for t in self.team_rows.values()
            if t.points_allowed is not None
            and t.possessions is not None
            and t.minutes is not None
            and t.minutes > 0
            and (after is None or t.revision > after)
            and (upto is None or t.revision <= upto)
        ]
        rows.sort(key=lambda t: (t.season, t.team, t.game_date))
        return [
            TeamGame(
                t.game_date, t.season, t.team, t.points_allowed, t.possessions, t.minutes, t.plays
            )
            for t in rows
            if t.points_allowed is not None and t.possessions is not None and t.minutes is not None
        ]

    async def store_reports(self, reports: Sequence[AvailabilityReported]) -> int:
        if not reports:
            return 0
        self.revision += 1  # as PostgreSQL: the counter moves whether anything changes or not
        changed = 0
        for r in {(r.game_key, r.team): r for r in reports}.values():
            report = team_report(r)
            known = self.report_rows.get((r.game_key, r.team))
            if known is None or known[1] != report:
                self.report_rows[(r.game_key, r.team)] = (self.revision, report)
                changed += 1
        return changed

    async def reports(
        self, *, after: int | None = None, upto: int | None = None
    ) -> list[TeamReport]:
        rows = [
            (revision, report)
            for revision, report in self.report_rows.values()
            if (after is None or revision > after) and (upto is None or revision <= upto)
        ]
        rows.sort(key=lambda x: (x[0], x[1].game_date, x[1].team))
        return [report for _, report in rows]

    async def record_progress(self, *, latest: Progress, revision: int) -> None:
        for at, day in latest.items():
            row = self.partitions.get(at)
            if row is None:
                self.partitions[at] = _Partition(day, revision)
            else:
                row.latest_day = max(row.latest_day, day)
                row.checked_revision = min(row.checked_revision, revision)

    async def mark_stale(self, *, partitions: Sequence[int] | None, upto: int) -> None:
        mine = {at: row for at, row in self.partitions.items() if _among(at[0], partitions)}
        for (_, season), row in mine.items():
            # A team box of day d: vectors from d + 1 on; a report of day d: from d on.
            late = [
                t.game_date + dt.timedelta(days=1)
                for t in self.team_rows.values()
                if t.season == season
                and row.checked_revision < t.revision <= upto
                and t.game_date < row.latest_day
            ] + [
                report.game_date
                for revision, report in self.report_rows.values()
                if report.season == season
                and row.checked_revision < revision <= upto
                and report.game_date <= row.latest_day
            ]
            if late:
                first = min(late)
                row.stale_since = first if row.stale_since is None else min(row.stale_since, first)
                row.stale_version += 1
        for row in mine.values():
            row.checked_revision = max(row.checked_revision, upto)

    async def stale_ranges(self, *, partitions: Sequence[int] | None) -> list[StaleRange]:
        found = [
            StaleRange(p, s, row.stale_since, row.stale_version)
            for (p, s), row in self.partitions.items()
            if row.stale_since is not None and _among(p, partitions)
        ]
        return sorted(found, key=lambda r: (r.season, r.partition))

    async def clear_stale(self, *, healed: Sequence[tuple[int, str, int]]) -> None:
        for p, s, version in healed:
            row = self.partitions.get((p, s))
            if row is not None and row.stale_version == version:
                row.stale_since = None

    async def histories(self, player_ids: Sequence[int]) -> dict[int, History]:
        wanted = set(player_ids)
        out: dict[int, History] = {}
        games = sorted(
            (g for g in self.player_games.values() if g.player_id in wanted),
            key=lambda g: (g.player_id, g.game_date),
        )
        for g in games:
            _, history = out.setdefault(g.player_id, History(g.player_name, []))
            history.append(player_game(g))
            out[g.player_id] = History(g.player_name, history)
        return out

    async def players_with_games_since(self, *, season: str, since: dt.date) -> list[int]:
        return sorted(
            {
                g.player_id
                for g in self.player_games.values()
                if g.season == season and g.game_date >= since
            }
        )

    async def all_players(self) -> list[int]:
        return sorted({g.player_id for g in self.player_games.values()})

    async def rostered(self, *, teams: Sequence[str], seasons: Sequence[str]) -> list[int]:
        latest: dict[int, PlayerGameIngested] = {}
        for g in self.player_games.values():
            if g.season in seasons and (
                g.player_id not in latest or g.game_date > latest[g.player_id].game_date
            ):
                latest[g.player_id] = g
        return sorted(p for p, g in latest.items() if g.team in teams)

    async def last_game_date(self) -> dt.date | None:
        return max((g.game_date for g in self.player_games.values()), default=None)

    async def store_vectors(
        self, vectors: Sequence[FeaturesComputed], *, packed: Sequence[bytes] | None = None
    ) -> list[FeaturesComputed]:
        if not vectors:
            return []
        assert packed is None or len(packed) == len(vectors)
        _unique([(v.player_id, v.as_of, v.feature_set_version) for v in vectors])
        changed = []
        for v in vectors:
            at = (v.player_id, v.as_of, v.feature_set_version)
            known = self.vectors.get(at)
            if known is None or known.event_id != v.event_id:
                self.vectors[at] = v
                changed.append(v)
        return changed


def _among(partition: int, partitions: Sequence[int] | None) -> bool:
    return partitions is None or partition in partitions


def _unique(keys: list[tuple[object, ...]]) -> None:
    """PostgreSQL refuses an upsert that touches one row twice ("ON CONFLICT DO UPDATE command
    cannot affect row a second time"): so does the fake."""
    assert len(set(keys)) == len(keys), "one statement touches a row twice"


async def batch_build(features: InMemoryFeatures) -> dict[tuple[int, dt.date], FeaturesComputed]:
    """Every vector a batch build from the store gives, by (player, as_of): each player's whole
    history walked with the whole league."""
    reader = Engine(features)
    await reader.load()
    histories = await features.histories(await features.all_players())
    return {
        (v.player_id, v.as_of): v
        for player_id, (name, history) in histories.items()
        for v in vectors_and_state(
            player_id=player_id, player_name=name, history=history, league=reader.league
        )[0]
    }


def stored(features: InMemoryFeatures) -> dict[tuple[int, dt.date], FeaturesComputed]:
    """The stored vectors by (player, as_of)."""
    return {(p, day): v for (p, day, _), v in features.vectors.items()}


def differing(
    features: InMemoryFeatures, batch: dict[tuple[int, dt.date], FeaturesComputed]
) -> list[tuple[int, dt.date]]:
    """The keys of a batch build whose stored vector is missing or differs in any field but
    the time it was made."""
    found = stored(features)
    return [
        k
        for k, v in batch.items()
        if k not in found
        or found[k].model_dump(exclude={"occurred_at"}) != v.model_dump(exclude={"occurred_at"})
    ]
