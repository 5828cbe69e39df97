"""Thin subscribers: models in (every instance sees all), features and the books' lines in
(split by the group), predictions and priced props out."""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from faststream.kafka import KafkaRouter
from faststream.kafka.publisher.usecase import DefaultPublisher

from statmuse_predictor import metrics
from statmuse_predictor.ports import GameOf, Latest
from statmuse_predictor.runtime import PredictorRuntime, Runtime
from statmuse_predictor.service import Routed, predictions_for_many, price_props, routing_date
from statmuse_predictor.settings import PredictorSettings
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    ModelPublished,
    PredictionMade,
    PropLinePosted,
    PropPriced,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.broker import publish_many
from statmuse_shared.platform.consumers import (
    batch_subscriber,
    consumer_router,
    publisher,
    vectors_subscriber,
)


async def on_model_published(events: list[ModelPublished], rt: Runtime) -> None:
    """A new production model (or A/B challenger) re-predicts every player's next game for its
    stat, routed by the same (player, date) as the first prediction."""
    for event in events:
        if not await asyncio.to_thread(rt.book.apply, event):  # reads the artifact file
            continue
        metrics.MODELS_LOADED.set(len(rt.book.production))
        metrics.CHALLENGERS_LOADED.set(len(rt.book.staging))
        latest = await rt.predictions.latest()
        # Every player's next game through the model: CPU work, off the event loop.
        made = await asyncio.to_thread(_predict, rt, latest, (event.stat,))
        await _publish(rt, made)
        await _price(rt, None)  # every posted line of the games to come


async def on_features(vectors: list[FeaturesComputed], rt: Runtime) -> None:
    """Each player's next-game vector is kept (for re-predictions) and predicted for every
    stat; vectors of games already played (kind "game") are training data, not predictions.
    Of a player's next-game vectors in one batch only the newest is predicted: the others are
    superseded already (a backlog brings one per game he played)."""
    upcoming = newest_per_player(v for v in vectors if v.kind == "next")
    await rt.predictions.keep_latest(upcoming)
    rows = [
        Latest(v.player_id, v.player_name, v.as_of, routing_date(v), v.features) for v in upcoming
    ]
    made = await asyncio.to_thread(_predict, rt, rows, tuple(Stat))  # the model is CPU work
    await _publish(rt, made)
    # Pre-game vectors (kind "game", no outcome) price their game's posted lines.
    changed = await rt.predictions.keep_pregame(vectors)
    if changed:
        await _price(rt, changed)
    metrics.VECTORS.inc(len(vectors))


def newest_per_player(vectors: Iterable[FeaturesComputed]) -> list[FeaturesComputed]:
    """Each player's vector with the latest `as_of` (of equal ones, the later in the batch)."""
    newest: dict[int, FeaturesComputed] = {}
    for v in vectors:
        kept = newest.get(v.player_id)
        if kept is None or v.as_of >= kept.as_of:
            newest[v.player_id] = v
    return list(newest.values())


async def on_lines(lines: list[PropLinePosted], rt: Runtime) -> None:
    """The books' lines are kept (the latest prices per book) and their games' props priced
    again, once the player's pre-game vector is here (else when it comes)."""
    games = await rt.predictions.store_lines(lines)
    metrics.LINES.inc(len(lines))
    if games:
        await _price(rt, games)


async def _price(rt: PredictorRuntime, games: list[GameOf] | None) -> None:
    """Price the posted lines of these player games (None: of every game to come)."""
    slate = await rt.predictions.slate(games)
    if not slate:
        return
    priced: list[PropPriced] = await asyncio.to_thread(
        lambda: [p for vector, posted in slate for p in price_props(rt.book, vector, posted)]
    )
    await publish_many(rt.publish_props, [(topics.player_key(p.player_id), p) for p in priced])
    for p in priced:
        metrics.PROPS_PRICED.labels(p.stat.value).inc()


def _predict(rt: PredictorRuntime, rows: list[Latest], stats: tuple[Stat, ...]) -> list[Routed]:
    """Each player's next game through the served models of `stats`, routed by (player,
    game date) as `ModelBook.route` decides."""
    return predictions_for_many(rt.book, rows, stats)


async def _publish(rt: PredictorRuntime, routed: list[Routed]) -> None:
    if not routed:
        return
    made: list[PredictionMade] = [r.prediction for r in routed]
    await rt.predictions.store(made)
    await publish_many(rt.publish_predictions, [(topics.player_key(p.player_id), p) for p in made])
    for r in routed:
        p = r.prediction
        metrics.PREDICTIONS.labels(p.stat.value).inc()
        metrics.PREDICTIONS_BY_VERSION.labels(p.stat.value, p.model_version, r.arm).inc()


@dataclass(frozen=True)
class Channels:
    """The predictor's side of Kafka: its subscribers (on `router`) and what it publishes."""

    router: KafkaRouter
    predictions: DefaultPublisher
    props: DefaultPublisher


def channels(settings: PredictorSettings) -> Channels:
    router = consumer_router()
    predictions = publisher(
        router,
        topics.PREDICTIONS,
        payload=PredictionMade,
        service="predictor",
        description="A prediction for a player's next game, per stat (key: player id), "
        "whenever the player's vector or the stat's production model changes.",
    )
    props = publisher(
        router,
        topics.PROPS_PRICED,
        payload=PropPriced,
        service="predictor",
        description="A posted prop line of an upcoming game priced at every book (key: player "
        "id): our P(over), each book's EV, the books' de-vigged P(over), the edge and the best "
        "price that is not an outlier; again when the line, the vector or the model changes.",
    )
    # A group of its own per instance, read from the start: every instance serves every model.
    batch_subscriber(
        router,
        topics.MODELS_PUBLISHED,
        group_id=f"{settings.group_id}-models",
        per_instance=True,
        payload=ModelPublished,
    )(on_model_published)
    vectors_subscriber(
        router,
        group_id=settings.group_id,
        description="Next-game vectors are kept and predicted for every stat; pre-game "
        "vectors of scheduled games price their posted lines.",
    )(on_features)
    batch_subscriber(
        router, topics.LINES, group_id=f"{settings.group_id}-lines", payload=PropLinePosted
    )(on_lines)
    return Channels(router, predictions, props)


def asyncapi_router() -> KafkaRouter:
    """The channels as declared with default settings, for the AsyncAPI document."""
    return channels(PredictorSettings.model_construct()).router
