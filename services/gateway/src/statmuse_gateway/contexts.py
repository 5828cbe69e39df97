"""The player-context use case (no HTTP here): a player's recent games, averages, advanced
metrics, opponent and rest before a game, from the cache or built from the read model with the
shared feature code; and a batch of them, run concurrently, each item within its own timeout
and all within the batch budget."""

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from statmuse_gateway.adapters.postgres import UNAVAILABLE
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.schemas import DISCLAIMER, ItemStatus, PlayerContextQuery
from statmuse_gateway.service import ItemFailed, unknown_player
from statmuse_shared.contract.names import normalize_name
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features.context import player_context

log = logging.getLogger(__name__)
T = TypeVar("T")
LEAGUE_SYNC_S = 1.0  # how late a context may see a team box another instance stored


async def context_of(
    rt: GatewayRuntime,
    *,
    name: str,
    game_date: dt.date | None,
    opponent: str | None,
    is_home: bool | None,
) -> dict[str, Any]:
    """The player's context before the game; `ItemFailed` (404) for an unknown name. Cached
    by the request and the league it read: a new box score of the player drops the player's
    entries, and any new team box (every team's ratings and ranks move) makes a new key."""
    try:
        # The boxes other instances stored, at most LEAGUE_SYNC_S late.
        await rt.sync_league(max_age_s=LEAGUE_SYNC_S)
    except UNAVAILABLE as exc:  # PostgreSQL down: a cached answer may still do
        log.warning("league not synced, answering with the one held: %s", exc)
    params = {
        "name": normalize_name(name),
        "game_date": str(game_date),
        "opponent": opponent,
        "is_home": is_home,
        "league": rt.league.fingerprint,
    }
    cached = await rt.context_cache.get(params)
    if cached is not None:
        return cached
    players = await rt.read_model.players_named(name)
    if not players:
        raise unknown_player(name, await rt.read_model.names())
    player = players[0]
    games = await rt.read_model.history(player.player_id)
    value = await asyncio.to_thread(
        player_context,
        player_id=player.player_id,
        player_name=player.player_name,
        history=games,
        league=rt.league,
        game_date=game_date,
        opponent=opponent,
        is_home=is_home,
    )
    await rt.context_cache.put(player.player_id, params, value)
    return value


def view(found: dict[str, Any], stat_type: Stat | None) -> dict[str, Any]:
    """What the endpoint answers: the context, the chosen stat highlighted, the disclaimer."""
    out = dict(found)
    if stat_type is not None:
        out["stat"] = stat_type.value
        out["stat_rolling_averages"] = out["rolling_averages"][stat_type.value]
    out["disclaimer"] = DISCLAIMER
    return out


async def context_for_query(rt: GatewayRuntime, q: PlayerContextQuery) -> dict[str, Any]:
    """One batch item: what GET /api/player_context answers for these parameters."""
    found = await context_of(
        rt, name=q.player_name, game_date=q.game_date, opponent=q.opponent, is_home=q.is_home
    )
    return view(found, q.stat_type)


Outcome = tuple[ItemStatus, T | None, str | None, list[str] | None]


async def attempt(make: Callable[[], Awaitable[T]], *, timeout_s: float) -> Outcome[T]:
    """(status, value, error, suggestions) of one batch item; never raises (bar cancel)."""
    try:
        return "ok", await asyncio.wait_for(make(), timeout_s), None, None
    except ItemFailed as failed:
        return failed.status, None, str(failed), failed.content.get("suggestions") or None
    except TimeoutError:
        return "timeout", None, f"not done within {timeout_s:g} s", None
    except Exception as exc:  # one item's failure must not fail the batch
        log.exception("batch item failed")
        return "error", None, f"could not answer: {type(exc).__name__}", None


async def run_batch(
    makers: Sequence[Callable[[], Awaitable[T]]], *, item_timeout_s: float, budget_s: float
) -> list[Outcome[T]]:
    """Every item concurrently, each within its timeout, all within the batch budget (what is
    not done by then is cancelled and reported as a timeout)."""
    tasks = [asyncio.create_task(attempt(make, timeout_s=item_timeout_s)) for make in makers]
    _, pending = await asyncio.wait(tasks, timeout=budget_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    late = f"batch budget of {budget_s:g} s spent"
    return [("timeout", None, late, None) if task in pending else task.result() for task in tasks]
