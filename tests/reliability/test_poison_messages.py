"""Poison messages: bytes that cannot be read (not JSON; on the packed vectors' topic, a vector
cut short), and a well-formed message of an unknown schema_version, on every topic a service
consumes. Each consumer must send each of them to `<topic>.dlq` with the reason and the original
bytes, and go on: the good message behind them (same key, so same partition, so after them) is
processed.

The four consuming services run as `statmuse-<svc> serve` processes on a broker, a database
and a Redis of the test's own."""

import asyncio
import base64
import datetime as dt
import uuid

import pytest

from statmuse_features.service import player_game, vectors_and_state
from statmuse_ops.infra import start_redis
from statmuse_shared.contract import ids, topics, vectors
from statmuse_shared.contract.messages import (
    DeadLetter,
    ModelAliasRequested,
    ModelMetrics,
    ModelPublished,
    PlayerGameIngested,
    TrainRequested,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import League
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.count import CountModel
from statmuse_shared.platform.migrations import migrate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NOT_JSON = b"{not json"
UNKNOWN_VERSION = 99

# Who consumes what (handlers.py of each service), by consumer group; `*` ends a group name
# that carries a per-instance suffix.
CONSUMERS = {
    topics.GAMES_RAW: ("features", "gateway-games"),
    topics.FEATURES: ("trainer", "predictor", "gateway"),
    topics.MODELS_PUBLISHED: ("predictor-models-*", "gateway-models-*"),
    topics.TRAIN_REQUESTS: ("trainer-commands",),
    topics.MODEL_COMMANDS: ("trainer-model-commands",),
}
PLAYER = 2544  # LeBron James: his first game of 2023-24 is the good raw message


def first_game() -> PlayerGameIngested:
    return PlayerGameIngested(
        event_id=ids.event_id("test", "2023-10-24:LAL@DEN", PLAYER),
        source="test",
        season="2023-24",
        season_type="Regular Season",
        game_key="2023-10-24:LAL@DEN",
        game_date=dt.date(2023, 10, 24),
        player_id=PLAYER,
        player_name="LeBron James",
        team="LAL",
        opponent="DEN",
        is_home=False,
        minutes=29.0,
        points=21,
        rebounds=8,
        assists=5,
        fg3m=1,
    )


def shipped_points_model(store: LocalArtifactStore, kit) -> ModelPublished:
    data = (kit.models / "points.npz").read_bytes()
    header = CountModel.from_bytes(data).header
    uri, checksum = store.put(f"points/{header.name}.npz", data)
    return ModelPublished(
        event_id=ids.event_id("model", "v-poison", "production"),
        name=header.name,
        version="v-poison",
        stat=header.stat,
        alias="production",
        model_type="count_model",
        artifact_uri=uri,
        checksum=checksum,
        feature_set_version=header.feature_set_version,
        metrics=ModelMetrics(),
    )


def poisons(topic: str, message) -> dict[bytes, str]:
    """The two poisoned twins of `message`, as a producer of `topic` would write them, by kind:
    a record that cannot be read, and one of an unknown schema_version."""
    newer = message.model_copy(update={"schema_version": UNKNOWN_VERSION})
    if topic == topics.FEATURES:
        return {vectors.encode(message)[:-8]: "unreadable", vectors.encode(newer): "version"}
    return {NOT_JSON: "unreadable", newer.model_dump_json().encode(): "version"}


def matches(group: str, pattern: str) -> bool:
    return group.startswith(pattern[:-1]) if pattern.endswith("*") else group == pattern


async def test_poison_goes_to_the_dead_letter_topic_and_the_consumer_goes_on(
    database_url, own_broker, services, tmp_path, kit
):
    bootstrap = own_broker.url
    await kit.create_topics(bootstrap)
    await migrate(database_url)
    store = LocalArtifactStore(tmp_path / "artifacts")
    with kit.owned(lambda: start_redis(tmp_path / "redis", port=None)) as redis:
        services.env.update(
            DATABASE_URL=database_url,
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            REDIS_URL=redis.url,
            ARTIFACT_STORE_URL=(tmp_path / "artifacts").as_uri(),
        )
        running = {
            name: services.start(name) for name in ("features", "trainer", "predictor", "gateway")
        }
        await asyncio.gather(*(services.ready(s) for s in running.values()))

        game = first_game()
        vector = vectors_and_state(
            player_id=PLAYER,
            player_name="LeBron James",
            history=[player_game(game)],
            league=League(),
        )[0][0]
        model = shipped_points_model(store, kit)
        train = TrainRequested(
            event_id=str(uuid.uuid4()),
            stat=Stat.POINTS,
            model_kind="baseline",
            reason="admin",
            requested_by="test",
        )
        rollback = ModelAliasRequested(
            event_id=str(uuid.uuid4()), action="rollback", key="points", requested_by="test"
        )
        player = topics.player_key(PLAYER)
        # (topic, key, the message whose poisoned twin goes first, the good bytes or None when
        # the good message comes from a service: the features service's vectors of `game`).
        sent = [
            (topics.FEATURES, player, vector, None),
            (topics.GAMES_RAW, player, game, game.model_dump_json().encode()),
            (topics.MODELS_PUBLISHED, b"points", model, model.model_dump_json().encode()),
            (topics.TRAIN_REQUESTS, b"points", train, train.model_dump_json().encode()),
            (topics.MODEL_COMMANDS, b"points", rollback, rollback.model_dump_json().encode()),
        ]
        kinds: dict[bytes, str] = {}
        async with kit.producer(bootstrap) as producer:
            for topic, key, message, good in sent:
                poisoned = poisons(topic, message)
                kinds.update(poisoned)
                for poison in poisoned:
                    await producer.send_and_wait(topic, poison, key=key)
                if good is not None:
                    await producer.send_and_wait(topic, good, key=key)

        # The good messages behind the poison were processed.
        checks = [
            ("features", "statmuse_features_messages_total", {"outcome": "player_game"}),
            ("gateway", "statmuse_gateway_games_total", {}),
            ("trainer", "statmuse_trainer_vectors_total", {}),
            ("predictor", "statmuse_predictor_vectors_total", {}),
            ("gateway", "statmuse_gateway_vectors_total", {}),
            ("predictor", "statmuse_predictor_models_loaded", {}),
            ("gateway", "statmuse_gateway_models_served", {}),
            ("trainer", "statmuse_trainer_trainings_total", {"stat": "points"}),
        ]
        for name, metric, labels in checks:
            await kit.eventually(
                f"{name}: {metric} after the poison",
                lambda n=name, m=metric, lb=labels: _positive(kit.metric(running[n].url, m, **lb)),
                deadline_s=60,
                interval_s=0.2,
            )

        # Every consumer dead-lettered both poisons of each topic it reads, with the reason and
        # the original bytes; the rollback (nothing to roll back to) was refused the same way.
        wanted = {
            (t, g, kind)
            for t, groups in CONSUMERS.items()
            for g in groups
            for kind in ("unreadable", "version")
        }
        wanted.add((topics.MODEL_COMMANDS, "trainer-model-commands", "refused"))
        letters: dict[tuple[str, str, str], DeadLetter] = {}

        def file(records: list) -> None:
            letters.clear()
            for r in records:
                letter = DeadLetter.model_validate_json(r.value)
                assert r.topic == topics.dead_letter(letter.original_topic)
                kind = kinds.get(base64.b64decode(letter.payload_b64), "refused")
                group = next(
                    (
                        g
                        for g in CONSUMERS.get(letter.original_topic, ())
                        if matches(letter.consumer, g)
                    ),
                    letter.consumer,
                )
                letters[(letter.original_topic, group, kind)] = letter

        def complete(records: list) -> bool:
            file(records)
            return wanted <= letters.keys()

        await kit.read_topic(
            bootstrap, [topics.dead_letter(t) for t in CONSUMERS], until=complete, deadline_s=30
        )
        for (topic, _, kind), letter in sorted(letters.items()):
            if kind == "unreadable":
                assert letter.error.startswith("invalid"), letter
                unread = "truncated or over-long" if topic == topics.FEATURES else "JSON"
                assert unread in letter.error, letter
            elif kind == "version":
                assert letter.error == f"unsupported schema_version {UNKNOWN_VERSION}", letter
            assert letter.key in (player.decode(), "points"), letter
        refused = letters[(topics.MODEL_COMMANDS, "trainer-model-commands", "refused")]
        assert base64.b64decode(refused.payload_b64) == sent[-1][3]
        for service in running.values():
            assert service.alive(), service.log_tail()


async def _positive(value) -> bool:
    return await value > 0
