"""The ingestor's side of Kafka: it consumes nothing and publishes two topics, declared here on
a router so the AsyncAPI document lists them.

A module of its own rather than `handlers.py` (the other services' name): with no subscriber
there is no handler; the application code that publishes (`backfill`) receives the
publishers through the runtime.
"""

from dataclasses import dataclass

from faststream.kafka import KafkaRouter
from faststream.kafka.publisher.usecase import DefaultPublisher

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import DeadLetter, RawGame
from statmuse_shared.platform.consumers import publisher

SERVICE = "ingestor"


@dataclass(frozen=True)
class Channels:
    router: KafkaRouter
    games: DefaultPublisher  # nba.games.raw.v1
    rejects: DefaultPublisher  # nba.games.raw.v1.dlq


def channels() -> Channels:
    router = KafkaRouter()
    games = publisher(
        router,
        topics.GAMES_RAW,
        payload=RawGame,
        service=SERVICE,
        description="Every validated box score, a player's (key: player id) or a team's (key: "
        "team:<abbreviation>), published in game-date order once it is stored; a corrected "
        "row is published again with a new event id.",
    )
    rejects = publisher(
        router,
        topics.dead_letter(topics.GAMES_RAW),
        payload=DeadLetter,
        service=SERVICE,
        description="Source rows the ingestor rejected (key: rejected): the reason and the "
        "record as received.",
    )
    return Channels(router, games, rejects)


def asyncapi_router() -> KafkaRouter:
    """The channels, for the AsyncAPI document."""
    return channels().router
