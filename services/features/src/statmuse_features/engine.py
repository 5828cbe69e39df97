"""The features service's state: the league's team ratings and each player's running state,
kept in memory, rebuilt from the service's own tables whenever they may be stale.

In-order games (the usual case) are one `PlayerState.add` each; a game older than what a player's
state has seen, or a state not in memory, rebuilds that player from `features.player_games`.
Team box scores that arrive after player games of a later day make the vectors of that day
on stale (opponent ratings and ranks used a partial season). Partitions progress at their own
pace, so this is normal while a backlog is consumed: the stale range is remembered and
`reconcile` recomputes it once the consumer is idle, giving exactly the rows a batch build
from the same tables gives.
"""

import asyncio
import datetime as dt
import logging
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import asyncpg

from statmuse_features.adapters import postgres as db
from statmuse_features.service import message, pack, player_game, vectors_and_state
from statmuse_shared.features import League, PlayerGame, PlayerState, context_of
from statmuse_shared.messages import FeaturesComputed, PlayerGameIngested, TeamGameIngested

log = logging.getLogger(__name__)


@dataclass
class _Player:
    name: str
    state: PlayerState


class Engine:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.league = League()
        self.players: dict[int, _Player] = {}
        self.latest_player_day: dict[str, dt.date] = {}
        self.stale: dict[str, dt.date] = {}  # season -> first day whose vectors are stale
        self.lock = asyncio.Lock()
        self.activity = asyncio.Event()

    async def load(self) -> None:
        """Team ratings from the stored team games (player states load lazily)."""
        async with self.pool.acquire() as conn:
            for game in await db.team_games(conn=conn):
                self.league.add(game)

    async def process(
        self, players: list[PlayerGameIngested], teams: list[TeamGameIngested]
    ) -> list[FeaturesComputed]:
        """Store a batch, update the state, return the vectors that changed (to publish)."""
        async with self.lock:
            try:
                return await self._process(players, teams)
            except BaseException:
                # A half-applied batch must not leave in-memory state ahead of the tables.
                for g in players:
                    self.players.pop(g.player_id, None)
                raise

    async def _process(
        self, players: list[PlayerGameIngested], teams: list[TeamGameIngested]
    ) -> list[FeaturesComputed]:
        async with self.pool.acquire() as conn, conn.transaction():
            new_games = await db.upsert_player_games(conn=conn, games=players) if players else set()
            touched = await db.upsert_team_games(conn=conn, games=teams) if teams else set()
            team_games = await db.team_games(conn=conn, team_seasons=sorted(touched)) \
                if touched else []  # fmt: skip
        for game in team_games:
            self.league.add(game)
            latest = self.latest_player_day.get(game.season)
            if latest is not None and game.game_date < latest:
                # Vectors of later days already used this team's older, partial season.
                day = game.game_date + dt.timedelta(days=1)
                self.stale[game.season] = min(self.stale.get(game.season, day), day)
        self.activity.set()
        fresh = [g for g in players if (g.player_id, g.game_key) in new_games]
        return await self._store(await self._player_vectors(fresh))

    async def reconcile(self) -> list[FeaturesComputed]:
        """Recompute the stale ranges; returns the vectors that changed (to publish)."""
        async with self.lock:
            stale, self.stale = self.stale, {}
            vectors: list[FeaturesComputed] = []
            try:
                for season, since in sorted(stale.items()):
                    vectors.extend(await self.heal(season, since))
                return await self._store(vectors)
            except BaseException:
                for season, since in stale.items():  # try again next time
                    self.stale[season] = min(self.stale.get(season, since), since)
                raise

    async def reconcile_when_idle(
        self, publish: Callable[[list[FeaturesComputed]], Awaitable[None]], *, idle_s: float
    ) -> None:
        """Forever: once no batch has arrived for `idle_s`, reconcile what is stale."""
        while True:
            self.activity.clear()
            try:
                await asyncio.wait_for(self.activity.wait(), timeout=idle_s)
                continue  # still busy
            except TimeoutError:
                pass
            if self.stale:
                log.info("idle: reconciling %s", self.stale)
                try:
                    await publish(await self.reconcile())
                except Exception:
                    log.exception("reconcile failed; will retry when idle again")
            else:
                await self.activity.wait()

    async def _player_vectors(self, games: list[PlayerGameIngested]) -> list[FeaturesComputed]:
        by_player: dict[int, list[PlayerGameIngested]] = defaultdict(list)
        for g in games:
            by_player[g.player_id].append(g)
            season_latest = self.latest_player_day.get(g.season)
            if season_latest is None or g.game_date > season_latest:
                self.latest_player_day[g.season] = g.game_date
        out: list[FeaturesComputed] = []
        rebuild: list[tuple[int, dt.date]] = []
        advance: list[tuple[int, str, _Player, list[PlayerGameIngested]]] = []
        for player_id, events in by_player.items():
            events.sort(key=lambda e: e.game_date)
            known = self.players.get(player_id)
            last = known.state.last if known else None
            if known is None or (last is not None and events[0].game_date <= last.game_date):
                rebuild.append((player_id, events[0].game_date))
                continue
            advance.append((player_id, events[-1].player_name, known, events))
        if advance:
            # CPU-bound (a few hundred vectors per batch): off the event loop. The engine's
            # lock is held, so nothing else touches these states meanwhile.
            out.extend(await asyncio.to_thread(self._advance_all, advance))
        if rebuild:
            out.extend(await self._rebuild(rebuild))
        return out

    def _advance_all(
        self, work: list[tuple[int, str, _Player, list[PlayerGameIngested]]]
    ) -> list[FeaturesComputed]:
        return [v for player_id, name, known, events in work
                for v in self._advance(player_id, name, known, events)]  # fmt: skip

    def _advance(
        self, player_id: int, name: str, known: _Player, events: list[PlayerGameIngested]
    ) -> list[FeaturesComputed]:
        """The fast path: new games after everything the state has seen."""
        known.name = name
        out = []
        for e in events:
            game = player_game(e)
            features = known.state.vector(context_of(game), league=self.league)
            out.append(message(player_id=player_id, player_name=name, kind="game", game=game,
                               last=known.state.last, features=features, team=game.team,
                               season=game.season))  # fmt: skip
            rank = self.league.rank(game.opponent, game.season, game.game_date)
            known.state.add(game, opponent_rank=rank)
        last = known.state.last
        assert last is not None
        out.append(message(player_id=player_id, player_name=name, kind="next", game=None,
                           last=last, features=known.state.vector(None, league=self.league),
                           team=last.team, season=last.season))  # fmt: skip
        return out

    async def _rebuild(
        self, wanted: Sequence[tuple[int, dt.date | None]]
    ) -> list[FeaturesComputed]:
        """The slow path: whole histories from the table, vectors from a day on."""
        async with self.pool.acquire() as conn:
            found = await db.histories(conn=conn, player_ids=[p for p, _ in wanted])
        since = dict(wanted)
        out: list[FeaturesComputed] = []
        for player_id, (name, history) in found.items():
            vectors, state = await asyncio.to_thread(
                vectors_and_state, player_id=player_id, player_name=name, history=history,
                league=self.league, since=since.get(player_id))  # fmt: skip
            out.extend(vectors)
            self.players[player_id] = _Player(name, state)
        return out

    async def heal(self, season: str, since: dt.date) -> list[FeaturesComputed]:
        """Recompute every vector of `season` on or after `since` (team data came late)."""
        async with self.pool.acquire() as conn:
            player_ids = await db.players_with_games_since(conn=conn, season=season, since=since)
        log.info("recomputing %d players' vectors from %s", len(player_ids), since)
        return await self._rebuild([(p, since) for p in player_ids])

    async def _store(
        self, vectors: list[FeaturesComputed], packed: list[bytes] | None = None
    ) -> list[FeaturesComputed]:
        # One row per key: a later vector for the same (player, as_of) supersedes an earlier.
        latest = {(v.player_id, v.as_of): i for i, v in enumerate(vectors)}
        keep = sorted(latest.values())
        async with self.pool.acquire() as conn:
            return await db.upsert_vectors(
                conn=conn,
                vectors=[vectors[i] for i in keep],
                packed=None if packed is None else [packed[i] for i in keep],
            )

    async def build(
        self,
        *,
        chunk: int = 100,
        workers: int | None = None,
        on_chunk: Callable[[list[FeaturesComputed], int], Awaitable[None]] | None = None,
    ) -> int:
        """Every vector from the stored games (the batch path), computed in worker processes
        (one per core: the engine is CPU-bound Python); returns how many changed.
        `on_chunk(changed vectors, players done)` after each chunk of players is stored."""
        async with self.pool.acquire() as conn:
            player_ids = await db.all_players(conn=conn)
            histories = await db.histories(conn=conn, player_ids=player_ids)
        items = [(pid, name, games) for pid, (name, games) in histories.items()]
        chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
        loop = asyncio.get_running_loop()
        changed = 0
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            pending = [loop.run_in_executor(pool, _vectors_of, part, self.league)
                       for part in chunks]  # fmt: skip
            for done in asyncio.as_completed(pending):
                vectors, packed, states = await done
                async with self.lock:
                    stored = await self._store(vectors, packed)
                    self.players.update(states)
                changed += len(stored)
                if on_chunk is not None:
                    await on_chunk(stored, len(states))
        return changed


def _vectors_of(
    part: list[tuple[int, str, list[PlayerGame]]], league: League
) -> tuple[list[FeaturesComputed], list[bytes], dict[int, _Player]]:
    """Worker-process side of `build`: vectors, their stored form and the final states."""
    vectors: list[FeaturesComputed] = []
    states: dict[int, _Player] = {}
    for player_id, name, history in part:
        found, state = vectors_and_state(player_id=player_id, player_name=name,
                                         history=history, league=league)  # fmt: skip
        vectors.extend(found)
        states[player_id] = _Player(name, state)
    return vectors, [pack(v.features) for v in vectors], states
