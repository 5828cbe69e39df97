"""Kafka topic names. A breaking change to a message is a new versioned topic, never an edit."""

from typing import Final

GAMES_RAW: Final = "nba.games.raw.v1"
# The schedule: one message per game id, again whenever the game changes (date, status).
SCHEDULE: Final = "nba.schedule.v1"
# Who is out for a game, per team: again whenever the list changes.
AVAILABILITY: Final = "nba.availability.v1"
# The books' prop lines: again whenever a book moves one.
LINES: Final = "nba.lines.v1"
# Packed feature vectors (contract.vectors), not JSON: v1 carried them as JSON, ~6 KB each.
FEATURES: Final = "nba.features.v2"
MODELS_PUBLISHED: Final = "nba.models.published.v1"
PREDICTIONS: Final = "nba.predictions.v1"
# Every posted prop line of an upcoming game, priced at each book (key: player id).
PROPS_PRICED: Final = "nba.props.priced.v1"
TRAIN_REQUESTS: Final = "nba.train.requests.v1"
# Commands to move a serving key's aliases (promote, rollback); the trainer owns the registry.
MODEL_COMMANDS: Final = "nba.models.commands.v1"
# Where each stat's A/B test stands (the trainer settles both arms; key: stat).
AB_TESTS: Final = "nba.models.ab.v1"

ALL: Final[tuple[str, ...]] = (
    GAMES_RAW,
    SCHEDULE,
    AVAILABILITY,
    LINES,
    FEATURES,
    MODELS_PUBLISHED,
    PREDICTIONS,
    PROPS_PRICED,
    TRAIN_REQUESTS,
    MODEL_COMMANDS,
    AB_TESTS,
)
DEFAULT_PARTITIONS: Final = 6


def dead_letter(topic: str) -> str:
    """The dead-letter topic for messages a consumer of `topic` cannot process."""
    return f"{topic}.dlq"


def all_with_dead_letters() -> tuple[str, ...]:
    return ALL + tuple(dead_letter(t) for t in ALL)


def player_key(player_id: int) -> bytes:
    return str(player_id).encode()


def team_key(team: str) -> bytes:
    return f"team:{team}".encode()


def unmatched_player_key(normalised_name: str) -> bytes:
    """A prop line's key when its name matches no player yet."""
    return f"name:{normalised_name}".encode()


def game_key_key(game_key: str) -> bytes:
    """Availability's key: the game key, so both teams' lists of a game stay in order."""
    return game_key.encode()


def game_id_key(game_id: str) -> bytes:
    """The schedule's key: the NBA game id, so a game's updates stay in order."""
    return game_id.encode()
