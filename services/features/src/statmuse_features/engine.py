"""The features service's state: the league's team ratings and each player's running state,
kept in memory, rebuilt from the service's own tables whenever they may be stale.

In-order games (the usual case) are one `PlayerState.add` each; a game older than what a player's
state has seen, or a state not in memory, rebuilds that player from the stored games.

Several instances may share the consumer group (docs/FEATURES.md, "Several instances"). Each
one computes only the players of the raw-topic partitions it is assigned, but every one needs
the whole league: team boxes are stored by whichever instance consumes them and every
instance reads the league from the store (`_refresh`, by league revision) before it
computes. A team box that becomes visible after vectors of a later day were computed
without it makes those vectors stale; partitions progress at their own pace, so this is
normal while a backlog is consumed. The stale range is recorded per partition in the store
and `reconcile` recomputes it once the consumer is idle, giving exactly the rows a batch
build from the same tables gives.

`Engine` is a shell: it reads and writes through a `FeatureRepository`, asks `core` what to
do (every decision is there, pure) and applies the answer. CPU work leaves the event loop:
vectors are computed in a thread (`asyncio.to_thread`), the batch build in worker processes.
"""

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor

from statmuse_features import core
from statmuse_features.core import Assignment, BatchPlan, Known
from statmuse_features.ports import FeatureRepository, StaleRange
from statmuse_shared.contract.messages import (
    AvailabilityReported,
    FeaturesComputed,
    GameScheduled,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.features import FEATURE_SET_VERSION, League

log = logging.getLogger(__name__)


class Engine:
    """`owned`: the raw-topic partitions this instance computes; None (standalone: the batch
    build, tests without a consumer group) computes every player. A group member starts with
    none and learns its share from `assign` (the rebalance listener)."""

    def __init__(
        self,
        features: FeatureRepository,
        *,
        owned: frozenset[int] | None = None,
        pregame_horizon: dt.timedelta = dt.timedelta(days=10),
    ) -> None:
        self.features = features
        self.league = League()
        self.revision = 0  # the league holds every team box of a revision up to this
        self.players: dict[int, Known] = {}
        self.assignment = Assignment(owned)
        self.stale: dict[str, dt.date] = {}  # own partitions: season -> first stale day
        self.lock = asyncio.Lock()
        self.activity = asyncio.Event()
        # Check every own partition against the league, not only the newest team boxes: at
        # start (a previous process may have stopped before checking) and after a rebalance.
        self._check_all = True
        # Games to come: the schedule by game id, the last day with a stored box score, and
        # the pre-game vectors published (player, game id) -> event id, so an unchanged one is
        # not published again. Pre-game vectors are not stored: the game's own vector, once it
        # is played, is (with its outcome).
        self.schedule: dict[str, GameScheduled] = {}
        self.played_through: dt.date | None = None
        self.pregame_horizon = pregame_horizon
        self._pregame_sent: dict[tuple[int, str], str] = {}
        self._pregame_players: set[int] = set()  # whose pre-game vectors are due
        self._pregame_teams: set[str] = set()  # whose players' pre-game vectors are due

    @property
    def owned(self) -> frozenset[int] | None:
        return self.assignment.owned

    @property
    def partitions(self) -> int | None:
        """The raw topic's partition count, once assigned."""
        return self.assignment.partitions

    async def load(self) -> None:
        """Team ratings and who is out, from the stored team games and reports (player states
        load lazily)."""
        async with self.features.session() as store:
            head = await store.league_revision()
            for game in await store.team_games(upto=head):
                self.league.add(game)
            for report in await store.reports(upto=head):
                self.league.report(report)
            self.played_through = await store.last_game_date()
        self.revision = head

    def assign(self, owned: Iterable[int], *, partitions: int) -> None:
        """The group's new assignment of raw-topic partitions to this instance. Called by the
        rebalance listener, so without the lock: it is applied by the next batch or reconcile."""
        self.assignment = self.assignment.reassigned(owned, partitions=partitions)
        log.info("assigned raw-topic partitions %s of %d", self.assignment.checked, partitions)

    def _apply_assignment(self) -> None:
        if not self.assignment.pending:
            return
        self.assignment, gone = self.assignment.applied(self.players)
        self._check_all = True
        for player_id in gone:
            del self.players[player_id]
        if gone:
            log.info("dropped %d player states of partitions no longer owned", len(gone))

    async def _refresh(self, store: FeatureRepository) -> list[StaleRange]:
        """Bring the league up to the latest committed revision and check the team boxes that
        came with it against the own partitions' vectors (marking stale ranges); returns the
        own partitions' stale ranges."""
        head = await store.league_revision()
        step = core.plan_refresh(head=head, revision=self.revision, check_all=self._check_all)
        if step.read_after is not None:
            for game in await store.team_games(after=step.read_after, upto=head):
                self.league.add(game)
            for report in await store.reports(after=step.read_after, upto=head):
                self.league.report(report)
                # Whoever stored it: the pre-game vectors of its team change.
                self._pregame_teams.add(report.team)
            self.revision = head
        if step.check:
            # The league above is already this revision's: should the check fail, the next
            # refresh must make it even with nothing new to read.
            self._check_all = True
            await store.mark_stale(partitions=self.assignment.checked, upto=self.revision)
        self._check_all = False
        ranges = await store.stale_ranges(partitions=self.assignment.checked)
        self.stale = core.stale_seasons(ranges)
        return ranges

    async def process(
        self, players: list[PlayerGameIngested], teams: list[TeamGameIngested]
    ) -> list[FeaturesComputed]:
        """Store a batch, update the state, return the vectors that changed (to publish)."""
        self.activity.set()
        async with self.lock:
            try:
                return await self._process(players, teams)
            except BaseException:
                # A half-applied batch must not leave in-memory state ahead of the tables.
                for g in players:
                    self.players.pop(g.player_id, None)
                raise
            finally:
                self.activity.set()  # idle counts from the end of the last batch

    async def _process(
        self, players: list[PlayerGameIngested], teams: list[TeamGameIngested]
    ) -> list[FeaturesComputed]:
        self._apply_assignment()
        async with self.features.session() as store:
            computed = await store.store_games(players=players, teams=teams)
            # Stored before but never given a vector (a crash after the commit above, last
            # time): computed now, as new games are.
            seen = [g for g in players if core.key(g) not in computed]
            if seen:
                computed |= await store.games_without_vectors(
                    seen, feature_set_version=FEATURE_SET_VERSION
                )
            # After the commit: a team box another instance commits later is seen by the next
            # refresh (which then marks these vectors stale) or was already seen here.
            await self._refresh(store)
            plan = core.plan_batch(
                players,
                computed=computed,
                players=self.players,
                partition=self.assignment.partition,
            )
            await store.record_progress(latest=plan.progress, revision=self.revision)
        for player_id in plan.drop:
            # Stored already, by an instance that had this partition before: this state
            # missed it, so rebuild it from the table on the player's next game.
            del self.players[player_id]
        stored = await self._store(await self._compute(plan))
        days = [g.game_date for g in players] + [g.game_date for g in teams]
        if self.played_through is not None:
            days.append(self.played_through)
        self.played_through = max(days, default=None)
        # Their pre-game vectors once idle (`reconcile`): while a backlog is consumed, the
        # partitions are at different days and these would be recomputed batch after batch.
        self._pregame_players |= {a.player_id for a in plan.advance} | {p for p, _ in plan.rebuild}
        self._pregame_teams |= {g.team for g in players} | {g.team for g in teams}
        return stored

    async def scheduled(self, games: Sequence[GameScheduled]) -> list[FeaturesComputed]:
        """Games on the schedule (new, moved, postponed): the pre-game vectors of the own
        players of the teams whose next game this changes, those new or changed (to
        publish)."""
        async with self.lock:
            self._apply_assignment()
            for game in games:
                self.schedule[game.game_id] = game
            upcoming = self._next_games(games)
            teams = set(upcoming)
            if not teams:
                return []
            seasons = {game.season for game in upcoming.values()}
            async with self.features.session() as store:
                await self._refresh(store)
                rostered = await store.rostered(teams=sorted(teams), seasons=sorted(seasons))
            owned = self.assignment.owned
            missing = [
                p
                for p in rostered
                if p not in self.players
                and (owned is None or self.assignment.partition(p) in owned)
            ]
            if missing:
                # Their states; the vectors this gives are stored already.
                await self._rebuild([(p, None) for p in missing])
            return await self._pregame(set(rostered), teams=teams)

    async def reported(self, reports: Sequence[AvailabilityReported]) -> int:
        """Who is out for games (lists new or changed): stored as league data, so that the
        refresh marks the vectors computed without them stale (every instance's, from the
        report's day) and their teams' pre-game vectors are redone once idle (`reconcile`).
        Returns how many lists changed."""
        async with self.lock:
            self._apply_assignment()
            async with self.features.session() as store:
                changed = await store.store_reports(reports)
                await self._refresh(store)
        if changed:
            self.activity.set()
        return changed

    def _next_games(self, games: Iterable[GameScheduled]) -> dict[str, GameScheduled]:
        """Each team's next game, if within the horizon of the last day played (none before
        any game is)."""
        if self.played_through is None:
            return {}
        upcoming = core.next_games(games, after=self.played_through)
        until = self.played_through + self.pregame_horizon
        return {team: game for team, game in upcoming.items() if game.game_date <= until}

    async def _pregame(self, players: set[int], *, teams: set[str]) -> list[FeaturesComputed]:
        """The pre-game vectors of these players, and of the players held whose team is in
        `teams`, that differ from the ones published. Called with the lock held."""
        if not self.schedule:
            return []  # no schedule read (yet): nothing to come
        wanted = {
            p: known
            for p, known in self.players.items()
            if p in players or (known.state.last is not None and known.state.last.team in teams)
        }
        if not wanted:
            return []
        upcoming = self._next_games(self.schedule.values())
        current = {game.game_id for game in upcoming.values()}
        self._pregame_sent = {k: v for k, v in self._pregame_sent.items() if k[1] in current}
        # CPU-bound (a vector per player): off the event loop, as the advance is; the lock is
        # held, so nothing changes these states meanwhile.
        computed = await asyncio.to_thread(core.pregame, wanted, upcoming, self.league)
        out = []
        for vector in computed:
            game = upcoming[vector.team]
            at = (vector.player_id, game.game_id)
            if self._pregame_sent.get(at) != vector.event_id:
                self._pregame_sent[at] = vector.event_id
                out.append(vector)
        return out

    async def reconcile(self) -> list[FeaturesComputed]:
        """Catch up with the league, recompute the own partitions' stale ranges, then the
        pre-game vectors of the players whose state or team's games changed; returns the
        vectors that changed (to publish)."""
        async with self.lock:
            self._apply_assignment()
            async with self.features.session() as store:
                ranges = await self._refresh(store)
            stored: list[FeaturesComputed] = []
            if ranges:
                log.info("reconciling %s", self.stale)
                vectors: list[FeaturesComputed] = []
                for season, starts in core.plan_heal(ranges):
                    vectors.extend(await self.heal(season, starts))
                stored = await self._store(vectors)
                async with self.features.session() as store:
                    await store.clear_stale(healed=core.healed(ranges))
                    await self._refresh(store)
            players, teams = self._pregame_players, self._pregame_teams
            self._pregame_players, self._pregame_teams = set(), set()
            return stored + await self._pregame(players, teams=teams)

    async def reconcile_when_idle(
        self, publish: Callable[[list[FeaturesComputed]], Awaitable[None]], *, idle_s: float
    ) -> None:
        """Forever: whenever no batch has been in progress for `idle_s`, catch up with the
        league (team boxes other instances stored) and reconcile what is stale; `publish` gets
        what changed (possibly nothing) each time. A batch that takes longer than `idle_s` is
        not idleness: while a backlog is consumed, a reconcile between its batches would
        recompute the stale range again and again."""
        while True:
            self.activity.clear()
            try:
                await asyncio.wait_for(self.activity.wait(), timeout=idle_s)
                continue  # a batch started or ended meanwhile
            except TimeoutError:
                pass
            if self.lock.locked():
                continue  # busy (a batch, the schedule, a report): not idle
            try:
                await publish(await self.reconcile())
            except Exception:
                log.exception("reconcile failed; will retry when idle again")

    async def _compute(self, plan: BatchPlan) -> list[FeaturesComputed]:
        out: list[FeaturesComputed] = []
        if plan.advance:
            # CPU-bound (a few hundred vectors per batch): off the event loop. The engine's
            # lock is held, so nothing else touches these states meanwhile.
            out.extend(await asyncio.to_thread(core.advance, plan.advance, self.league))
        if plan.rebuild:
            out.extend(await self._rebuild(plan.rebuild))
        return out

    async def _rebuild(
        self, wanted: Sequence[tuple[int, dt.date | None]]
    ) -> list[FeaturesComputed]:
        """The slow path: whole histories from the store, vectors from a day on."""
        found = await self.features.histories([p for p, _ in wanted])
        vectors, states = await asyncio.to_thread(
            core.rebuild, found, since=dict(wanted), league=self.league
        )
        self.players.update(states)
        return vectors

    async def heal(self, season: str, since: dict[int, dt.date]) -> list[FeaturesComputed]:
        """Recompute the vectors of `season` of the players of each partition in `since` on or
        after its day (team data came late)."""
        wanted: list[tuple[int, dt.date | None]] = []
        async with self.features.session() as store:
            for day, parts in core.heal_days(since):
                found = await store.players_with_games_since(season=season, since=day)
                wanted += core.players_to_heal(
                    found, day=day, partitions=parts, partition=self.assignment.partition
                )
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
        keep = core.latest_per_key(vectors)
        if len(keep) < len(vectors):
            vectors = [vectors[i] for i in keep]
            packed = None if packed is None else [packed[i] for i in keep]
        return await self.features.store_vectors(vectors, packed=packed)

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
        async with self.features.session() as store:
            histories = await store.histories(await store.all_players())
        items = [(pid, name, games) for pid, (name, games) in histories.items()]
        chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
        loop = asyncio.get_running_loop()
        changed = 0
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            pending = [
                loop.run_in_executor(pool, core.build_chunk, part, self.league) for part in chunks
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
