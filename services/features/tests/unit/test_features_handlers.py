"""The features handler through FastStream's TestKafkaBroker, with the repository in memory:
raw games in, vectors out packed on nba.features.v2 (key: player id), poison records to the
dead letters, team boxes into the league; the idle-time reconcile publishing what a late team box
made stale; the rebalance listener; the channels in the AsyncAPI document."""

import asyncio
import base64
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.specification import AsyncAPI
from prometheus_client import REGISTRY

from statmuse_features.app import build_runtime
from statmuse_features.engine import Engine
from statmuse_features.handlers import PartitionListener, asyncapi_router, reconcile_when_idle
from statmuse_features.runtime import FeaturesRuntime
from statmuse_features.settings import FeaturesSettings
from statmuse_shared.contract import topics, vectors
from statmuse_shared.contract.messages import (
    DeadLetter,
    FeaturesComputed,
    GameScheduled,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.platform.runtime import background

from .fakes import InMemoryFeatures, batch_build, differing
from .season import boxes, plays, schedule

GAMES = schedule("2023-24", 8)
BOS = plays(GAMES, "BOS", 1)  # player 1 plays for BOS, every day
MIA = plays(GAMES, "MIA", 4)
TEAMS = [b for g in GAMES for b in boxes(g)]


@dataclass
class Probe:
    """What the service published, read back from the test broker."""

    vectors: list[tuple[bytes, FeaturesComputed]] = field(default_factory=list)
    content_types: set[str | None] = field(default_factory=set)
    dead: list[DeadLetter] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def wired() -> AsyncIterator[tuple[FeaturesRuntime, Any, Probe]]:
    settings = FeaturesSettings(
        database_url="postgresql://unused@localhost/none", reconcile_idle_s=0.05
    )
    rt = build_runtime(settings, features=InMemoryFeatures(), standalone=True)
    probe = Probe()

    @rt.broker.subscriber(topics.FEATURES, group_id="probe")
    async def packed(msg: KafkaMessage) -> None:
        probe.vectors.append((msg.raw_message.key, vectors.decode(msg.body)))
        probe.content_types.add(msg.content_type)
        probe.arrived.set()

    @rt.broker.subscriber(topics.dead_letter(topics.GAMES_RAW), group_id="probe-dlq")
    async def dead(body: DeadLetter) -> None:
        probe.dead.append(body)

    await rt.started()  # the league from the (empty) store
    rt.bind()
    async with TestKafkaBroker(rt.broker) as br:
        yield rt, br, probe


def store(rt: FeaturesRuntime) -> InMemoryFeatures:
    assert isinstance(rt.features, InMemoryFeatures)
    return rt.features


async def publish(br: Any, *events: PlayerGameIngested | TeamGameIngested | bytes) -> None:
    await br.publish_batch(
        *(e if isinstance(e, bytes) else e.model_dump_json().encode() for e in events),
        topic=topics.GAMES_RAW,
    )


def consumed(kind: str) -> float:
    labels = {"topic": topics.GAMES_RAW, "outcome": kind}
    return REGISTRY.get_sample_value("statmuse_features_messages_total", labels) or 0.0


async def test_player_games_in_game_and_next_vectors_out_keyed_by_player(
    wired: tuple[FeaturesRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    before = consumed("player_game")
    await publish(br, *BOS[:3], *MIA[:2])
    kinds = sorted((key, v.kind, v.as_of) for key, v in probe.vectors)
    assert kinds == sorted(
        [(b"1", "game", g.game_date) for g in BOS[:3]]
        + [(b"1", "next", BOS[2].game_date + dt.timedelta(days=1))]
        + [(b"4", "game", g.game_date) for g in MIA[:2]]
        + [(b"4", "next", MIA[1].game_date + dt.timedelta(days=1))]
    )
    [last] = [v for _, v in probe.vectors if v.kind == "next" and v.player_id == 1]
    assert last.features["points_sma_3"] == pytest.approx((10 + 11 + 12) / 3)
    assert last.last_game is not None
    assert last.last_game.points == 12
    assert consumed("player_game") - before == 5
    assert len(store(rt).vectors) == 7
    assert probe.content_types == {vectors.CONTENT_TYPE}
    # The same records again: nothing new, nothing published.
    await publish(br, *BOS[:3])
    assert len(probe.vectors) == 7


def on_schedule(game: Any, number: int, status: str = "scheduled") -> GameScheduled:
    return GameScheduled(
        event_id=f"schedule-{number}-{status}",
        source="files",
        season=game.season,
        season_type="Regular Season",
        game_id=f"00223{number:05d}",
        game_key=game.key,
        game_date=game.day,
        home=game.home,
        away=game.away,
        status=status,
    )


async def test_a_scheduled_game_gives_its_players_its_vector_before_it_is_played(
    wired: tuple[FeaturesRuntime, Any, Probe],
) -> None:
    _, br, probe = wired
    played = [t for t in TEAMS if t.game_date <= BOS[1].game_date]
    await publish(br, *BOS[:2], *played)  # BOS has played twice, and so has everyone
    next_game = next(g for g in GAMES if "BOS" in (g.home, g.away) and g.day > BOS[1].game_date)
    probe.vectors.clear()
    await br.publish_batch(
        on_schedule(next_game, 1).model_dump_json().encode(), topic=topics.SCHEDULE
    )
    [(key, served)] = probe.vectors
    assert (key, served.kind, served.outcome, served.as_of) == (b"1", "game", None, next_game.day)
    assert served.game is not None
    assert served.game.opponent == (next_game.away if next_game.home == "BOS" else next_game.home)
    # Played: its vector, computed after, is the one served before, with the outcome.
    await publish(br, BOS[2], *(t for t in TEAMS if t.game_date == next_game.day))
    [played] = [v for _, v in probe.vectors if v.kind == "game" and v.outcome is not None]
    assert played.as_of == served.as_of
    assert played.features == served.features
    # Postponed: nothing to serve; the schedule's same message again: nothing new.
    probe.vectors.clear()
    await br.publish_batch(
        on_schedule(next_game, 1, "postponed").model_dump_json().encode(), topic=topics.SCHEDULE
    )
    assert probe.vectors == []


async def test_a_poison_record_is_dead_lettered_and_the_rest_of_the_batch_goes_on(
    wired: tuple[FeaturesRuntime, Any, Probe],
) -> None:
    _, br, probe = wired
    bad = b'{"kind": "player_game", "player_id": "not a number"}'
    await publish(br, BOS[0], b"{not json", bad, BOS[1])
    assert sorted(v.as_of for _, v in probe.vectors if v.kind == "game") == [
        BOS[0].game_date,
        BOS[1].game_date,
    ]
    assert [base64.b64decode(d.payload_b64) for d in probe.dead] == [b"{not json", bad]
    assert all(d.original_topic == topics.GAMES_RAW for d in probe.dead)
    assert all(d.consumer == "features" for d in probe.dead)
    assert all(d.error.startswith("invalid RawGame: ") for d in probe.dead)


async def test_team_games_build_the_league_the_vectors_use(
    wired: tuple[FeaturesRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    before = consumed("team_game")
    await publish(br, *TEAMS)
    assert consumed("team_game") - before == len(TEAMS)
    assert probe.vectors == []  # no player game, no vector
    assert len(store(rt).team_rows) == len(TEAMS)
    assert rt.engine.revision == store(rt).revision == 2
    revision = REGISTRY.get_sample_value("statmuse_features_league_revision")
    assert revision == 2
    await publish(br, *BOS)
    late = [v for _, v in probe.vectors if v.kind == "game" and v.as_of > GAMES[10].day]
    assert late
    assert all(v.features["opp_def_rating"] is not None for v in late)
    assert differing(store(rt), await batch_build(store(rt))) == []


async def test_the_idle_reconcile_publishes_what_a_late_team_box_made_stale(
    wired: tuple[FeaturesRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    [missing] = [t for t in TEAMS if t.team == "DEN" and t.game_date == GAMES[8].day]
    await publish(br, *[t for t in TEAMS if t is not missing], *BOS)
    assert rt.engine.stale == {}
    seventh = GAMES[12].day  # BOS vs DEN: DEN's late box changes its rating
    before = next(v for _, v in probe.vectors if v.kind == "game" and v.as_of == seventh)
    await publish(br, missing)
    assert rt.engine.stale  # known to be stale; recomputed once the consumer is idle
    probe.arrived.clear()

    def healed() -> list[FeaturesComputed]:
        return [v for _, v in probe.vectors if v.as_of == seventh and v is not before]

    async with background(reconcile_when_idle(rt)), asyncio.timeout(10):
        while not healed():
            await probe.arrived.wait()
            probe.arrived.clear()
    [again] = healed()
    assert again.features["opp_def_rating"] != before.features["opp_def_rating"]
    assert rt.engine.stale == {}
    assert differing(store(rt), await batch_build(store(rt))) == []


async def test_the_listener_tells_the_engine_its_share_of_the_raw_topic() -> None:
    engine = Engine(InMemoryFeatures(), owned=frozenset())
    listener = PartitionListener(engine)
    mine = {TopicPartition(topics.GAMES_RAW, 1), TopicPartition(topics.GAMES_RAW, 4)}
    await listener.on_partitions_assigned({*mine, TopicPartition(topics.FEATURES, 0)})
    assert (engine.owned, engine.partitions) == ({1, 4}, topics.DEFAULT_PARTITIONS)
    assert REGISTRY.get_sample_value("statmuse_features_owned_partitions") == 2
    # With a running consumer, the topic's own partition count.
    consumer = SimpleNamespace(partitions_for_topic=lambda topic: {0, 1, 2})
    listener.subscriber = SimpleNamespace(consumer=consumer)  # type: ignore[assignment]
    await listener.on_partitions_assigned({TopicPartition(topics.GAMES_RAW, 2)})
    assert (engine.owned, engine.partitions) == ({2}, 3)


def test_the_channels_in_the_asyncapi_document() -> None:
    broker = KafkaBroker("localhost:9092")
    broker.include_router(asyncapi_router())
    document = AsyncAPI(broker, title="t", schema_version="3.0.0").to_specification()
    found = document.to_jsonable()
    assert sorted(found["channels"]) == [
        "features-availability:nba.availability.v1",
        "features-schedule:nba.schedule.v1",
        "features:nba.games.raw.v1",
        "nba.availability.v1.dlq:features-availability",
        "nba.features.v2:features",
        "nba.games.raw.v1.dlq:features",
        "nba.schedule.v1.dlq:features-schedule",
    ]
    schemas = found["components"]["schemas"]
    assert {
        "RawGame",
        "PlayerGameIngested",
        "TeamGameIngested",
        "GameScheduled",
        "AvailabilityReported",
        "FeaturesHeader",
    } <= set(schemas)
    assert "features" not in schemas["FeaturesHeader"]["properties"]
    assert vectors.LAYOUT in found["channels"]["nba.features.v2:features"]["description"]
