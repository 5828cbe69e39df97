"""The features service's state: the league's team ratings and each player's running state,
kept in memory, rebuilt from the service's own tables whenever they may be stale.

In-order games (the usual case) are one `PlayerState.add` each; a game older than what a player's
state has seen, or a state not in memory, rebuilds that player from `features.player_games`.

Several instances may share the consumer group (docs/FEATURES.md, "Several instances"). Each
one computes only the players of the raw-topic partitions it is assigned, but every one needs
the whole league: team boxes are stored by whichever instance consumes them and every
instance reads the league from `features.team_games` (`_refresh`, by league revision) before
it computes. A team box that becomes visible after vectors of a later day were computed
without it makes those vectors stale; partitions progress at their own pace, so this is
normal while a backlog is consumed. The stale range is recorded per partition in
`features.partitions` and `reconcile` recomputes it once the consumer is idle, giving exactly
the rows a batch build from the same tables gives.
"""

import asyncio
import datetime as dt
import logging
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import asyncpg

from statmuse_features.adapters import postgres as db
from statmuse_features.service import (
    message,
    pack,
    partition_of,
    player_game,
    vectors_and_state,
)
from statmuse_shared.contract.messages import FeaturesComputed, PlayerGameIngested, TeamGameIngested
from statmuse_shared.features import (
    FEATURE_SET_VERSION,
    League,
    PlayerGame,
    PlayerState,
    context_of,
)

log = logging.getLogger(__name__)


@dataclass
class _Player:
    name: str
    state: PlayerState


class Engine:
    """`owned`: the raw-topic partitions this instance computes; None (standalone: the batch
    build, tests without a consumer group) computes every player. A group member starts with
    none and learns its share from `assign` (the rebalance listener)."""

    def __init__(self, pool: asyncpg.Pool, *, owned: frozenset[int] | None = None) -> None:
        self.pool = pool
        self.league = League()
        self.revision = 0  # the league holds every team box of a revision up to this
        self.players: dict[int, _Player] = {}
        self.owned = owned
        self.partitions: int | None = None  # the raw topic's partition count, once assigned
        self.stale: dict[str, dt.date] = {}  # own partitions: season -> first stale day
        self.lock = asyncio.Lock()
        self.activity = asyncio.Event()
        self._lost: set[int] = set()  # partitions lost since the states were last pruned
        self._reassigned = False
        # Check every own partition against the league, not only the newest team boxes: at
        # start (a previous process may have stopped before checking) and after a rebalance.
        self._check_all = True

    async def load(self) -> None:
        """Team ratings from the stored team games (player states load lazily)."""
        async with self.pool.acquire() as conn:
            head = await db.league_revision(conn=conn)
            for game in await db.team_games(conn=conn, upto=head):
                self.league.add(game)
        self.revision = head

    def assign(self, owned: Iterable[int], *, partitions: int) -> None:
        """The group's new assignment of raw-topic partitions to this instance. Called by the
        rebalance listener, so without the lock: it is applied by the next batch or reconcile.
        States of partitions that left must go even if they come back before then: another
        instance may have processed their games meanwhile."""
        new = frozenset(owned)
        before = self.owned if self.owned is not None else frozenset(range(partitions))
        self._lost |= before - new
        self.owned, self.partitions, self._reassigned = new, partitions, True
        log.info("assigned raw-topic partitions %s of %d", sorted(new), partitions)

    def partition(self, player_id: int) -> int:
        return 0 if self.partitions is None else partition_of(player_id, self.partitions)

    def _owned(self) -> list[int] | None:
        return None if self.owned is None else sorted(self.owned)

    def _apply_assignment(self) -> None:
        if not self._reassigned:
            return
        lost, self._lost, self._reassigned = self._lost, set(), False
        self._check_all = True
        gone = [
            p
            for p in self.players
            if (part := self.partition(p)) in lost
            or (self.owned is not None and part not in self.owned)
        ]
        for player_id in gone:
            del self.players[player_id]
        if gone:
            log.info("dropped %d player states of partitions no longer owned", len(gone))

    async def _refresh(self, conn: asyncpg.Connection) -> list[tuple[int, str, dt.date, int]]:
        """Bring the league up to the latest committed revision and check the team boxes that
        came with it against the own partitions' vectors (marking stale ranges); returns the
        own partitions' stale ranges."""
        head = await db.league_revision(conn=conn)
        if head > self.revision:
            for game in await db.team_games(conn=conn, after=self.revision, upto=head):
                self.league.add(game)
            self.revision = head
            await db.mark_stale(conn=conn, partitions=self._owned(), upto=self.revision)
        elif self._check_all:
            await db.mark_stale(conn=conn, partitions=self._owned(), upto=self.revision)
        self._check_all = False
        ranges = await db.stale_ranges(conn=conn, partitions=self._owned())
        stale: dict[str, dt.date] = {}
        for _, season, since, _ in ranges:
            stale[season] = min(stale.get(season, since), since)
        self.stale = stale
        return ranges

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
        self._apply_assignment()
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                new_games = (
                    await db.upsert_player_games(conn=conn, games=players) if players else set()
                )
                if teams:
                    await db.upsert_team_games(conn=conn, games=teams)
            # Stored before but never given a vector (a crash after the commit above, last
            # time): computed now, as new games are.
            seen = [g for g in players if (g.player_id, g.game_key) not in new_games]
            if seen:
                new_games |= await db.games_without_vectors(
                    conn=conn, games=seen, feature_set_version=FEATURE_SET_VERSION
                )
            # After the commit: a team box another instance commits later is seen by the next
            # refresh (which then marks these vectors stale) or was already seen here.
            await self._refresh(conn)
            fresh = [g for g in players if (g.player_id, g.game_key) in new_games]
            latest: dict[tuple[int, str], dt.date] = {}
            for g in fresh:
                key = (self.partition(g.player_id), g.season)
                latest[key] = max(latest.get(key, g.game_date), g.game_date)
            await db.record_progress(conn=conn, latest=latest, revision=self.revision)
        for g in players:
            known = self.players.get(g.player_id)
            last = known.state.last if known else None
            if (
                (g.player_id, g.game_key) not in new_games
                and last is not None
                and g.game_date > last.game_date
            ):
                # Stored already, by an instance that had this partition before: this state
                # missed it, so rebuild it from the table on the player's next game.
                self.players.pop(g.player_id, None)
        self.activity.set()
        return await self._store(await self._player_vectors(fresh))

    async def reconcile(self) -> list[FeaturesComputed]:
        """Catch up with the league, recompute the own partitions' stale ranges; returns the
        vectors that changed (to publish)."""
        async with self.lock:
            self._apply_assignment()
            async with self.pool.acquire() as conn:
                ranges = await self._refresh(conn)
            if not ranges:
                return []
            log.info("reconciling %s", self.stale)
            by_season: dict[str, dict[int, dt.date]] = defaultdict(dict)
            for part, season, since, _ in ranges:
                by_season[season][part] = since
            vectors: list[FeaturesComputed] = []
            for season, starts in sorted(by_season.items()):
                vectors.extend(await self.heal(season, starts))
            stored = await self._store(vectors)
            async with self.pool.acquire() as conn:
                await db.clear_stale(conn=conn, healed=[(p, s, v) for p, s, _, v in ranges])
                await self._refresh(conn)
            return stored

    async def reconcile_when_idle(
        self, publish: Callable[[list[FeaturesComputed]], Awaitable[None]], *, idle_s: float
    ) -> None:
        """Forever: whenever no batch has arrived for `idle_s`, catch up with the league (team
        boxes other instances stored) and reconcile what is stale; `publish` gets what changed
        (possibly nothing) each time."""
        while True:
            self.activity.clear()
            try:
                await asyncio.wait_for(self.activity.wait(), timeout=idle_s)
                continue  # still busy
            except TimeoutError:
                pass
            try:
                await publish(await self.reconcile())
            except Exception:
                log.exception("reconcile failed; will retry when idle again")

    async def _player_vectors(self, games: list[PlayerGameIngested]) -> list[FeaturesComputed]:
        by_player: dict[int, list[PlayerGameIngested]] = defaultdict(list)
        for g in games:
            by_player[g.player_id].append(g)
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
        return [
            v
            for player_id, name, known, events in work
            for v in self._advance(player_id, name, known, events)
        ]

    def _advance(
        self, player_id: int, name: str, known: _Player, events: list[PlayerGameIngested]
    ) -> list[FeaturesComputed]:
        """The fast path: new games after everything the state has seen."""
        known.name = name
        out = []
        for e in events:
            game = player_game(e)
            features = known.state.vector(context_of(game), league=self.league)
            out.append(
                message(
                    player_id=player_id,
                    player_name=name,
                    kind="game",
                    game=game,
                    last=known.state.last,
                    features=features,
                    team=game.team,
                    season=game.season,
                )
            )
            rank = self.league.rank(game.opponent, game.season, game.game_date)
            known.state.add(game, opponent_rank=rank)
        last = known.state.last
        assert last is not None
        out.append(
            message(
                player_id=player_id,
                player_name=name,
                kind="next",
                game=None,
                last=last,
                features=known.state.vector(None, league=self.league),
                team=last.team,
                season=last.season,
            )
        )
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
                vectors_and_state,
                player_id=player_id,
                player_name=name,
                history=history,
                league=self.league,
                since=since.get(player_id),
            )
            out.extend(vectors)
            self.players[player_id] = _Player(name, state)
        return out

    async def heal(self, season: str, since: dict[int, dt.date]) -> list[FeaturesComputed]:
        """Recompute the vectors of `season` of the players of each partition in `since` on or
        after its day (team data came late)."""
        wanted: list[tuple[int, dt.date | None]] = []
        async with self.pool.acquire() as conn:
            for day in sorted(set(since.values())):
                parts = {p for p, d in since.items() if d == day}
                found = await db.players_with_games_since(conn=conn, season=season, since=day)
                wanted += [(p, day) for p in found if self.partition(p) in parts]
        log.info(
            "recomputing %d players' vectors of %s from %s",
            len(wanted),
            season,
            min(since.values()),
        )
        return await self._rebuild(wanted)

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
            pending = [
                loop.run_in_executor(pool, _vectors_of, part, self.league) for part in chunks
            ]
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
        found, state = vectors_and_state(
            player_id=player_id, player_name=name, history=history, league=league
        )
        vectors.extend(found)
        states[player_id] = _Player(name, state)
    return vectors, [pack(v.features) for v in vectors], states
