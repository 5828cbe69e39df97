"""Pure gateway logic: player-name suggestions, the in-process map of recent name answers, and
what an item comes to when it is not a result (`ItemFailed`)."""

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from statmuse_gateway.ports import Player
from statmuse_gateway.schemas import ErrorBody, ItemStatus
from statmuse_shared.contract.names import normalize_name


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


PLAYER_TTL_S = 30.0  # known names change once a day; a new player shows up within this
_MAX_NAMES = 10_000


class PlayerNames:
    """The player each normalised name meant when last asked, for `PLAYER_TTL_S` (every
    prediction needs it, a cache hit included). Unknown names are never remembered, so a new
    player is found as soon as the database knows him."""

    def __init__(self, ttl_s: float = PLAYER_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._known: dict[str, tuple[float, Player]] = {}

    def get(self, keys: Iterable[str], *, now: float) -> dict[str, Player | None]:
        """Each normalised name's player, None where it is not known (or has expired)."""
        out: dict[str, Player | None] = {}
        for key in keys:
            seen = self._known.get(key)
            out[key] = seen[1] if seen is not None and seen[0] > now else None
        return out

    def remember(self, found: Mapping[str, Player], *, now: float) -> None:
        if len(self._known) > _MAX_NAMES:
            self._known.clear()
        expires = now + self.ttl_s
        for key, player in found.items():
            self._known[key] = (expires, player)
