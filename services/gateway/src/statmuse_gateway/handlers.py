"""Thin subscribers that keep the gateway's read models: box scores (player context and the
league's ratings), feature vectors (predictions), the schedule (the games a prediction can be
for), the priced props of the games to come (the slate) and the models it serves (every
instance sees all); plus the one topic it publishes to, the model commands of the admin
routes."""

import asyncio
from dataclasses import dataclass

from faststream.kafka import KafkaRouter
from faststream.kafka.publisher.usecase import DefaultPublisher

from statmuse_gateway import metrics
from statmuse_gateway.runtime import Runtime
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    AbTestReported,
    FeaturesComputed,
    GameScheduled,
    ModelAliasRequested,
    ModelPublished,
    PlayerGameIngested,
    PropPriced,
    RawGame,
    TeamGameIngested,
    split_games,
)
from statmuse_shared.platform.consumers import (
    batch_subscriber,
    consumer_router,
    publisher,
    vectors_subscriber,
)


async def on_raw_games(games: list[PlayerGameIngested | TeamGameIngested], rt: Runtime) -> None:
    """Box scores into the read model, together; the league learns the new team boxes (these
    and what other instances stored meanwhile), and exactly the players these games touch
    lose their cached context."""
    players, teams = split_games(games)  # a team box comes once per partition consumed
    touched, team_games = await rt.read_model.store_games(players, teams)
    if team_games:
        await rt.sync_league()
    await rt.context_cache.invalidate(touched)
    metrics.GAMES.inc(len(games))


async def on_features(vectors: list[FeaturesComputed], rt: Runtime) -> None:
    """Vectors into the read model; a new vector changes its player's predictions, so exactly
    theirs are dropped from the cache."""
    await rt.read_model.store_vectors(vectors)
    await rt.prediction_cache.invalidate_players(v.player_id for v in vectors)
    metrics.VECTORS.inc(len(vectors))


async def on_schedule(games: list[GameScheduled], rt: Runtime) -> None:
    """The schedule into the read model: what a prediction for a date or an opponent is
    checked against."""
    await rt.read_model.store_schedule(games)


async def on_props(props: list[PropPriced], rt: Runtime) -> None:
    """The predictor's priced props into the slate (GET /api/slate, the Tonight page)."""
    await rt.read_model.store_props(props)
    metrics.PROPS.inc(len(props))


async def on_model_published(events: list[ModelPublished], rt: Runtime) -> None:
    """Each model into the book (what is served) and the read model (what GET /api/models
    lists); then every cached prediction is orphaned."""
    for event in events:
        await asyncio.to_thread(rt.book.apply, event)  # reads the artifact file
        await rt.read_model.store_model(event)
    # After the book swapped: a prediction cached from now on is the new model's. Keys also
    # carry the model version, so a missed drop (Redis down) still serves no stale model.
    await rt.prediction_cache.invalidate_all()
    metrics.MODELS_SERVED.set(len(rt.book.production))


async def on_ab_tests(reports: list[AbTestReported], rt: Runtime) -> None:
    """The trainer's A/B reports into the read model (GET /api/models/{stat}/ab)."""
    await rt.read_model.store_ab_tests(reports)


@dataclass(frozen=True)
class Channels:
    """The gateway's side of Kafka: its subscribers (on `router`) and what it publishes."""

    router: KafkaRouter
    model_commands: DefaultPublisher


def channels(settings: GatewaySettings) -> Channels:
    router = consumer_router()
    model_commands = publisher(
        router,
        topics.MODEL_COMMANDS,
        payload=ModelAliasRequested,
        service="gateway",
        description="An admin's request to promote or roll back a serving key's model (key: "
        "the serving key), carried out by the trainer.",
    )
    batch_subscriber(
        router, topics.GAMES_RAW, group_id=f"{settings.group_id}-games", payload=RawGame
    )(on_raw_games)
    vectors_subscriber(
        router,
        group_id=settings.group_id,
        description="Stored in the gateway's read model; a player's new vector drops his "
        "cached predictions.",
    )(on_features)
    batch_subscriber(
        router, topics.SCHEDULE, group_id=f"{settings.group_id}-schedule", payload=GameScheduled
    )(on_schedule)
    batch_subscriber(
        router, topics.PROPS_PRICED, group_id=f"{settings.group_id}-props", payload=PropPriced
    )(on_props)
    # A group of its own per instance, read from the start: every instance serves every model.
    batch_subscriber(
        router,
        topics.MODELS_PUBLISHED,
        group_id=f"{settings.group_id}-models",
        per_instance=True,
        payload=ModelPublished,
    )(on_model_published)
    batch_subscriber(
        router, topics.AB_TESTS, group_id=f"{settings.group_id}-ab", payload=AbTestReported
    )(on_ab_tests)
    return Channels(router, model_commands)


def asyncapi_router() -> KafkaRouter:
    """The channels as declared with default settings, for the AsyncAPI document."""
    return channels(GatewaySettings.model_construct()).router
