"""The trainer's four handlers through FastStream's TestKafkaBroker, with the repositories and
the artifact store in memory: what goes in on the topics, what comes out on the models topic
and the dead letters, and what is kept."""

import base64
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from prometheus_client import REGISTRY

from statmuse_shared.contract import topics, vectors
from statmuse_shared.contract.messages import (
    DeadLetter,
    DistributionSummary,
    LineProbability,
    ModelAliasRequested,
    ModelMetrics,
    ModelPublished,
    PredictionMade,
    TrainRequested,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.baseline import RollingMeanArtifact
from statmuse_trainer.runtime import TrainerRuntime

from .fakes import (
    InMemoryExamples,
    InMemoryMonitor,
    InMemoryRegistry,
    MemoryArtifactStore,
    game_vector,
    runtime,
)

DAY = dt.date(2024, 3, 12)


class Probe:
    """What the service published, read back from the test broker."""

    def __init__(self) -> None:
        self.models: list[ModelPublished] = []
        self.dead: dict[str, list[DeadLetter]] = {}


@pytest.fixture
async def wired() -> AsyncIterator[tuple[TrainerRuntime, Any, Probe]]:
    rt = runtime()
    probe = Probe()

    @rt.broker.subscriber(topics.MODELS_PUBLISHED, group_id="probe")
    async def models(body: ModelPublished) -> None:
        probe.models.append(body)

    def letters_of(topic: str) -> Any:
        async def dead(body: DeadLetter) -> None:
            probe.dead.setdefault(topic, []).append(body)

        return dead

    for topic in (topics.FEATURES, topics.TRAIN_REQUESTS, topics.MODEL_COMMANDS):
        rt.broker.subscriber(topics.dead_letter(topic), group_id=f"probe-{topic}")(
            letters_of(topic)
        )

    rt.bind()
    async with TestKafkaBroker(rt.broker) as br:
        yield rt, br, probe


def examples(rt: TrainerRuntime) -> InMemoryExamples:
    assert isinstance(rt.examples, InMemoryExamples)
    return rt.examples


def registry(rt: TrainerRuntime) -> InMemoryRegistry:
    assert isinstance(rt.registry, InMemoryRegistry)
    return rt.registry


def monitor(rt: TrainerRuntime) -> InMemoryMonitor:
    assert isinstance(rt.monitor, InMemoryMonitor)
    return rt.monitor


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


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


# --- features -> training examples ----------------------------------------------------------


async def test_played_games_become_examples_and_poison_is_dead_lettered(
    wired: tuple[TrainerRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    seen = counter("statmuse_trainer_vectors_total")
    stored = counter("statmuse_trainer_examples_total")
    bad = vectors.encode(game_vector(9, DAY))[:-8]  # a value short
    upcoming = game_vector(3, DAY, kind="next")
    await publish(br, topics.FEATURES, game_vector(1, DAY), bad, upcoming, game_vector(2, DAY))
    # A next-game vector has no outcome yet: it is no example.
    assert sorted(k[0] for k in examples(rt).rows) == [1, 2]
    assert counter("statmuse_trainer_vectors_total") == seen + 3
    assert counter("statmuse_trainer_examples_total") == stored + 2
    [letter] = probe.dead[topics.FEATURES]
    assert base64.b64decode(letter.payload_b64) == bad
    assert letter.consumer == "trainer"
    assert letter.error.startswith("invalid FeaturesComputed: ")
    assert "truncated or over-long" in letter.error
    # A replay stores nothing new.
    await publish(br, topics.FEATURES, game_vector(1, DAY))
    assert len(examples(rt).rows) == 2


# --- train requests ----------------------------------------------------------------------------


async def test_a_baseline_request_trains_registers_and_announces(
    wired: tuple[TrainerRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    played = [
        game_vector(pid, DAY - dt.timedelta(days=k), points=18 + k % 5)
        for pid in range(1, 5)
        for k in range(10)
    ]
    await publish(br, topics.FEATURES, *played)
    before = counter("statmuse_trainer_trainings_total", stat="points", outcome="published")
    request = TrainRequested(event_id="r1", stat=Stat.POINTS, reason="admin", promote=False)
    await publish(br, topics.TRAIN_REQUESTS, request)
    [event] = probe.models
    assert (event.alias, event.model_type, event.name) == (
        "staging",
        "rolling_mean",
        "points-baseline",
    )
    assert event.version == f"v{dt.date.today()}-points-baseline"
    assert event.metrics.n_train == 40
    assert registry(rt).alias("points", "staging") == event.version
    assert isinstance(rt.store, MemoryArtifactStore)
    artifact = RollingMeanArtifact.model_validate_json(
        rt.store.get(event.artifact_uri, checksum=event.checksum)
    )
    assert artifact.feature == "points_sma_10"
    assert counter("statmuse_trainer_trainings_total", stat="points", outcome="published") == (
        before + 1
    )
    assert topics.TRAIN_REQUESTS not in probe.dead


async def test_requests_that_cannot_be_carried_out_are_refused_with_why(
    wired: tuple[TrainerRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    before = counter("statmuse_trainer_trainings_total", stat="assists", outcome="refused")
    unknown = TrainRequested(event_id="r2", stat=Stat.ASSISTS, model_kind="magic", reason="x")
    empty = TrainRequested(event_id="r3", stat=Stat.ASSISTS, reason="x")  # no examples yet
    player = TrainRequested(event_id="r4", stat=Stat.ASSISTS, player_id=7, reason="x")  # baseline
    for request in (unknown, empty, player):
        await publish(br, topics.TRAIN_REQUESTS, request)
    letters = probe.dead[topics.TRAIN_REQUESTS]
    assert [
        TrainRequested.model_validate_json(base64.b64decode(d.payload_b64)).event_id
        for d in letters
    ] == [
        "r2",
        "r3",
        "r4",
    ]
    assert "is not trained on request" in letters[0].error
    assert letters[1].error == "no training examples yet"
    assert letters[2].error == (
        "a baseline is fitted for the stat, not for one player: ask for per_player"
    )
    assert {d.consumer for d in letters} == {"trainer-commands"}
    assert probe.models == []
    assert counter("statmuse_trainer_trainings_total", stat="assists", outcome="refused") == (
        before + 3
    )


async def test_a_pooled_request_is_answered_by_todays_retrain(
    wired: tuple[TrainerRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    today = dt.date.today()
    async with registry(rt).transaction() as tx:
        await tx.register(
            ModelPublished(
                event_id="m",
                name="rebounds-xgboost",
                version=f"v{today}-rebounds-xgboost",
                stat=Stat.REBOUNDS,
                alias="staging",
                model_type="count_model",
                artifact_uri="mem://x",
                checksum="0",
                feature_set_version="fs-2",
            )
        )
    before = counter("statmuse_trainer_trainings_total", stat="rebounds", outcome="already_trained")
    request = TrainRequested(
        event_id="r5", stat=Stat.REBOUNDS, player_id=9, model_kind="pooled", reason="schedule"
    )
    await publish(br, topics.TRAIN_REQUESTS, request)
    assert probe.models == []
    assert topics.TRAIN_REQUESTS not in probe.dead
    after = counter("statmuse_trainer_trainings_total", stat="rebounds", outcome="already_trained")
    assert after == before + 1


# --- alias commands ----------------------------------------------------------------------------


async def register(rt: TrainerRuntime, version: str, alias: str) -> None:
    async with registry(rt).transaction() as tx:
        await tx.register(
            ModelPublished(
                event_id=f"m-{version}",
                name="points-baseline",
                version=version,
                stat=Stat.POINTS,
                alias=alias,
                model_type="rolling_mean",
                artifact_uri=f"mem://{version}",
                checksum="0",
                feature_set_version="fs-2",
                metrics=ModelMetrics(mae=5.0),
            )
        )


def command(n: int, action: str) -> ModelAliasRequested:
    return ModelAliasRequested(
        event_id=f"cmd-{n}", action=action, key="points", requested_by="apikey:test"
    )


async def test_commands_move_aliases_and_refusals_are_dead_letters(
    wired: tuple[TrainerRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    await register(rt, "v1", "production")
    await register(rt, "v2", "staging")
    for n, action in enumerate(["rollback", "promote", "rollback"]):
        await publish(br, topics.MODEL_COMMANDS, command(n, action))
    assert [(e.version, e.alias) for e in probe.models] == [
        ("v2", "production"),
        ("v1", "archived"),  # promote
        ("v1", "production"),
        ("v2", "archived"),  # rollback
    ]
    [letter] = probe.dead[topics.MODEL_COMMANDS]
    assert "no earlier production version" in letter.error
    assert letter.consumer == "trainer-model-commands"
    refused = ModelAliasRequested.model_validate_json(base64.b64decode(letter.payload_b64))
    assert (refused.event_id, refused.action) == ("cmd-0", "rollback")
    assert registry(rt).alias("points", "production") == "v1"
    # Each event names its move: the archived v1 and the production v1 are two events.
    assert len({e.event_id for e in probe.models}) == 4


async def test_a_repeated_command_moves_nothing_twice(
    wired: tuple[TrainerRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    await register(rt, "v1", "production")
    await register(rt, "v2", "staging")
    await publish(br, topics.MODEL_COMMANDS, command(1, "promote"))
    await publish(br, topics.MODEL_COMMANDS, command(1, "promote"))  # redelivered
    assert [(e.version, e.alias) for e in probe.models] == [
        ("v2", "production"),
        ("v1", "archived"),
        ("v2", "production"),  # re-announced, not moved
    ]
    assert registry(rt).alias("points", "archived") == "v1"
    # A refused move records nothing: the same id may be carried out later.
    await publish(br, topics.MODEL_COMMANDS, command(2, "promote"))  # nothing staged now
    assert "nothing is staged" in probe.dead[topics.MODEL_COMMANDS][0].error
    assert "cmd-2" not in registry(rt).state.commands


async def test_pins_are_checked_carried_out_and_audited(
    wired: tuple[TrainerRuntime, Any, Probe],
) -> None:
    rt, br, probe = wired
    await register(rt, "v1", "production")
    await register(rt, "v2", "archived")

    def pin(n: int, **fields: Any) -> ModelAliasRequested:
        return ModelAliasRequested(
            event_id=f"pin-{n}", key="points", requested_by="apikey:ops", **fields
        )

    for c in (
        pin(1, action="pin", version="v2", mode="canary", share=0.2),
        pin(2, action="pin", version="v2", mode="canary"),  # no share
        pin(3, action="pin", version="v2", mode="canary", share=0.9),  # too much traffic
        pin(4, action="pin", version="v2", mode="shadow", share=0.1),  # a shadow with a share
        pin(5, action="pin", mode="shadow"),  # no version
        pin(6, action="pin", version="v7", mode="shadow"),  # no such version
        pin(7, action="unpin"),
        pin(8, action="unpin"),  # nothing left to unpin
    ):
        await publish(br, topics.MODEL_COMMANDS, c)
    assert [(e.version, e.alias, e.mode, e.share) for e in probe.models] == [
        ("v2", "staging", "canary", 0.2),
        ("v2", "archived", None, None),
    ]
    errors = [d.error for d in probe.dead[topics.MODEL_COMMANDS]]
    assert len(errors) == 6
    for expected, error in zip(
        ["needs a share", "at most 0.5", "takes no share", "names a version", "no model version",
         "nothing is pinned"], errors, strict=True
    ):  # fmt: skip
        assert expected in error
    state = registry(rt).state
    pins = [(h[2], h[3], d) for h, d in zip(state.history, state.details, strict=True) if d]
    assert pins == [("staging", "v2", "pin canary 0.2"), ("archived", "v2", "unpin")]
    assert set(state.requested_by[-2:]) == {"apikey:ops"}
    # The unpin delivered again (its first run may have stopped before publishing): nothing
    # moves, production and the unpinned version's archiving are announced again.
    await publish(br, topics.MODEL_COMMANDS, pin(7, action="unpin"))
    assert [(e.version, e.alias) for e in probe.models[2:]] == [
        ("v1", "production"),
        ("v2", "archived"),
    ]
    assert len(registry(rt).state.history) == len(state.history)


# --- predictions for the monitor ---------------------------------------------------------------


def prediction(n: int) -> PredictionMade:
    return PredictionMade(
        event_id=f"p-{n}",
        player_id=n,
        player_name=f"P{n}",
        stat=Stat.POINTS,
        as_of=DAY,
        predicted_value=21.1,
        distribution=DistributionSummary(family="nb", mean=21.1, sd=5, quantiles={"q50": 21.0}),
        lines=[
            LineProbability(
                line=21.5, over_probability=0.45, under_probability=0.55, push_probability=0.0
            )
        ],
        model_name="points",
        model_version="v1",
        occurred_at=dt.datetime(2024, 3, 12, 15, tzinfo=dt.UTC),
    )


async def test_predictions_are_kept_once_for_the_monitor(
    wired: tuple[TrainerRuntime, Any, Probe],
) -> None:
    rt, br, _ = wired
    before = counter("statmuse_trainer_predictions_total")
    await publish(br, topics.PREDICTIONS, prediction(1), prediction(2))
    await publish(br, topics.PREDICTIONS, prediction(1))  # a redelivery
    assert sorted(monitor(rt).predictions) == ["p-1", "p-2"]
    assert counter("statmuse_trainer_predictions_total") == before + 3
    stored = await rt.monitor.stored_predictions(stat=Stat.POINTS, first=DAY, last=DAY)
    assert sorted(p.player_id for p in stored) == [1, 2]
    assert stored[0].lines[0].over_probability == 0.45
