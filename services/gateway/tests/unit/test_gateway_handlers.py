"""The gateway's handlers through FastStream's TestKafkaBroker, with the read model and the
caches in memory: what goes in on the topics, what the read model, the league, the book and
the caches make of it, and what goes to the dead letters."""

import base64
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from statmuse_gateway import metrics
from statmuse_gateway.contexts import context_of
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_shared.contract import topics, vectors
from statmuse_shared.contract.messages import (
    DeadLetter,
    FeaturesComputed,
    ModelMetrics,
    ModelPublished,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import FEATURE_SET_VERSION, TeamGame, feature_names
from statmuse_shared.models.baseline import RollingMeanArtifact
from statmuse_shared.models.serving import ModelBook

from .fakes import (
    InMemoryContextCache,
    InMemoryPredictionCache,
    InMemoryReadModel,
    MemoryArtifactStore,
    fake_runtime,
)

DAY = dt.date(2024, 1, 10)


def player_game(pid: int, *, event: str = "a", day: dt.date = DAY) -> PlayerGameIngested:
    return PlayerGameIngested(
        event_id=f"pg-{pid}-{day}-{event}",
        source="t",
        season="2023-24",
        season_type="Regular Season",
        game_key=f"{day}:DEN@LAL",
        game_date=day,
        player_id=pid,
        player_name=f"Player {pid}",
        team="LAL",
        opponent="DEN",
        is_home=True,
        minutes=34.0,
        points=25,
        rebounds=8,
        assists=7,
        fg3m=2,
        fga=18,
        fta=6,
        turnovers=3,
    )


def team_game(team: str, opponent: str, *, day: dt.date = DAY) -> TeamGameIngested:
    return TeamGameIngested(
        event_id=f"tg-{team}-{day}",
        source="t",
        season="2023-24",
        season_type="Regular Season",
        game_key=f"{day}:DEN@LAL" if team in ("LAL", "DEN") else f"{day}:{opponent}@{team}",
        game_date=day,
        team=team,
        opponent=opponent,
        is_home=team == "LAL",
        minutes=240.0,
        points=110,
        opponent_points=104,
        fga=88,
        oreb=10,
        tov=13,
        fta=20,
    )


def vector(pid: int, *, as_of: dt.date = DAY) -> FeaturesComputed:
    return FeaturesComputed(
        event_id=f"fv-{pid}-{as_of}",
        player_id=pid,
        player_name=f"Player {pid}",
        team="LAL",
        season="2023-24",
        as_of=as_of,
        feature_set_version=FEATURE_SET_VERSION,
        features={
            **dict.fromkeys(feature_names()),  # a whole vector, as the topic carries
            "points_sma_10": 25.0,
            "points_n_10": 10.0,
            "points_season_avg": 24.0,
        },
    )


def model_event(store: MemoryArtifactStore, version: str) -> ModelPublished:
    artifact = RollingMeanArtifact(
        stat=Stat.POINTS,
        feature="points_sma_10",
        fallback_feature="points_season_avg",
        window_count_feature="points_n_10",
        min_games=3,
        family="normal",
        residual_sd=7.0,
        league_mean=11.0,
        feature_set_version="fs-0.1",
    )
    uri, checksum = store.put(f"points/{version}.json", artifact.model_dump_json().encode())
    return ModelPublished(
        event_id=f"m-{version}",
        name="points-baseline",
        version=version,
        stat=Stat.POINTS,
        alias="production",
        model_type="rolling_mean",
        artifact_uri=uri,
        checksum=checksum,
        feature_set_version="fs-0.1",
        metrics=ModelMetrics(mae=5.0),
    )


class Probe:
    def __init__(self) -> None:
        self.dead: list[DeadLetter] = []


@pytest.fixture
def store() -> MemoryArtifactStore:
    return MemoryArtifactStore()


@pytest.fixture
async def wired(store: MemoryArtifactStore) -> AsyncIterator[tuple[GatewayRuntime, Any, Probe]]:
    rt = fake_runtime(book=ModelBook(store=store))
    probe = Probe()
    for topic in (topics.GAMES_RAW, topics.FEATURES, topics.MODELS_PUBLISHED):

        @rt.broker.subscriber(topics.dead_letter(topic), group_id=f"probe-{topic}")
        async def dead(body: DeadLetter) -> None:
            probe.dead.append(body)

    rt.bind()
    async with TestKafkaBroker(rt.broker) as br:
        yield rt, br, probe


def read_model(rt: GatewayRuntime) -> InMemoryReadModel:
    assert isinstance(rt.read_model, InMemoryReadModel)
    return rt.read_model


def context_cache(rt: GatewayRuntime) -> InMemoryContextCache:
    assert isinstance(rt.context_cache, InMemoryContextCache)
    return rt.context_cache


def prediction_cache(rt: GatewayRuntime) -> InMemoryPredictionCache:
    assert isinstance(rt.prediction_cache, InMemoryPredictionCache)
    return rt.prediction_cache


async def publish(br: Any, topic: str, *messages: Any) -> None:
    """As their producers write them: vectors packed, everything else JSON (bytes: as given)."""
    await br.publish_batch(
        *(
            m
            if isinstance(m, bytes)
            else vectors.encode(m)
            if topic == topics.FEATURES
            else m.model_dump_json().encode()
            for m in messages
        ),
        topic=topic,
    )


async def test_raw_games_fill_the_read_model_and_the_league_and_drop_touched_contexts(
    wired: tuple[GatewayRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    cache = context_cache(rt)
    await cache.put(1, {"name": "player 1"}, {"cached": True})
    await cache.put(2, {"name": "player 2"}, {"cached": True})
    games = metrics.GAMES._value.get()

    lal = [team_game("LAL", "DEN", day=DAY + dt.timedelta(days=d)) for d in range(5)]
    await publish(br, topics.GAMES_RAW, player_game(1), *lal)
    assert sorted(read_model(rt).player_games) == [(1, f"{DAY}:DEN@LAL")]
    assert len(read_model(rt).team_boxes) == 5
    # The league learned the new team boxes: LAL is rated on its five games.
    rating = rt.league.rating("LAL", "2023-24", DAY + dt.timedelta(days=5))
    assert rating is not None
    assert rating.games == 5
    # Exactly the touched player lost his cached context.
    assert cache.invalidated == [{1}]
    assert [pid for pid, _ in cache.entries.values()] == [2]
    assert metrics.GAMES._value.get() == games + 6

    # A replay stores nothing new and touches nobody.
    await publish(br, topics.GAMES_RAW, player_game(1))
    assert cache.invalidated[-1] == set()
    # A corrected box score touches its player again.
    await publish(br, topics.GAMES_RAW, player_game(1, event="b"))
    assert cache.invalidated[-1] == {1}
    assert probe.dead == []


async def test_a_poison_raw_game_is_dead_lettered_and_the_rest_goes_on(
    wired: tuple[GatewayRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    bad = b'{"kind": "referee_game"}'
    await publish(br, topics.GAMES_RAW, player_game(3), bad, b"\xff not json", player_game(4))
    assert sorted(pid for pid, _ in read_model(rt).player_games) == [3, 4]
    assert [base64.b64decode(d.payload_b64) for d in probe.dead] == [bad, b"\xff not json"]
    assert all(d.original_topic == topics.GAMES_RAW for d in probe.dead)
    assert all(d.consumer == "gateway-games" for d in probe.dead)
    assert probe.dead[0].error.startswith("invalid RawGame: ")


async def test_features_fill_the_read_model_and_drop_exactly_those_players_predictions(
    wired: tuple[GatewayRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    counted = metrics.VECTORS._value.get()
    await publish(br, topics.FEATURES, vector(7), vector(8), vector(7, as_of=DAY.replace(day=12)))
    assert sorted(read_model(rt).vectors) == [(7, DAY), (7, DAY.replace(day=12)), (8, DAY)]
    assert read_model(rt).players[7] == ("Player 7", "LAL", DAY.replace(day=12))
    assert prediction_cache(rt).player_generations == {7: 1, 8: 1}
    assert prediction_cache(rt).generation == 0
    assert metrics.VECTORS._value.get() == counted + 3
    cut = vectors.encode(vector(9))[:-1]
    await publish(br, topics.FEATURES, cut)
    [letter] = probe.dead
    assert letter.error.startswith("invalid FeaturesComputed: ")
    assert "truncated or over-long" in letter.error
    assert base64.b64decode(letter.payload_b64) == cut
    assert (9, DAY) not in read_model(rt).vectors


async def test_a_published_model_is_served_listed_and_orphans_every_cached_prediction(
    wired: tuple[GatewayRuntime, Any, Probe], store: MemoryArtifactStore
) -> None:
    rt, br, _ = wired
    await publish(br, topics.MODELS_PUBLISHED, model_event(store, "v1"))
    served = rt.book.for_stat(Stat.POINTS)
    assert served is not None
    assert served.info.version == "v1"
    assert list(read_model(rt).models_stored) == ["v1"]
    assert prediction_cache(rt).generation == 1
    assert metrics.MODELS_SERVED._value.get() == 1

    await publish(br, topics.MODELS_PUBLISHED, model_event(store, "v2"))
    served = rt.book.for_stat(Stat.POINTS)
    assert served is not None
    assert served.info.version == "v2"
    assert sorted(read_model(rt).models_stored) == ["v1", "v2"]
    assert prediction_cache(rt).generation == 2


async def test_an_instance_learns_the_team_boxes_another_instance_stored(
    wired: tuple[GatewayRuntime, Any, Probe],
) -> None:
    """Instances share the box scores' partitions: each handler sees only some team boxes,
    and every league follows all of them through the read model."""
    a, br, _ = wired
    b = fake_runtime(read_model=a.read_model)  # another instance, its consumer idle
    await b.started()
    rated = DAY + dt.timedelta(days=5)
    lal = [team_game("LAL", "DEN", day=DAY + dt.timedelta(days=d)) for d in range(5)]
    await publish(br, topics.GAMES_RAW, *lal)
    rating = a.league.rating("LAL", "2023-24", rated)
    assert rating is not None
    assert rating.games == 5
    await b.sync_league(max_age_s=60)  # synced at start, less than a minute ago: kept
    assert b.league.rating("LAL", "2023-24", rated) is None
    await b.sync_league(max_age_s=0)
    assert b.league.rating("LAL", "2023-24", rated) == rating
    assert b.league.fingerprint == a.league.fingerprint

    # A corrected box, stored by the first instance, reaches the second one too.
    fixed = lal[2].model_copy(update={"event_id": "tg-fixed", "opponent_points": 150})
    await publish(br, topics.GAMES_RAW, fixed)
    assert a.league.fingerprint != b.league.fingerprint
    await b.sync_league()
    assert b.league.rating("LAL", "2023-24", rated) == a.league.rating("LAL", "2023-24", rated)
    assert b.league.fingerprint == a.league.fingerprint
    assert b.league_version == read_model(a).league_version == 2


async def test_the_league_is_loaded_from_the_read_model_at_start() -> None:
    rt = fake_runtime()
    days = [DAY + dt.timedelta(days=d) for d in range(5)]
    await read_model(rt).store_games([], [team_game("BOS", "NYK", day=d) for d in days])
    assert rt.league.rating("BOS", "2023-24", DAY + dt.timedelta(days=5)) is None
    await rt.started()
    assert rt.league.rating("BOS", "2023-24", DAY + dt.timedelta(days=5)) is not None


class _DownRead(InMemoryReadModel):
    """The league sync fails with `error` once set (the other queries still answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.error: Exception | None = None

    async def team_games_since(self, version: int) -> tuple[list[TeamGame], int]:
        if self.error is not None:
            raise self.error
        return await super().team_games_since(version)


async def test_a_context_is_still_answered_from_the_cache_when_the_league_cannot_sync() -> None:
    read = _DownRead()
    rt = fake_runtime(read_model=read)
    await rt.started()
    read.player(1, "Player 1", seen=DAY)
    await read.store_games([player_game(1)], [])
    ask = {"name": "Player 1", "game_date": None, "opponent": None, "is_home": None}
    first = await context_of(rt, **ask)
    read.error = ConnectionRefusedError("PostgreSQL is down")
    rt.league_synced = float("-inf")  # due for a sync
    assert await context_of(rt, **ask) == first
    # Anything but an unavailable database is a bug, not an outage: it is not swallowed.
    read.error = TypeError("a bug")
    with pytest.raises(TypeError):
        await context_of(rt, **ask)
