"""Issue 8: two features-service instances in one consumer group against the real broker.

Two OS processes run `statmuse-features serve` with one group id and different ports, started
the way `statmuse up` starts one (a second replica in production runs the same command),
against one PostgreSQL and one broker. Real 2023-24 box scores then arrive on
`nba.games.raw.v1` (6 partitions; player games keyed by player on their key's partition, each
team game, keyed `team:<abbr>`, on every partition) both ways production sends them, through
the ingestor's own code: the season's first 13 days as one backlog (the backfill), then the
next 4 days one at a time (the daily job, `ingest_day`), each consumed before the next. About
2,600 player games of 454 players and 250 team games: opening weeks, because opponent ratings
need 5 games per team and exist from early November on; a whole season only takes minutes
longer and shows nothing new.

"Computed exactly once" is checked on the whole feed, the backlog included. When a team box
went only to its key's partition, the partitions' different paces made vectors stale and the
service republished them (`reconcile`): with a single instance 1,811 of the 4,367 game
vectors of the first four weeks came out twice (measured while writing this test). With each
team box on every partition, a partition's vectors are computed with every team box before
their day.

Checked: the partitions split (each instance's own log, the broker's group description;
no rebalance during the feed), each raw message consumed once by the owner of its partition
(each instance's counter equals the messages on its partitions), every (player, game) vector
published and stored, each game vector published exactly once, and the stored vectors
equal to a batch build: every instance computes with the whole league, which it reads from
the team boxes any instance stored (docs/FEATURES.md, "Several instances").

One module, over 400 lines: the processes, the feed and the checks of one production
scenario.
"""

import asyncio
import collections
import contextlib
import datetime as dt
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from prometheus_client.parser import text_string_to_metric_families

from statmuse_features.adapters.postgres import PostgresFeatures
from statmuse_features.engine import Engine
from statmuse_features.service import partition_of, vectors_for
from statmuse_ops.infra import Started, free_port, spawn_service, start_broker, stop
from statmuse_ops.stack import wait_ready
from statmuse_shared.contract import topics, vectors
from statmuse_shared.contract.messages import FeaturesComputed
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# A backlog (what a backfill delivers), then the following days one at a time (the daily job).
BACKLOG = (dt.date(2023, 10, 24), dt.date(2023, 11, 5))  # opening night + 12 days
DAILY = tuple(dt.date(2023, 11, 6) + dt.timedelta(days=i) for i in range(4))  # Nov 6 to 9
PARTITIONS = set(range(topics.DEFAULT_PARTITIONS))
ASSIGNED = re.compile(r"^Consumer (?P<member>\S+) assigned to partitions: \((?P<tps>.*)\)$")
PARTITION = re.compile(r"partition=(\d+)")
log = logging.getLogger(__name__)


@dataclass
class Instance:
    """One `statmuse-features serve` process and what it tells about itself."""

    name: str
    process: Started
    log: Path

    def assignments(self) -> list[tuple[str, frozenset[int]]]:
        """Every (member id, raw-topic partitions) the instance logged on a rebalance."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            match = ASSIGNED.match(str(entry.get("msg", "")))
            if match and entry.get("topic") == topics.GAMES_RAW:
                parts = frozenset(int(p) for p in PARTITION.findall(match["tps"]))
                found.append((match["member"], parts))
        return found

    async def metrics(self, client: httpx.AsyncClient) -> dict[tuple[str, frozenset[Any]], float]:
        r = await client.get(f"{self.process.url}/metrics")
        r.raise_for_status()
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text)
            for s in family.samples
        }


def value(samples: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def start_instances(tmp_path: Path, env: dict[str, str], n: int) -> list[Instance]:
    """n processes of `statmuse-features serve`, one group, each its own port and log."""
    exe = Path(sys.executable).with_name("statmuse-features")
    instances = []
    try:
        for i in range(n):
            port = free_port()
            log = tmp_path / f"features-{i}.log"
            started = spawn_service(
                f"features-{i}",
                [str(exe), "serve", "--port", str(port)],
                port=port,
                env={**env, "FEATURES_HTTP_PORT": str(port)},
                log=log,
            )
            instances.append(Instance(f"features-{i}", started, log))
        for instance in instances:
            wait_ready(instance.process, deadline_s=60)
    except BaseException:
        for instance in instances:
            stop(instance.process)
        raise
    return instances


async def wait_for_split(instances: list[Instance], *, deadline_s: float) -> list[frozenset[int]]:
    """Poll the instances' logs until their latest assignments split the 6 partitions."""
    deadline = time.monotonic() + deadline_s
    while True:
        latest = [a[-1][1] if (a := i.assignments()) else frozenset() for i in instances]
        if (
            all(latest)
            and sum(map(len, latest)) == len(PARTITIONS)
            and frozenset().union(*latest) == PARTITIONS
        ):
            return latest
        if time.monotonic() > deadline:
            raise AssertionError(f"no split of the partitions in {deadline_s}s: {latest}")
        await asyncio.sleep(0.1)  # polling interval, bounded by the deadline


async def describe_group(bootstrap: str, group: str) -> dict[str, Any]:
    """The broker's DescribeGroups answer for one group (state, members)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-admin")
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    [described] = response.to_object()["groups"]
    assert described["error_code"] == 0, described
    return dict(described)


async def read_topic(bootstrap: str, topic: str, expected: int, *, deadline_s: float) -> list[Any]:
    """Every record of a topic (all partitions, from the start, no group)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[Any] = []
    deadline = time.monotonic() + deadline_s
    try:
        while len(found) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                found.extend(records)
    finally:
        await consumer.stop()
    return found


class Watch:
    """`topics.FEATURES` read from the start (no group) and the instances' own counters, to
    wait for the group to finish what was fed: a poll with a deadline, never a guess."""

    def __init__(self, bootstrap: str, instances: list[Instance]) -> None:
        self.instances = instances
        self.consumer = AIOKafkaConsumer(
            topics.FEATURES,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.client = httpx.AsyncClient(timeout=5)
        self.vectors: list[FeaturesComputed] = []
        self.samples: list[dict[tuple[str, frozenset[Any]], float]] = []

    async def __aenter__(self) -> "Watch":
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.client.aclose()

    def consumed(self, i: int, kind: str) -> float:
        return value(
            self.samples[i],
            "statmuse_features_messages_total",
            topic=topics.GAMES_RAW,
            outcome=kind,
        )

    async def settle(self, fed: int, *, deadline_s: float) -> None:
        """Until the instances consumed `fed` raw messages between them, neither has a stale
        range left to reconcile, and every vector they count as published has been read."""
        deadline = time.monotonic() + deadline_s
        while True:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                self.vectors.extend(vectors.decode(r.value) for r in records)
            self.samples = [await i.metrics(self.client) for i in self.instances]
            consumed = sum(
                self.consumed(i, k)
                for i in range(len(self.instances))
                for k in ("player_game", "team_game")
            )
            published = sum(value(s, "statmuse_features_vectors_total") for s in self.samples)
            stale = sum(value(s, "statmuse_features_stale_seasons") for s in self.samples)
            # Every instance has caught up with the team boxes the others stored (and checked
            # its own vectors against them): the last one stored is seen by its own instance.
            revisions = {value(s, "statmuse_features_league_revision") for s in self.samples}
            if (
                consumed == fed
                and stale == 0
                and len(revisions) == 1
                and len(self.vectors) == published
                and not batch
            ):
                return
            assert time.monotonic() < deadline, (
                f"not done in {deadline_s}s: consumed {consumed}/{fed}, stale {stale}, "
                f"league revisions {sorted(revisions)}, read {len(self.vectors)}/{published} "
                "vectors"
            )


@dataclass
class Run:
    """What one run of the scenario left behind, for the tests below to examine."""

    database_url: str
    instances: list[Instance]
    split: list[frozenset[int]]  # each instance's partitions once the group was stable
    members: list[str]  # each instance's member id, from its log
    described: dict[str, Any]  # the broker's description of the group, before the feed
    assignments_before: list[int]  # how many assignments each instance had logged by then
    raw: list[Any]  # every record of nba.games.raw.v1
    samples: list[dict[tuple[str, frozenset[Any]], float]]  # the instances' final metrics
    vectors: list[FeaturesComputed]  # every record of topics.FEATURES, decoded
    backlog_vectors: int  # how many of them came out for the backlog (the first ones)
    expected: set[tuple[int, dt.date]]  # (player, game day) of every published player game


@pytest.fixture(scope="module")
async def run(infra, tmp_path_factory, ingestor, scratch_db) -> AsyncIterator[Run]:
    """Two `statmuse-features serve` processes, one group, fed the season's first two weeks
    as one backlog, then the next days one at a time, each consumed before the next."""
    tmp = tmp_path_factory.mktemp("features-scaling")
    async with contextlib.AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(scratch_db(infra.database_url))
        if infra.flavour == "embedded":  # a broker of its own (as the `kafka_bootstrap` fixture)
            broker = start_broker(tmp / "broker", port=None)
            stack.callback(stop, broker)
            bootstrap = broker.url
        else:
            bootstrap = infra.kafka_bootstrap
        started = time.monotonic()
        await migrate(database_url, schemas=["ingest", "features"])
        await ensure_topics(bootstrap, topics.all_with_dead_letters())
        group = f"features-{uuid.uuid4().hex[:10]}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "FEATURES_GROUP_ID": group,
            "LOG_JSON": "true",
            "LOG_LEVEL": "INFO",
        }
        instances = await asyncio.to_thread(start_instances, tmp, env, 2)
        for instance in instances:
            stack.push_async_callback(asyncio.to_thread, stop, instance.process)

        split = await wait_for_split(instances, deadline_s=60)
        members = [i.assignments()[-1][0] for i in instances]
        described = await describe_group(bootstrap, group)
        assignments_before = [len(i.assignments()) for i in instances]
        fed_at = time.monotonic()

        async with ingestor(database_url, bootstrap) as feed, Watch(bootstrap, instances) as watch:
            fed = (await feed.window(*BACKLOG)).messages
            await watch.settle(fed, deadline_s=120)
            backlog_vectors, backlog_at = len(watch.vectors), time.monotonic()
            for day in DAILY:
                fed += (await feed.day(day)).messages
                await watch.settle(fed, deadline_s=90)
        done_at = time.monotonic()

        raw = await read_topic(bootstrap, topics.GAMES_RAW, fed, deadline_s=30)
        conn = await asyncpg.connect(database_url)
        try:
            expected = {
                (r["player_id"], r["game_date"])
                for r in await conn.fetch(
                    "SELECT player_id, game_date FROM ingest.player_game_stats "
                    "WHERE published_at IS NOT NULL"
                )
            }
        finally:
            await conn.close()
        log.info(
            "%d player games of %d players, %d vectors; start and split %.1fs, backlog "
            "%.1fs, %d days %.1fs",
            len(expected),
            len({p for p, _ in expected}),
            len(watch.vectors),
            fed_at - started,
            backlog_at - fed_at,
            len(DAILY),
            done_at - backlog_at,
        )
        yield Run(
            database_url,
            instances,
            split,
            members,
            described,
            assignments_before,
            raw,
            watch.samples,
            watch.vectors,
            backlog_vectors,
            expected,
        )


async def test_the_two_instances_split_the_partitions(run):
    # Each instance's own log: a non-empty share; the shares are disjoint and cover all 6.
    assert all(run.split), run.split
    assert not run.split[0] & run.split[1]
    assert run.split[0] | run.split[1] == PARTITIONS
    # The broker agrees: one stable group whose members are exactly these two.
    assert run.described["state"] == "Stable"
    assert sorted(m["member_id"] for m in run.described["members"]) == sorted(run.members)
    for m in run.described["members"]:  # tansu leaves member_assignment empty; Kafka fills it
        if m["member_assignment"]:
            decoded = ConsumerProtocolMemberAssignment.decode(m["member_assignment"])
            owned = {tp.partition for tp in decoded.partitions() if tp.topic == topics.GAMES_RAW}
            assert owned == run.split[run.members.index(m["member_id"])]
    # And the split held for the whole feed: nobody logged another assignment.
    assert [len(i.assignments()) for i in run.instances] == run.assignments_before
    # Each engine computes the players of its share, and knows which share that is.
    assert [value(s, "statmuse_features_owned_partitions") for s in run.samples] == [
        len(owned) for owned in run.split
    ]


async def test_each_raw_message_was_consumed_once_by_the_owner_of_its_partition(run):
    assert len(run.expected) > 2500
    assert len({p for p, _ in run.expected}) > 400
    # The engine knows which players are its own by the producer's partitioner.
    players = [r for r in run.raw if not r.key.startswith(b"team:")]
    assert all(r.partition == partition_of(int(r.key), len(PARTITIONS)) for r in players)
    on_partition = collections.Counter(
        (r.partition, "team_game" if r.key.startswith(b"team:") else "player_game") for r in run.raw
    )
    for i, owned in enumerate(run.split):
        for kind in ("player_game", "team_game"):
            there = sum(n for (p, k), n in on_partition.items() if k == kind and p in owned)
            assert (
                value(
                    run.samples[i],
                    "statmuse_features_messages_total",
                    topic=topics.GAMES_RAW,
                    outcome=kind,
                )
                == there
                > 0
            ), (i, kind)


def game_vectors(run: Run) -> collections.Counter[tuple[int, dt.date]]:
    """How many times each (player, game day) game vector was published."""
    return collections.Counter((v.player_id, v.as_of) for v in run.vectors if v.kind == "game")


async def test_every_players_game_vector_was_published_and_stored(run):
    assert set(game_vectors(run)) == run.expected
    # Every player's latest vector (for his next game) came out too.
    assert {v.player_id for v in run.vectors if v.kind == "next"} == {p for p, _ in run.expected}
    conn = await asyncpg.connect(run.database_url)
    try:
        stored = await conn.fetch(
            "SELECT player_id, as_of FROM features.feature_vectors WHERE kind = 'game'"
        )
    finally:
        await conn.close()
    assert len(stored) == len(run.expected)
    assert {(r["player_id"], r["as_of"]) for r in stored} == run.expected


async def test_every_players_game_features_were_computed_exactly_once(run):
    """Each game vector comes out exactly once, the backlog's included: every partition holds
    each team box before its later games, so although the two instances run at their own
    pace no vector is computed without a team box before its day (none is stale, none
    recomputed); after the backlog, each day's games come out once and nothing else does."""
    published = game_vectors(run)
    again = {k: n for k, n in published.items() if n > 1}
    assert not again, (
        f"{len(again)} of {len(published)} game vectors published more than once (up to "
        f"{max(again.values())} times)"
    )
    daily = collections.Counter(
        (v.player_id, v.as_of) for v in run.vectors[run.backlog_vectors :] if v.kind == "game"
    )
    assert set(daily) == {(p, d) for p, d in run.expected if d in DAILY}


async def test_the_stored_vectors_equal_a_batch_build_of_the_same_tables(run):
    """What one instance guarantees (docs/ARCHITECTURE.md, Features): whatever the arrival
    order, the stored vectors are the ones a batch build from the same tables gives."""
    pool = await create_pool(run.database_url, max_size=2)
    try:
        features = PostgresFeatures(Database.of(pool))
        engine = Engine(features)
        await engine.load()  # the whole league: features.team_games has every team's boxes
        histories = await features.histories(await features.all_players())
        async with pool.acquire() as conn:
            stored = {
                (r["player_id"], r["as_of"]): r["event_id"]
                for r in await conn.fetch(
                    "SELECT player_id, as_of, event_id FROM features.feature_vectors"
                )
            }
    finally:
        await pool.close()
    batch = {
        (v.player_id, v.as_of): v.event_id  # the event id hashes the features' values
        for player_id, (name, history) in histories.items()
        for v in vectors_for(
            player_id=player_id, player_name=name, history=history, league=engine.league
        )
    }
    differ = sorted(k for k, event_id in batch.items() if stored.get(k) != event_id)
    assert not differ, f"{len(differ)} of {len(batch)} vectors differ from a batch build"
