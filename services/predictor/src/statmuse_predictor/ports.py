"""What the predictor's logic needs from storage, as interfaces: PostgreSQL implements them in
`adapters/postgres.py`, the unit tests in memory."""

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from statmuse_shared.contract.messages import FeaturesComputed, PredictionMade, PropLinePosted
from statmuse_shared.contract.stats import Stat


class Latest(NamedTuple):
    """A player's latest next-game vector, as re-predicted when a model changes."""

    player_id: int
    player_name: str
    as_of: dt.date
    game_date: dt.date | None
    features: dict[str, float | None]


class Pregame(NamedTuple):
    """A player's pre-game vector for a scheduled game not yet played."""

    player_id: int
    player_name: str
    team: str
    game_date: dt.date
    opponent: str
    is_home: bool
    as_of: dt.date
    data_as_of: dt.date | None
    features: dict[str, float | None]


class Posted(NamedTuple):
    """A book's latest prices for a player's prop in a game."""

    game_key: str
    stat: Stat
    book: str
    line: float
    over_price: int
    under_price: int | None


# A player's game: (player id, game date).
GameOf = tuple[int, dt.date]


class PredictionRepository(Protocol):
    async def keep_latest(self, vectors: Sequence[FeaturesComputed]) -> None:
        """Remember each player's newest next-game vector (an older one never replaces it)."""
        ...

    async def latest(self) -> list[Latest]:
        """Every player's newest next-game vector."""
        ...

    async def store(self, made: Sequence[PredictionMade]) -> None:
        """Keep the predictions (a repeat of one already kept changes nothing)."""
        ...

    async def store_lines(self, lines: Sequence[PropLinePosted]) -> list[GameOf]:
        """Keep each book's latest prices (a later message replaces an earlier one for the same
        player, game, stat and book); returns the player games they are for. Lines without a
        player id are not kept."""
        ...

    async def keep_pregame(self, vectors: Sequence[FeaturesComputed]) -> list[GameOf]:
        """Keep pre-game vectors (kind 'game', no outcome) and drop those whose game has been
        played (its vector with the outcome is among `vectors`); returns the player games
        whose pre-game vector is new or changed."""
        ...

    async def slate(
        self, games: Sequence[GameOf] | None = None
    ) -> list[tuple[Pregame, list[Posted]]]:
        """Each player game with a pre-game vector and at least one posted line, with its
        lines: of `games`, or of every game not yet played."""
        ...
