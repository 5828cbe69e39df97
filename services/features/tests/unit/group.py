"""A consumer group of engines over one store, driven by hypothesis: the raw topic as the
ingestor fills it (players by id, each team box on every partition) in a random arrival order
(`start`) or in the ingestor's own date order (`start_in_order`), split among
two instances, delivered in random batches with rebalances, restarts, reconciles and failures
in between (`play`), then delivered again from the start (`replay`). Who is out
(nba.availability.v1, a consumer group of its own) comes in its own batches to any instance,
between those steps. The unit tests run it over the in-memory repository, the integration
tests over PostgreSQL."""

from dataclasses import dataclass, field

from hypothesis import strategies as st

from statmuse_features.engine import Engine
from statmuse_shared.contract.messages import (
    AvailabilityReported,
    FeaturesComputed,
    PlayerGameIngested,
    TeamGameIngested,
    split_games,
)

from .fakes import Crash, Faulty
from .season import RawEvent, partition

PARTITIONS = 3
INSTANCES = 2
# Where a batch may crash: every repository operation `Engine.process` calls.
PROCESS_CRASHES = (
    "store_games",
    "games_without_vectors",
    "league_revision",
    "team_games",
    "mark_stale",
    "stale_ranges",
    "record_progress",
    "histories",
    "store_vectors",
)
RECONCILE_CRASHES = (
    "league_revision",
    "mark_stale",
    "stale_ranges",
    "players_with_games_since",
    "histories",
    "store_vectors",
    "clear_stale",
)
# Where a batch of reports may crash: every repository operation `Engine.reported` calls.
REPORT_CRASHES = (
    "store_reports",
    "league_revision",
    "team_games",
    "reports",
    "mark_stale",
    "stale_ranges",
)

STEPS = ("poll", "poll", "poll", "report", "rebalance", "rebalance", "reconcile", "restart")
ENDINGS = ("nothing", "rebalance", "restart")
OUTCOMES = ("commit", "commit", "commit", "uncommitted", "twice", "crash")
SPLITS = st.lists(st.integers(0, INSTANCES - 1), min_size=PARTITIONS, max_size=PARTITIONS)
COUNTS = st.lists(st.integers(0, 4), min_size=PARTITIONS, max_size=PARTITIONS)


@dataclass
class Group:
    """The raw topic (records per partition) and a consumer group of engines over one store:
    each partition's owner, the group's committed offset and the owner's position."""

    store: Faulty
    log: list[list[RawEvent]]
    engines: list[Engine]
    owner: list[int] = field(default_factory=lambda: [0] * PARTITIONS)
    committed: list[int] = field(default_factory=lambda: [0] * PARTITIONS)
    position: list[int] = field(default_factory=lambda: [0] * PARTITIONS)
    published: list[FeaturesComputed] = field(default_factory=list)
    reports: list[AvailabilityReported] = field(default_factory=list)  # one partition
    reports_read: int = 0  # the availability group's committed offset

    def rebalance(self, owner: list[int]) -> None:
        """A new split; every member fetches from the committed offsets again."""
        self.owner = list(owner)
        for i, engine in enumerate(self.engines):
            mine = {p for p, o in enumerate(owner) if o == i}
            engine.assign(mine, partitions=PARTITIONS)
        self.position = list(self.committed)

    async def restart(self, instance: int, owner: list[int]) -> None:
        """The instance's process dies and starts again (nothing in memory); the group
        rebalances."""
        engine = Engine(self.store, owned=frozenset())
        await engine.load()
        self.engines[instance] = engine
        self.rebalance(owner)

    async def poll(
        self, instance: int, counts: list[int], *, outcome: str = "commit", crash: str | None = None
    ) -> dict[int, tuple[int, int]]:
        """One batch for `instance`: up to counts[p] records of each partition it owns. Returns
        the (start, end) offsets per partition of a batch that failed (none: it went through)."""
        spans: dict[int, tuple[int, int]] = {}
        batch: list[RawEvent] = []
        for p in range(PARTITIONS):
            start = self.position[p]
            end = min(len(self.log[p]), start + counts[p])
            if self.owner[p] == instance and end > start:
                spans[p] = (start, end)
                batch += self.log[p][start:end]
        if not batch:
            return {}  # FastStream calls no handler for an empty poll
        for _ in range(2 if outcome == "twice" else 1):
            if not await self._process(instance, batch, crash=crash):
                for p, (start, _) in spans.items():
                    self.position[p] = start  # nack: the batch is fetched again
                return spans
        for p, (_, end) in spans.items():
            self.position[p] = end
            if outcome != "uncommitted":
                self.committed[p] = end
        return {}

    async def redeliver(self, failed: dict[int, tuple[int, int]]) -> None:
        """A failed batch's records, up to where it ended, to their partitions' owners now,
        before anything else: FastStream fetches a failed batch again at once, and a
        partition's new owner consumes its records before it is idle, which is when it
        reconciles. (The engine relies on this: see test_features_engine.py, the last test.)"""
        for instance in sorted({self.owner[p] for p in failed}):
            counts = [0] * PARTITIONS
            for p, (_, end) in failed.items():
                if self.owner[p] == instance:
                    counts[p] = end - self.position[p]
            assert not await self.poll(instance, counts)

    async def report(
        self, instance: int, count: int, *, outcome: str = "commit", crash: str | None = None
    ) -> bool:
        """The next `count` reports to `instance`, once or twice (any member of the
        availability group may read them). False: the batch failed, and is fetched again."""
        batch = self.reports[self.reports_read : self.reports_read + count]
        if not batch:
            return True
        for _ in range(2 if outcome == "twice" else 1):
            self.store.fail_on = crash
            try:
                await self.engines[instance].reported(batch)
            except Crash:
                return False
            finally:
                self.store.fail_on = None
        if outcome != "uncommitted":
            self.reports_read += len(batch)
        return True

    async def _process(self, instance: int, batch: list[RawEvent], *, crash: str | None) -> bool:
        players, teams = split_games(batch)  # as the handler does: a team box once
        self.store.fail_on = crash
        try:
            self.published += await self.engines[instance].process(players, teams)
        except Crash:
            return False
        finally:
            self.store.fail_on = None
        return True

    async def reconcile(self, instance: int, *, crash: str | None = None) -> None:
        self.store.fail_on = crash
        try:
            self.published += await self.engines[instance].reconcile()
        except Crash:
            pass  # the idle loop retries
        finally:
            self.store.fail_on = None

    def waiting(self) -> list[int]:
        """The instances owning records not fetched yet."""
        return sorted(
            {self.owner[p] for p in range(PARTITIONS) if self.position[p] < len(self.log[p])}
        )

    async def deliver_everything(self, data: st.DataObject) -> None:
        """Batches of random sizes for random instances, all committed, raw events and reports
        in a random interleaving, until none is left."""
        while (waiting := self.waiting()) or self.reports_read < len(self.reports):
            if not waiting or (
                self.reports_read < len(self.reports) and data.draw(st.booleans(), label="report")
            ):
                instance = data.draw(st.integers(0, INSTANCES - 1))
                assert await self.report(instance, data.draw(st.integers(1, 4)))
                continue
            instance = data.draw(st.sampled_from(waiting))
            await self.poll(instance, data.draw(COUNTS.map(lambda c: [n + 1 for n in c])))


def arrival_order(events: list[RawEvent], shifts: list[int]) -> list[RawEvent]:
    """Team boxes from a day before their game's players to four days after them; one player
    game in four a day or two late."""
    days = sorted({e.game_date for e in events})
    index = {d: i for i, d in enumerate(days)}

    def when(i: int, e: RawEvent) -> tuple[int, int]:
        shift = shifts[i] if isinstance(e, TeamGameIngested) else max(0, shifts[i] - 2)
        return (index[e.game_date] + shift, i)

    return [
        e for _, e in sorted(((when(i, e), e) for i, e in enumerate(events)), key=lambda x: x[0])
    ]


async def start(
    store: Faulty,
    events: list[RawEvent],
    data: st.DataObject,
    reports: list[AvailabilityReported] | None = None,
) -> Group:
    """The events on the topic in a random arrival order, the reports on theirs in the order
    sent, and two instances of the group, each with the league loaded, sharing the
    partitions."""
    late = data.draw(st.sampled_from((0, 0, 1, 4)), label="how late team boxes come, at most")
    shifts = data.draw(st.lists(st.integers(-1, late), min_size=len(events), max_size=len(events)))
    return await _group(store, placed(arrival_order(events, shifts)), data, reports)


async def start_in_order(store: Faulty, events: list[RawEvent], data: st.DataObject) -> Group:
    """The events on the topic as the ingestor publishes a backlog: in date order, a day's
    players before its team boxes; two instances as `start` gives them."""
    return await _group(store, placed(ingestor_order(events)), data, None)


def ingestor_order(events: list[RawEvent]) -> list[RawEvent]:
    """The ingestor's outbox order: by game date, a day's players first, then its teams."""
    return sorted(events, key=lambda e: (e.game_date, isinstance(e, TeamGameIngested)))


def placed(events: list[RawEvent]) -> list[list[RawEvent]]:
    """Each partition's records: a player's game on his key's partition, a team box on every
    partition (as the ingestor publishes them), each in the order given."""
    log: list[list[RawEvent]] = [[] for _ in range(PARTITIONS)]
    for e in events:
        for p in (
            range(PARTITIONS) if isinstance(e, TeamGameIngested) else [partition(e, PARTITIONS)]
        ):
            log[p].append(e)
    return log


async def _group(
    store: Faulty,
    log: list[list[RawEvent]],
    data: st.DataObject,
    reports: list[AvailabilityReported] | None,
) -> Group:
    group = Group(store, log, [Engine(store, owned=frozenset()) for _ in range(INSTANCES)])
    group.reports = list(reports or [])
    for engine in group.engines:
        await engine.load()
    group.rebalance(data.draw(SPLITS, label="first split"))
    return group


async def play(group: Group, data: st.DataObject) -> None:
    """Random steps (batches that commit, do not commit, come twice or fail at a random
    operation, possibly killing their instance; rebalances; reconciles, possibly failing;
    restarts), then everything delivered, possibly a rebalance or a restart, and a reconcile
    by each instance."""
    for _ in range(data.draw(st.integers(0, 40), label="steps")):
        step = data.draw(st.sampled_from(STEPS))
        if step == "poll":
            waiting = group.waiting()
            if not waiting:
                continue
            outcome = data.draw(st.sampled_from(OUTCOMES))
            crash = data.draw(st.sampled_from(PROCESS_CRASHES)) if outcome == "crash" else None
            instance = data.draw(st.sampled_from(waiting))
            failed = await group.poll(instance, data.draw(COUNTS), outcome=outcome, crash=crash)
            if failed and data.draw(st.booleans(), label="the instance dies"):
                await group.restart(instance, data.draw(SPLITS))
            await group.redeliver(failed)
        elif step == "report":
            outcome = data.draw(st.sampled_from(OUTCOMES))
            crash = data.draw(st.sampled_from(REPORT_CRASHES)) if outcome == "crash" else None
            instance = data.draw(st.integers(0, INSTANCES - 1))
            count = data.draw(st.integers(1, 4))
            if not await group.report(instance, count, outcome=outcome, crash=crash):
                if data.draw(st.booleans(), label="the instance dies"):
                    await group.restart(instance, data.draw(SPLITS))
                assert await group.report(instance, count)  # fetched again at once
        elif step == "rebalance":
            group.rebalance(data.draw(SPLITS))
        elif step == "reconcile":
            crash = data.draw(st.none() | st.sampled_from(RECONCILE_CRASHES))
            await group.reconcile(data.draw(st.integers(0, INSTANCES - 1)), crash=crash)
        else:
            await group.restart(data.draw(st.integers(0, INSTANCES - 1)), data.draw(SPLITS))

    group.rebalance(data.draw(SPLITS, label="last split"))
    await group.deliver_everything(data)
    ending = data.draw(st.sampled_from(ENDINGS), label="once everything is delivered")
    if ending == "rebalance":
        group.rebalance(data.draw(SPLITS))
    elif ending == "restart":
        await group.restart(data.draw(st.integers(0, INSTANCES - 1)), data.draw(SPLITS))
    for i in range(INSTANCES):
        await group.reconcile(i)


async def reconcile_again(group: Group) -> list[FeaturesComputed]:
    """A reconcile by each instance; what they published."""
    before = len(group.published)
    for i in range(INSTANCES):
        await group.reconcile(i)
        assert group.engines[i].stale == {}
    return group.published[before:]


async def replay(group: Group, data: st.DataObject) -> list[FeaturesComputed]:
    """The whole topic again (onto the same instances or restarted ones, in other batches),
    then a reconcile by each instance; what they published."""
    before = len(group.published)
    if data.draw(st.booleans(), label="replay onto restarted instances"):
        for i in range(INSTANCES):
            await group.restart(i, data.draw(SPLITS))
    group.committed = [0] * PARTITIONS
    group.reports_read = 0
    group.rebalance(data.draw(SPLITS, label="replay split"))
    await group.deliver_everything(data)
    for i in range(INSTANCES):
        await group.reconcile(i)
    return group.published[before:]


def player_games(events: list[RawEvent]) -> set[tuple[int, object]]:
    return {(e.player_id, e.game_date) for e in events if isinstance(e, PlayerGameIngested)}
