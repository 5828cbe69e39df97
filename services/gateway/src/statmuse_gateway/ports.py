"""What the gateway's logic needs from storage, as interfaces: PostgreSQL and Redis implement
them in `adapters/`, the unit tests in memory."""

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from statmuse_shared.contract.messages import (
    AbTestReported,
    FeaturesComputed,
    GameScheduled,
    ModelPublished,
    PlayerGameIngested,
    PropPriced,
    TeamGameIngested,
)
from statmuse_shared.contract.vectors import from_stored
from statmuse_shared.features import PlayerGame, TeamGame
from statmuse_shared.features.context import Shooting

if TYPE_CHECKING:  # the adapter module implements `ApiKeys` below and imports this one
    from statmuse_gateway.adapters.apikeys import ApiKey, DailyLimit


class Player(NamedTuple):
    player_id: int
    player_name: str
    team: str | None


class StoredModel(NamedTuple):
    """A model the gateway has heard of: its ModelPublished as JSON text, its alias now."""

    payload: str
    alias: str
    updated_at: dt.datetime


class StoredVector(NamedTuple):
    """A vector as the read model keeps it."""

    as_of: dt.date
    # Its values, parsed by the caller off the event loop (`values`): packed (bytes, this
    # code's feature set), or the JSON text of a row stored before vectors were packed.
    features: bytes | str
    game: str | None  # the GameRef's JSON when the vector is for a known game
    data_as_of: dt.date | None  # the last game it includes
    event_id: str  # names the vector's values: a model's output on it is reused by this key

    def values(self) -> dict[str, float | None]:
        """The named features."""
        return from_stored(self.features)


class ScheduledGame(NamedTuple):
    """A game on the schedule, as the read model keeps it."""

    game_id: str
    game_date: dt.date
    home: str
    away: str
    status: str  # scheduled, postponed, cancelled, final

    def opponent_of(self, team: str) -> str:
        return self.away if team == self.home else self.home


# For each (player_id, game_date): the latest vector usable for that game.
Vectors = dict[tuple[int, dt.date | None], StoredVector]


class ReadModel(Protocol):
    """The gateway's own read models: players and their feature vectors, box scores for
    player context, and the models it has heard of."""

    async def store_vectors(self, vectors: Sequence[FeaturesComputed]) -> None:
        """Keep each vector (a replay changes nothing) and the player it names."""
        ...

    async def store_schedule(self, games: Sequence[GameScheduled]) -> None:
        """Keep each game as last published (a replay changes nothing)."""
        ...

    async def games_of(
        self, wanted: Sequence[tuple[str, dt.date]]
    ) -> dict[tuple[str, dt.date], ScheduledGame]:
        """For each (team, date), the team's game that day, if the schedule has one."""
        ...

    async def store_model(self, event: ModelPublished) -> None: ...

    async def store_ab_tests(self, reports: Sequence[AbTestReported]) -> None:
        """Keep each stat's newest A/B report (an older one arriving late changes nothing)."""
        ...

    async def ab_tests(self) -> list[str]:
        """Every stat's A/B report as its AbTestReported JSON, by stat."""
        ...

    async def store_props(self, props: Sequence[PropPriced]) -> None:
        """Keep each priced prop (the latest per player, game, stat and line) and drop the
        player's props of that stat and game at lines no book posts any more."""
        ...

    async def slate(
        self, day: dt.date, *, stat: str | None, team: str | None, min_edge: float, limit: int
    ) -> list[str]:
        """That day's priced props as their PropPriced JSON, the largest |edge| first: of one
        stat or team when given, with |edge| at least `min_edge`."""
        ...

    async def slate_dates(self) -> list[dt.date]:
        """Every date with priced props, in order."""
        ...

    async def store_games(
        self, players: Sequence[PlayerGameIngested], teams: Sequence[TeamGameIngested]
    ) -> tuple[set[int], list[TeamGame]]:
        """Keep box scores, together: the players whose games are new or changed, and the
        complete team boxes that are."""
        ...

    async def team_games_since(self, version: int) -> tuple[list[TeamGame], int]:
        """The complete team boxes any instance stored after league version `version` (0:
        every one), and the version they bring the reader to."""
        ...

    async def players_named(self, name: str) -> list[Player]:
        """The players with this name (normalised), the one seen last first."""
        ...

    async def players_by_names(self, normalized_names: Sequence[str]) -> dict[str, Player]:
        """For each of these normalised names that is known, the player seen last."""
        ...

    async def names(self) -> list[str]:
        """Every known player's name (for suggestions)."""
        ...

    async def vectors_for(self, wanted: Sequence[tuple[int, dt.date | None]]) -> Vectors:
        """For each (player_id, game_date), the latest vector with as_of <= game_date (no
        date: the latest); pairs without one are absent."""
        ...

    async def history(self, player_id: int) -> list[tuple[PlayerGame, Shooting]]:
        """The player's box scores in date order."""
        ...

    async def models(self) -> list[StoredModel]: ...


class ContextCache(Protocol):
    """Player context by request; any failure is a miss (or a skipped write)."""

    async def get(self, params: dict[str, Any]) -> dict[str, Any] | None: ...

    async def put(self, player_id: int, params: dict[str, Any], value: dict[str, Any]) -> None: ...

    async def invalidate(self, player_ids: Iterable[int]) -> int:
        """Drop the cached context of exactly these players."""
        ...


def cache_generation(key: str) -> str:
    """A prediction cache key is `<prefix>:<digest of the inputs>`; its prefix names the player
    and the cache generations it was made under, which change when he gets a new vector (or
    a model changes). What is keyed by it is as fresh as the predictions."""
    return key.rpartition(":")[0]


class PredictionCache(Protocol):
    """Predictions as the JSON bytes sent, by every input and the model version; any failure
    is a miss. Keys are `<prefix>:<digest>` (`cache_generation`)."""

    async def lookup(
        self, wanted: Sequence[tuple[int, dict[str, Any]]]
    ) -> list[tuple[str | None, bytes | None]]:
        """(key, cached JSON or None) for each (player_id, params), in one round trip; the
        key (None when the cache is unavailable) is where `put` stores a computed answer."""
        ...

    async def put(self, entries: Sequence[tuple[str | None, bytes]]) -> None: ...

    async def invalidate_all(self) -> bool:
        """Orphan every cached prediction (a model changed)."""
        ...

    async def invalidate_players(self, player_ids: Iterable[int]) -> bool:
        """Orphan these players' cached predictions (their features changed)."""
        ...


class KeysUnavailableError(RuntimeError):
    """The key table could not be read (the database is not open, or it is down)."""


class ApiKeys(Protocol):
    async def authenticate(self, token: str) -> "ApiKey | None":
        """The key behind a token (revoked ones included), None when it is not a key of ours;
        `KeysUnavailableError` when that cannot be said now."""
        ...

    async def change_daily_limit(
        self, key_id: str, wanted: int | None, now: dt.datetime
    ) -> "DailyLimit | None":
        """The key's daily limit after its holder asks for `wanted` (`DailyLimit.set_to`, done
        atomically); None: no such key. `KeysUnavailableError` when it cannot be done."""
        ...

    async def spend(self, key_id: str, day: dt.date, n: int, limit: int) -> tuple[bool, int]:
        """Count `n` predictions of the key on `day` if they fit within `limit`, atomically:
        (counted, the day's count). `KeysUnavailableError` when it cannot."""
        ...

    async def used_on(self, key_id: str, day: dt.date) -> int:
        """The key's count of predictions on `day`."""
        ...


class CounterUnavailableError(RuntimeError):
    """The rate-limit counter could not be reached."""


class WindowCounter(Protocol):
    async def count(self, key: str, expire_s: int) -> int:
        """Add one to `key`'s counter (which expires `expire_s` after its first count) and
        return it; `CounterUnavailableError` when it cannot."""
        ...
