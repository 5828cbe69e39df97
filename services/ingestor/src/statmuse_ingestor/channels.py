"""The ingestor's side of Kafka: it consumes nothing and publishes the box scores, the schedule,
availability, prop lines and the rows it rejected from each, declared here on a router so the
AsyncAPI document lists them.

A module of its own rather than `handlers.py` (the other services' name): with no subscriber
there is no handler; the application code that publishes (`backfill`) receives the
publishers through the runtime.
"""

from dataclasses import dataclass

from faststream.kafka import KafkaRouter
from faststream.kafka.publisher.usecase import DefaultPublisher

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    AvailabilityReported,
    DeadLetter,
    GameScheduled,
    PropLinePosted,
    RawGame,
)
from statmuse_shared.platform.consumers import publisher

SERVICE = "ingestor"


@dataclass(frozen=True)
class Channels:
    router: KafkaRouter
    games: DefaultPublisher  # nba.games.raw.v1
    rejects: DefaultPublisher  # nba.games.raw.v1.dlq
    schedule: DefaultPublisher  # nba.schedule.v1
    schedule_rejects: DefaultPublisher  # nba.schedule.v1.dlq
    availability: DefaultPublisher  # nba.availability.v1
    availability_rejects: DefaultPublisher  # nba.availability.v1.dlq
    lines: DefaultPublisher  # nba.lines.v1
    lines_rejects: DefaultPublisher  # nba.lines.v1.dlq


def channels() -> Channels:
    router = KafkaRouter()
    games = publisher(
        router,
        topics.GAMES_RAW,
        payload=RawGame,
        service=SERVICE,
        description="Every validated box score, a player's (key: player id, on that key's "
        "partition) or a team's (key: team:<abbreviation>, a copy on every partition), "
        "published in game-date order once it is stored, a day's players before its teams; "
        "a corrected row is published again with a new event id. Each partition thus holds "
        "every team box before its players' later games; a consumer of several partitions "
        "gets a team box once from each (same event id).",
    )
    rejects = publisher(
        router,
        topics.dead_letter(topics.GAMES_RAW),
        payload=DeadLetter,
        service=SERVICE,
        description="Source rows the ingestor rejected (key: rejected): the reason and the "
        "record as received.",
    )
    schedule = publisher(
        router,
        topics.SCHEDULE,
        payload=GameScheduled,
        service=SERVICE,
        description="The schedule (key: game id): every regular-season, play-in, playoff and "
        "Cup-final game, published when first seen and again whenever it changes (date, "
        "tip-off, status: postponed, cancelled, final). The latest message per key is the "
        "game; the topic is compacted.",
    )
    schedule_rejects = publisher(
        router,
        topics.dead_letter(topics.SCHEDULE),
        payload=DeadLetter,
        service=SERVICE,
        description="Schedule rows the ingestor rejected (key: rejected): the reason and the "
        "record as received.",
    )
    availability = publisher(
        router,
        topics.AVAILABILITY,
        payload=AvailabilityReported,
        service=SERVICE,
        description="Who is out, or may be, for each team in each game (key: the game key): "
        "published when first known and again whenever a team's list changes; the latest "
        "message per game and team is its list. From the files source, a stand-in derived "
        "from the box scores (rotation players missing from the game's box score).",
    )
    availability_rejects = publisher(
        router,
        topics.dead_letter(topics.AVAILABILITY),
        payload=DeadLetter,
        service=SERVICE,
        description="Availability rows the ingestor rejected (key: rejected): every row of the "
        "team's list, the reason and the record as received.",
    )
    lines = publisher(
        router,
        topics.LINES,
        payload=PropLinePosted,
        service=SERVICE,
        description="The books' player-prop lines (key: the player id, or name:<normalised "
        "name> for a name no box score matches yet): published when a book posts a line and "
        "again when it moves it; the latest message per odds event, player, stat and book is "
        "that book's line. From the bundled prop_lines files or The Odds API.",
    )
    lines_rejects = publisher(
        router,
        topics.dead_letter(topics.LINES),
        payload=DeadLetter,
        service=SERVICE,
        description="Prop-line rows the ingestor rejected (key: rejected): the reason and the "
        "record as received.",
    )
    return Channels(
        router,
        games,
        rejects,
        schedule,
        schedule_rejects,
        availability,
        availability_rejects,
        lines,
        lines_rejects,
    )


def asyncapi_router() -> KafkaRouter:
    """The channels, for the AsyncAPI document."""
    return channels().router
