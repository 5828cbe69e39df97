"""The predictor's handlers through FastStream's TestKafkaBroker, with the repository in
memory: what goes in on the topics, what comes out on the predictions topic and the dead
letters, and what is kept."""

import base64
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from statmuse_predictor.app import build_runtime
from statmuse_predictor.runtime import PredictorRuntime
from statmuse_predictor.settings import PredictorSettings
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    DeadLetter,
    FeaturesComputed,
    GameRef,
    ModelPublished,
    PredictionMade,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.serving import ModelBook

from .fakes import InMemoryPredictions

AS_OF = dt.date(2024, 3, 12)


def vector(pid: int, *, kind: str = "next", as_of: dt.date = AS_OF) -> FeaturesComputed:
    game = None
    if kind == "game":
        game = GameRef(game_date=as_of, season_type="Regular Season", opponent="DEN", is_home=True)
    return FeaturesComputed(
        event_id=f"fv-{pid}-{kind}-{as_of}",
        player_id=pid,
        player_name=f"Player {pid}",
        team="LAL",
        season="2023-24",
        as_of=as_of,
        kind=kind,
        game=game,
        feature_set_version="fs-0.1",
        features={"points_sma_10": 20.0 + pid, "points_n_10": 10.0, "points_season_avg": 21.0},
    )


class Probe:
    """What the service published, read back from the test broker."""

    def __init__(self) -> None:
        self.predictions: list[PredictionMade] = []
        self.dead: list[DeadLetter] = []


@pytest.fixture
async def wired(book: ModelBook) -> AsyncIterator[tuple[PredictorRuntime, Any, Probe]]:
    settings = PredictorSettings(database_url="postgresql://unused@localhost/none")
    rt = build_runtime(settings, book=book, predictions=InMemoryPredictions())
    probe = Probe()

    @rt.broker.subscriber(topics.PREDICTIONS, group_id="probe")
    async def predictions(body: PredictionMade) -> None:
        probe.predictions.append(body)

    @rt.broker.subscriber(topics.dead_letter(topics.FEATURES), group_id="probe-dlq")
    async def dead(body: DeadLetter) -> None:
        probe.dead.append(body)

    rt.bind()
    async with TestKafkaBroker(rt.broker) as br:
        yield rt, br, probe


def repo(rt: PredictorRuntime) -> InMemoryPredictions:
    assert isinstance(rt.predictions, InMemoryPredictions)
    return rt.predictions


async def publish(br: Any, topic: str, *messages: Any) -> None:
    await br.publish_batch(
        *(m if isinstance(m, bytes) else m.model_dump_json().encode() for m in messages),
        topic=topic,
    )


async def test_next_vectors_are_kept_predicted_and_published(
    wired: tuple[PredictorRuntime, Any, Probe], serve: Callable[..., ModelPublished]
) -> None:
    rt, br, probe = wired
    serve(Stat.POINTS)
    await publish(br, topics.FEATURES, vector(1), vector(2), vector(3, kind="game"))
    # One prediction per upcoming player (points is the only stat served); a played game's
    # vector is training data and predicts nothing.
    assert sorted(p.player_id for p in probe.predictions) == [1, 2]
    assert {p.stat for p in probe.predictions} == {Stat.POINTS}
    assert sorted(repo(rt).latest_by_player) == [1, 2]
    assert len(repo(rt).stored) == 2
    [first] = [p for p in probe.predictions if p.player_id == 1]
    assert first.predicted_value == pytest.approx(21.0)
    assert first.as_of == AS_OF


async def test_without_a_model_a_vector_is_kept_for_later(
    wired: tuple[PredictorRuntime, Any, Probe], event: Callable[..., ModelPublished]
) -> None:
    rt, br, probe = wired
    await publish(br, topics.FEATURES, vector(7))
    assert probe.predictions == []
    assert list(repo(rt).latest_by_player) == [7]
    # The model arrives: the kept vector is predicted with it.
    await publish(br, topics.MODELS_PUBLISHED, event(Stat.POINTS, version="v9"))
    assert [(p.player_id, p.model_version) for p in probe.predictions] == [(7, "v9")]


async def test_an_older_vector_does_not_replace_a_newer_one(
    wired: tuple[PredictorRuntime, Any, Probe],
) -> None:
    rt, br, _ = wired
    await publish(br, topics.FEATURES, vector(4, as_of=AS_OF))
    await publish(br, topics.FEATURES, vector(4, as_of=AS_OF - dt.timedelta(days=5)))
    assert repo(rt).latest_by_player[4].as_of == AS_OF


async def test_a_poison_record_is_dead_lettered_and_the_rest_of_the_batch_goes_on(
    wired: tuple[PredictorRuntime, Any, Probe], serve: Callable[..., ModelPublished]
) -> None:
    _, br, probe = wired
    serve(Stat.POINTS)
    bad = b'{"player_id": "not a number"}'
    await publish(br, topics.FEATURES, vector(1), bad, b"\xff not json", vector(2))
    assert sorted(p.player_id for p in probe.predictions) == [1, 2]
    assert [base64.b64decode(d.payload_b64) for d in probe.dead] == [bad, b"\xff not json"]
    assert all(d.original_topic == topics.FEATURES for d in probe.dead)
    assert all(d.consumer == "predictor" for d in probe.dead)
    assert probe.dead[0].error.startswith("invalid FeaturesComputed: ")
