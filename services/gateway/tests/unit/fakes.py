"""In-memory stand-ins for the gateway's ports (see statmuse_gateway.ports), and a runtime
built on them."""

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from statmuse_gateway.adapters.apikeys import ApiKey, DailyLimit
from statmuse_gateway.adapters.cache import digest
from statmuse_gateway.app import build_runtime
from statmuse_gateway.ports import (
    CounterUnavailableError,
    KeysUnavailableError,
    Player,
    ScheduledGame,
    StoredModel,
    StoredVector,
    Vectors,
)
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.contract.messages import (
    AbTestReported,
    BestPrice,
    BookPrice,
    FeaturesComputed,
    GameScheduled,
    ModelPublished,
    PlayerGameIngested,
    PropPriced,
    TeamGameIngested,
)
from statmuse_shared.contract.names import normalize_name
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import PlayerGame, TeamGame, possessions_of
from statmuse_shared.features.context import Shooting
from statmuse_shared.models.artifacts import ArtifactError, sha256
from statmuse_shared.models.pricing import expected_value
from statmuse_shared.models.serving import ModelBook

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


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


class InMemoryReadModel:
    """The read model in dicts, with the same replay rules as PostgreSQL's upserts: a row
    whose event id is already stored changes nothing."""

    def __init__(self) -> None:
        self.players: dict[int, tuple[str, str | None, dt.date]] = {}
        self.vectors: dict[tuple[int, dt.date], FeaturesComputed] = {}
        self.models_stored: dict[str, tuple[ModelPublished, dt.datetime]] = {}
        self.ab_stored: dict[str, AbTestReported] = {}
        self.player_games: dict[tuple[int, str], PlayerGameIngested] = {}
        self.team_boxes: dict[tuple[str, str], TeamGameIngested] = {}
        self.team_versions: dict[tuple[str, str], int] = {}  # the league version of each box
        self.league_version = 0
        self.schedule: dict[str, GameScheduled] = {}
        self.props: dict[tuple[int, dt.date, str, float], PropPriced] = {}
        self.calls: list[str] = []  # which query each step made, in order

    def player(self, player_id: int, name: str, *, team: str = "LAL", seen: dt.date) -> None:
        self.players[player_id] = (name, team, seen)

    async def store_vectors(self, vectors: Sequence[FeaturesComputed]) -> None:
        self.calls.append("store_vectors")
        for v in vectors:
            self.vectors[(v.player_id, v.as_of)] = v
            known = self.players.get(v.player_id)
            if known is None or known[2] <= v.as_of:
                self.players[v.player_id] = (v.player_name, v.team, v.as_of)

    async def store_schedule(self, games: Sequence[GameScheduled]) -> None:
        self.calls.append("store_schedule")
        for g in games:
            self.schedule[g.game_id] = g

    async def games_of(
        self, wanted: Sequence[tuple[str, dt.date]]
    ) -> dict[tuple[str, dt.date], ScheduledGame]:
        self.calls.append("games_of")
        return {
            (team, day): ScheduledGame(g.game_id, g.game_date, g.home, g.away, g.status)
            for team, day in wanted
            for g in self.schedule.values()
            if g.game_date == day and team in (g.home, g.away)
        }

    async def store_props(self, props: Sequence[PropPriced]) -> None:
        self.calls.append("store_props")
        for p in props:
            self.props[(p.player_id, p.game_date, p.stat.value, p.line)] = p
            if p.stat_lines:
                self.props = {
                    k: v
                    for k, v in self.props.items()
                    if k[:3] != (p.player_id, p.game_date, p.stat.value) or k[3] in p.stat_lines
                }

    async def slate(
        self, day: dt.date, *, stat: str | None, team: str | None, min_edge: float, limit: int
    ) -> list[str]:
        self.calls.append("slate")
        found = [
            p
            for p in self.props.values()
            if p.game_date == day
            and (stat is None or p.stat.value == stat)
            and (team is None or p.team == team)
            and (min_edge <= 0 or (p.edge is not None and abs(p.edge) >= min_edge))
        ]
        found.sort(key=lambda p: (-abs(p.edge or 0.0), p.player_id, p.stat.value, p.line))
        return [p.model_dump_json() for p in found[:limit]]

    async def slate_dates(self) -> list[dt.date]:
        self.calls.append("slate_dates")
        return sorted({p.game_date for p in self.props.values()})

    async def store_model(self, event: ModelPublished) -> None:
        self.calls.append("store_model")
        self.models_stored[event.version] = (event, NOW)

    async def store_ab_tests(self, reports: Sequence[AbTestReported]) -> None:
        self.calls.append("store_ab_tests")
        for r in reports:
            known = self.ab_stored.get(r.stat.value)
            if known is None or known.last_day <= r.last_day:
                self.ab_stored[r.stat.value] = r

    async def ab_tests(self) -> list[str]:
        self.calls.append("ab_tests")
        return [self.ab_stored[k].model_dump_json() for k in sorted(self.ab_stored)]

    async def store_games(
        self, players: Sequence[PlayerGameIngested], teams: Sequence[TeamGameIngested]
    ) -> tuple[set[int], list[TeamGame]]:
        self.calls.append("store_games")
        touched = set()
        for g in players:
            known = self.player_games.get((g.player_id, g.game_key))
            if known is None or known.event_id != g.event_id:
                self.player_games[(g.player_id, g.game_key)] = g
                touched.add(g.player_id)
        new = []
        if teams:
            self.league_version += 1
        for t in teams:
            known_team = self.team_boxes.get((t.game_key, t.team))
            if known_team is None or known_team.event_id != t.event_id:
                self.team_boxes[(t.game_key, t.team)] = t
                self.team_versions[(t.game_key, t.team)] = self.league_version
                if _complete(t):
                    new.append(_team_game(t))
        return touched, new

    async def team_games_since(self, version: int) -> tuple[list[TeamGame], int]:
        self.calls.append("team_games_since")
        found = [
            (self.team_versions[k], _team_game(t))
            for k, t in self.team_boxes.items()
            if self.team_versions[k] > version and _complete(t)
        ]
        return [g for _, g in found], max((v for v, _ in found), default=version)

    def _by_name(self, normalized: str) -> list[Player]:
        found = [
            (seen, pid, Player(pid, name, team))
            for pid, (name, team, seen) in self.players.items()
            if normalize_name(name) == normalized
        ]
        return [p for _, _, p in sorted(found, key=lambda f: (-f[0].toordinal(), f[1]))]

    async def players_named(self, name: str) -> list[Player]:
        self.calls.append("players_named")
        return self._by_name(normalize_name(name))

    async def players_by_names(self, normalized_names: Sequence[str]) -> dict[str, Player]:
        self.calls.append("players_by_names")
        out = {}
        for key in normalized_names:
            found = self._by_name(key)
            if found:
                out[key] = found[0]
        return out

    async def names(self) -> list[str]:
        self.calls.append("names")
        return [name for name, _, _ in self.players.values()]

    async def vectors_for(self, wanted: Sequence[tuple[int, dt.date | None]]) -> Vectors:
        self.calls.append("vectors_for")
        out: Vectors = {}
        for player_id, game_date in wanted:
            usable = [
                v
                for (pid, as_of), v in self.vectors.items()
                if pid == player_id and (game_date is None or as_of <= game_date)
            ]
            if usable:
                v = max(usable, key=lambda v: v.as_of)
                out[(player_id, game_date)] = StoredVector(
                    v.as_of,
                    _json(v.features),
                    v.game.model_dump_json() if v.game is not None else None,
                    v.last_game.game_date if v.last_game is not None else None,
                    v.event_id,
                )
        return out

    async def history(self, player_id: int) -> list[tuple[PlayerGame, Shooting]]:
        self.calls.append("history")
        games = sorted(
            (g for (pid, _), g in self.player_games.items() if pid == player_id),
            key=lambda g: g.game_date,
        )
        return [
            (
                PlayerGame(
                    g.game_date,
                    g.season,
                    g.season_type,
                    g.team,
                    g.opponent,
                    g.is_home,
                    g.minutes,
                    g.points,
                    g.rebounds,
                    g.assists,
                    g.fg3m,
                ),
                Shooting(g.fga, g.fta, g.turnovers),
            )
            for g in games
        ]

    async def models(self) -> list[StoredModel]:
        self.calls.append("models")
        return [
            StoredModel(event.model_dump_json(), event.alias, at)
            for event, at in self.models_stored.values()
        ]


def _json(features: dict[str, float | None]) -> str:
    return json.dumps(features)


def _complete(t: TeamGameIngested) -> bool:
    """What a rating can use (as the PostgreSQL read model keeps)."""
    return t.opponent_points is not None and possessions_of(t) is not None and bool(t.minutes)


def _team_game(t: TeamGameIngested) -> TeamGame:
    return TeamGame(
        t.game_date, t.season, t.team, t.opponent_points, possessions_of(t), float(t.minutes)
    )


class InMemoryContextCache:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, dict[str, Any]]] = {}
        self.invalidated: list[set[int]] = []

    async def get(self, params: dict[str, Any]) -> dict[str, Any] | None:
        found = self.entries.get(digest(params))
        return None if found is None else found[1]

    async def put(self, player_id: int, params: dict[str, Any], value: dict[str, Any]) -> None:
        self.entries[digest(params)] = (player_id, value)

    async def invalidate(self, player_ids: Iterable[int]) -> int:
        ids = set(player_ids)
        self.invalidated.append(ids)
        gone = [k for k, (pid, _) in self.entries.items() if pid in ids]
        for k in gone:
            del self.entries[k]
        return len(gone)


class InMemoryPredictionCache:
    """Entries under the generations they were stored in, as the Redis cache keys them."""

    def __init__(self, *, down: bool = False) -> None:
        self.generation = 0
        self.player_generations: dict[int, int] = {}
        self.entries: dict[str, bytes] = {}
        self.lookups = 0
        self.down = down

    def _key(self, player_id: int, params: dict[str, Any]) -> str:
        player = self.player_generations.get(player_id, 0)
        return f"pred:{self.generation}.{player}:{player_id}:{digest(params)}"

    async def lookup(
        self, wanted: Sequence[tuple[int, dict[str, Any]]]
    ) -> list[tuple[str | None, bytes | None]]:
        if not wanted:
            return []
        self.lookups += 1
        if self.down:
            return [(None, None)] * len(wanted)
        keys = [self._key(pid, params) for pid, params in wanted]
        return [(key, self.entries.get(key)) for key in keys]

    async def put(self, entries: Sequence[tuple[str | None, bytes]]) -> None:
        for key, raw in entries:
            if key is not None and not self.down:
                self.entries[key] = raw

    async def invalidate_all(self) -> bool:
        self.generation += 1
        return True

    async def invalidate_players(self, player_ids: Iterable[int]) -> bool:
        for player_id in set(player_ids):
            self.player_generations[player_id] = self.player_generations.get(player_id, 0) + 1
        return True


class InMemoryApiKeys:
    def __init__(self, keys: dict[str, ApiKey] | None = None, *, down: bool = False) -> None:
        self.keys = keys or {}
        self.down = down
        self.lookups = 0
        self.usage: dict[tuple[str, dt.date], int] = {}

    async def authenticate(self, token: str) -> ApiKey | None:
        self.lookups += 1
        if self.down:
            raise KeysUnavailableError("connection refused")
        return self.keys.get(token)

    async def change_daily_limit(
        self, key_id: str, wanted: int | None, now: dt.datetime
    ) -> DailyLimit | None:
        if self.down:
            raise KeysUnavailableError("connection refused")
        changed = None
        for token, key in self.keys.items():
            if key.key_id == key_id:
                changed = key.daily.set_to(wanted, now)
                self.keys[token] = dataclasses.replace(key, daily=changed)
        return changed

    async def spend(self, key_id: str, day: dt.date, n: int, limit: int) -> tuple[bool, int]:
        if self.down:
            raise KeysUnavailableError("connection refused")
        used = self.usage.get((key_id, day), 0)
        if used + n > limit:
            return False, used
        self.usage[(key_id, day)] = used + n
        return True, used + n

    async def used_on(self, key_id: str, day: dt.date) -> int:
        if self.down:
            raise KeysUnavailableError("connection refused")
        return self.usage.get((key_id, day), 0)


class InMemoryCounter:
    def __init__(self, *, down: bool = False) -> None:
        self.counts: dict[str, int] = {}
        self.expiry: dict[str, int] = {}
        self.down = down
        self.calls = 0

    async def count(self, key: str, expire_s: int) -> int:
        self.calls += 1
        if self.down:
            raise CounterUnavailableError("connection refused")
        self.counts[key] = self.counts.get(key, 0) + 1
        self.expiry.setdefault(key, expire_s)
        return self.counts[key]


def settings(**overrides: Any) -> GatewaySettings:
    return GatewaySettings(database_url="postgresql://unused@localhost/none", **overrides)


def fake_runtime(
    config: GatewaySettings | None = None, *, book: ModelBook | None = None, **fakes: Any
) -> GatewayRuntime:
    """A runtime on in-memory fakes (override any with `fakes`); its broker never connects."""
    parts: dict[str, Any] = {
        "read_model": InMemoryReadModel(),
        "context_cache": InMemoryContextCache(),
        "prediction_cache": InMemoryPredictionCache(),
        "api_keys": InMemoryApiKeys(),
        "counter": InMemoryCounter(),
        **fakes,
    }
    return build_runtime(
        config or settings(), book=book or ModelBook(store=MemoryArtifactStore()), **parts
    )


def priced(
    pid: int,
    *,
    day: dt.date,
    stat: str = "points",
    line: float = 24.5,
    over: float = 0.55,
    books_over: float | None = 0.5,
    team: str = "LAL",
    opponent: str = "ATL",
    stat_lines: Sequence[float] = (),
    data_as_of: dt.date | None = None,
    version: str = "v1",
) -> PropPriced:
    """A priced prop as the predictor publishes it: two books at -110/-110 and -105/-115."""
    under = 1.0 - over
    decided_over = over
    edge = None if books_over is None else decided_over - books_over
    books = [
        BookPrice(
            book=book,
            over_price=o,
            under_price=u,
            books_over_probability=books_over,
            expected_value_over=expected_value(over, under, o),
            expected_value_under=expected_value(under, over, u),
        )
        for book, o, u in (("draftkings", -110, -110), ("fanduel", -105, -115))
    ]
    best = max(
        (
            BestPrice(book=b.book, side=side, price=price, expected_value=ev)
            for b in books
            for side, price, ev in (
                ("over", b.over_price, b.expected_value_over),
                ("under", b.under_price, b.expected_value_under),
            )
            if price is not None and ev is not None
        ),
        key=lambda b: b.expected_value,
    )
    return PropPriced(
        event_id=f"prop-{pid}-{day}-{stat}-{line}-{over}-{version}",
        game_key=f"{day}:{opponent}@{team}",
        game_date=day,
        player_id=pid,
        player_name=f"Player {pid}",
        team=team,
        opponent=opponent,
        is_home=True,
        stat=Stat(stat),
        line=line,
        stat_lines=list(stat_lines) or [line],
        as_of=day,
        data_as_of=data_as_of or day - dt.timedelta(days=2),
        over_probability=over,
        under_probability=under,
        push_probability=0.0,
        model_over_probability=over,
        line_weight=None,
        books=books,
        books_over_probability=books_over,
        edge=edge,
        consensus_over=-108,
        consensus_under=-112,
        best=best,
        recommendation=(
            "PASS" if best.expected_value < 0.02 else "OVER" if best.side == "over" else "UNDER"
        ),
        model_name=f"{stat}-count",
        model_version=version,
    )
