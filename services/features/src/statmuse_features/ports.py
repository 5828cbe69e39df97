"""What the features engine needs from storage, as one interface: PostgreSQL implements it in
`adapters/postgres.py`, the unit tests in memory (`tests/unit/fakes.py`).

Writes report what actually changed, so a replay stores and publishes nothing new. The league
is versioned: each change to a team box takes the next league revision, and revisions become
visible in order, so "every box after revision r" never skips one. Per raw-topic partition and
season the store keeps the engine's progress and stale range (docs/FEATURES.md, "Several
instances"): the latest day whose vectors were computed, the league revision checked against
them, and the first day whose vectors a later team box made stale.
"""

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import NamedTuple, Protocol

from statmuse_shared.contract.messages import (
    AvailabilityReported,
    FeaturesComputed,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.features import PlayerGame, TeamGame, TeamReport

GameKey = tuple[int, str]
"""A stored player game: (player_id, game_key)."""

Progress = dict[tuple[int, str], dt.date]
"""(raw-topic partition, season) -> the latest game day whose vectors are being computed."""


class StaleRange(NamedTuple):
    """A partition's vectors of `season` from `since` on are stale; `version` names the mark
    (clearing it clears only this one, not a mark made since)."""

    partition: int
    season: str
    since: dt.date
    version: int


class History(NamedTuple):
    """A player's whole history in date order, with their latest name."""

    name: str
    games: list[PlayerGame]


class FeatureRepository(Protocol):
    def session(self) -> AbstractAsyncContextManager["FeatureRepository"]:
        """These operations on one connection for the block (one checkout for several calls:
        the engine's hot path keeps its round trips)."""
        ...

    async def store_games(
        self, *, players: Sequence[PlayerGameIngested], teams: Sequence[TeamGameIngested]
    ) -> set[GameKey]:
        """Store a batch's games in one transaction; returns the player games that are new or
        changed. Changed team boxes take the next league revision (a box lacking the points
        it allowed takes them from its opponent's box, and that revision too)."""
        ...

    async def games_without_vectors(
        self, games: Sequence[PlayerGameIngested], *, feature_set_version: str
    ) -> set[GameKey]:
        """Of these games, those that have no game vector: a crash between storing a batch's
        games and storing their vectors leaves exactly these behind."""
        ...

    async def league_revision(self) -> int:
        """The latest league revision: every team box of a revision up to it is visible."""
        ...

    async def team_games(
        self, *, after: int | None = None, upto: int | None = None
    ) -> list[TeamGame]:
        """Complete team boxes (those a rating can use): all, or those whose league revision is
        in (after, upto]; by season, team and day."""
        ...

    async def store_reports(self, reports: Sequence[AvailabilityReported]) -> int:
        """Store who is out for these games (the latest report per game and team); new or
        changed ones take the next league revision. Returns how many changed."""
        ...

    async def reports(
        self, *, after: int | None = None, upto: int | None = None
    ) -> list[TeamReport]:
        """The stored reports: all, or those whose league revision is in (after, upto]."""
        ...

    async def record_progress(self, *, latest: Progress, revision: int) -> None:
        """Vectors of these (partition, season)s up to the day given are being computed with
        the league at `revision` (the latest day only grows; the checked revision only falls:
        checking boxes twice costs a recomputation, skipping one would leave stale vectors)."""
        ...

    async def mark_stale(self, *, partitions: Sequence[int] | None, upto: int) -> None:
        """Check the team boxes and reports of revisions up to `upto` these partitions (None:
        all) have not been checked against: a box of a day before a partition's latest day
        makes its vectors from the next day on stale, a report of a day up to it from that
        day on."""
        ...

    async def stale_ranges(self, *, partitions: Sequence[int] | None) -> list[StaleRange]:
        """The stale ranges of these partitions (None: all), by season and partition."""
        ...

    async def clear_stale(self, *, healed: Sequence[tuple[int, str, int]]) -> None:
        """Clear the (partition, season, version) marks healed; a mark made since stays."""
        ...

    async def histories(self, player_ids: Sequence[int]) -> dict[int, History]:
        """Each of these players' whole history (players without games are left out)."""
        ...

    async def players_with_games_since(self, *, season: str, since: dt.date) -> list[int]:
        """The players with a game of `season` on or after `since`, in id order."""
        ...

    async def all_players(self) -> list[int]:
        """Every player with a stored game, in id order."""
        ...

    async def rostered(self, *, teams: Sequence[str], seasons: Sequence[str]) -> list[int]:
        """The players whose latest stored game of one of these seasons was with one of these
        teams, in id order."""
        ...

    async def last_game_date(self) -> dt.date | None:
        """The latest day with a stored player game."""
        ...

    async def store_vectors(
        self, vectors: Sequence[FeaturesComputed], *, packed: Sequence[bytes] | None = None
    ) -> list[FeaturesComputed]:
        """Store vectors, one per (player, as_of) (`packed`: their stored form, when the caller
        has it already); returns the ones that are new or different (the ones to publish)."""
        ...
