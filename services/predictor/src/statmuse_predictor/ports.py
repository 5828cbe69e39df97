"""What the predictor's logic needs from storage, as interfaces: PostgreSQL implements them in
`adapters/postgres.py`, the unit tests in memory."""

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from statmuse_shared.contract.messages import FeaturesComputed, PredictionMade


class Latest(NamedTuple):
    """A player's latest next-game vector, as re-predicted when a model changes."""

    player_id: int
    player_name: str
    as_of: dt.date
    game_date: dt.date | None
    features: dict[str, float | None]


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
