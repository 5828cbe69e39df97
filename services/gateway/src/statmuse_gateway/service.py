"""Pure gateway logic: player-name suggestions, the in-process maps of recent name answers and
model outputs, what an item comes to when it is not a result (`ItemFailed`), and the checks of
a prop's date and opponent against the schedule."""

import datetime as dt
import difflib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from statmuse_gateway.ports import Player, ScheduledGame, StoredVector
from statmuse_gateway.schemas import ErrorBody, GameInfo, ItemStatus
from statmuse_shared.contract.names import normalize_name
from statmuse_shared.models.output import ModelOutput


def suggest(query: str, names: list[str], *, n: int = 5) -> list[str]:
    """Closest known names to a query (for the 404's suggestions)."""
    by_norm: dict[str, str] = {}
    for name in names:
        by_norm.setdefault(normalize_name(name), name)
    wanted = normalize_name(query)
    close = difflib.get_close_matches(wanted, list(by_norm), n=n, cutoff=0.6)
    # Also offer players sharing a whole word (surname searches like "james").
    words = set(wanted.split())
    partial = [k for k in by_norm if words & set(k.split())] if words else []
    ordered = list(dict.fromkeys([*close, *sorted(partial)]))[:n]
    return [by_norm[k] for k in ordered]


class ItemFailed(Exception):
    """One item's answer is not a result: its batch status and the single endpoint's reply
    (HTTP status, body and headers)."""

    def __init__(
        self,
        status: ItemStatus,
        http_status: int,
        content: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(content["detail"])
        self.status: ItemStatus = status
        self.http_status = http_status
        self.content = content
        self.headers = headers


def unknown_player(name: str, names: list[str]) -> ItemFailed:
    """The 404 for a name no player has, with the closest known names."""
    body = ErrorBody(detail=f"unknown player {name!r}", suggestions=suggest(name, names))
    return ItemFailed("not_found", 404, body.model_dump())


def _failed(status: ItemStatus, http_status: int, detail: str) -> ItemFailed:
    return ItemFailed(status, http_status, ErrorBody(detail=detail).model_dump())


def check_scheduled(
    player: Player, day: dt.date, game: ScheduledGame | None, opponent: str | None
) -> ItemFailed | None:
    """A prop for a date: the player's team must have a game that day, still to be played or
    played, against `opponent` when one is given."""
    who = f"{player.player_name} ({player.team or 'no team'})"
    if game is None or player.team is None:
        return _failed("not_found", 404, f"no scheduled game for {who} on {day}")
    if game.status in ("postponed", "cancelled"):
        return _failed("not_found", 404, f"{game.away} @ {game.home} on {day} is {game.status}")
    against = game.opponent_of(player.team)
    if opponent is not None and opponent != against:
        return _failed("error", 409, f"{who} plays {against} on {day}, not {opponent}")
    return None


def check_served_game(
    player: Player, day: dt.date | None, opponent: str | None, game: GameInfo | None
) -> ItemFailed | None:
    """The vector found must be for the game asked about: on the date given (a later game's
    vector comes once the games before it are played), against the opponent given (checked
    against the schedule's next game when no date is)."""
    who = f"{player.player_name} ({player.team or 'no team'})"
    if day is not None and game is not None and game.game_date != day:
        return _failed(
            "error",
            409,
            f"the vector for {who}'s game on {day} comes once the games before it are "
            f"played; his next game is on {game.game_date}",
        )
    if day is None and opponent is not None:
        if game is None:
            return _failed(
                "error",
                409,
                f"the schedule has no next game for {who} to check opponent {opponent} "
                "against: leave it out, or give game_date",
            )
        if game.opponent != opponent:
            return _failed(
                "error",
                409,
                f"{who}'s next game is against {game.opponent} on {game.game_date}, not {opponent}",
            )
    return None


PLAYER_TTL_S = 30.0  # known names change once a day; a new player shows up within this
RECENT_VECTOR_TTL_S = 60.0  # the most a vector is reused for when its cache generation is lost
# While PostgreSQL is down, a name or vector entry past its TTL still answers for this long:
# the alternative is a 503, and nothing new can reach the read model meanwhile anyway. Without
# it, whether a player asked a second ago got an answer depended on when his entry was read.
STALE_IF_DOWN_S = 600.0
_MAX_NAMES = 10_000


class PlayerNames:
    """The player each normalised name meant when last asked, for `PLAYER_TTL_S` (every
    prediction needs it, a cache hit included). Unknown names are never remembered, so a new
    player is found as soon as the database knows him."""

    def __init__(self, ttl_s: float = PLAYER_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._known: dict[str, tuple[float, Player]] = {}

    def get(
        self, keys: Iterable[str], *, now: float, stale_s: float = 0.0
    ) -> dict[str, Player | None]:
        """Each normalised name's player, None where it is not known (or expired more than
        `stale_s` ago: `STALE_IF_DOWN_S` while PostgreSQL is down)."""
        out: dict[str, Player | None] = {}
        for key in keys:
            seen = self._known.get(key)
            out[key] = seen[1] if seen is not None and seen[0] + stale_s > now else None
        return out

    def remember(self, found: Mapping[str, Player], *, now: float) -> None:
        if len(self._known) > _MAX_NAMES:
            self._known.clear()
        expires = now + self.ttl_s
        for key, player in found.items():
            self._known[key] = (expires, player)


class Outputs:
    """The model outputs computed lately, by (model version, vector event id): an output
    depends on the vector and the model, not on the line or the odds, so a user trying lines
    (or a slate pricing every book's) pays for the model once. Bounded; least recently used
    first out. Shared by the worker threads that compute answers."""

    def __init__(self, capacity: int = 5_000) -> None:
        self.capacity = capacity
        self._outputs: OrderedDict[tuple[str, str], ModelOutput] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> ModelOutput | None:
        with self._lock:
            output = self._outputs.get(key)
            if output is not None:
                self._outputs.move_to_end(key)
            return output

    def put(self, key: tuple[str, str], output: ModelOutput) -> None:
        with self._lock:
            self._outputs[key] = output
            self._outputs.move_to_end(key)
            while len(self._outputs) > self.capacity:
                self._outputs.popitem(last=False)


class RecentVectors:
    """The read model's vectors lately read, by (the cache generation they were read under,
    the game date). The generation is the prefix of a prediction's cache key
    (`ports.cache_generation`): it names the player and changes as soon as he has a new
    vector (the handler bumps it after storing the vector), so an uncached prediction of a
    known player needs no database trip. A bump can be lost (Redis down when the vector came,
    or restarted without its data, or the counter evicted), so an entry also lives at most
    `ttl_s`: how stale an answer can then be (and, while PostgreSQL is down,
    `STALE_IF_DOWN_S` more). Bounded; least recently used first out; on the event loop only."""

    def __init__(
        self,
        capacity: int = 20_000,
        ttl_s: float = RECENT_VECTOR_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.ttl_s = ttl_s
        self.clock = clock
        self._vectors: OrderedDict[tuple[str, dt.date | None], tuple[float, StoredVector]] = (
            OrderedDict()
        )

    def get(self, key: tuple[str, dt.date | None], *, stale_s: float = 0.0) -> StoredVector | None:
        """The vector under `key` unless it expired more than `stale_s` ago (an entry is kept
        `STALE_IF_DOWN_S` past its TTL, for when PostgreSQL is down)."""
        found = self._vectors.get(key)
        if found is None:
            return None
        now = self.clock()
        if found[0] + STALE_IF_DOWN_S <= now:
            del self._vectors[key]
            return None
        if found[0] + stale_s <= now:
            return None
        self._vectors.move_to_end(key)
        return found[1]

    def put(self, key: tuple[str, dt.date | None], vector: StoredVector) -> None:
        self._vectors[key] = (self.clock() + self.ttl_s, vector)
        self._vectors.move_to_end(key)
        while len(self._vectors) > self.capacity:
            self._vectors.popitem(last=False)
