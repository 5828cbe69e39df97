"""Player context: what a bettor looks at before a game, built from the same state and
definitions as the feature vectors (so the numbers on the page match what the model saw)."""

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from statmuse_shared.contract.stats import PARTS, Stat
from statmuse_shared.features.player import Features, GameContext, PlayerGame, PlayerState
from statmuse_shared.features.teams import League

# Every stat the models predict, and minutes.
STAT_KEYS = (*(s.value for s in Stat), "minutes")


@dataclass(frozen=True, slots=True)
class Shooting:
    """Box-score extras for advanced metrics; None in seasons the source lacks them."""

    fga: int | None
    fta: int | None
    tov: int | None


def _rolling(vector: Features, stat: str, window: int) -> float | None:
    """The stat's mean over the last `window` games, as the model saw it: the vector's own
    feature, or for a sum of stats without features of its own the sum of its parts' (over
    the same games: the parts come from one box score)."""
    name = f"{stat}_sma_{window}"
    if name in vector or stat not in PARTS:
        return vector[name]
    parts = [vector[f"{p}_sma_{window}"] for p in PARTS[stat]]
    return None if None in parts else math.fsum(p for p in parts if p is not None)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def player_context(
    *,
    player_id: int,
    player_name: str,
    history: list[tuple[PlayerGame, Shooting]],
    league: League | None,
    game_date: dt.date | None = None,
    opponent: str | None = None,
    is_home: bool | None = None,
    recent: int = 5,
) -> dict[str, Any]:
    """Context for a player's game on `game_date` (default: the day after the last game),
    using only games before that day."""
    day = game_date or (history[-1][0].game_date + dt.timedelta(days=1) if history else None)
    before = [(g, s) for g, s in history if day is None or g.game_date < day]
    state = PlayerState()
    for g, _ in before:
        rank = league.rank(g.opponent, g.season, g.game_date) if league else None
        state.add(g, opponent_rank=rank)
    last = before[-1][0] if before else None
    season = last.season if last else None
    ctx = None
    if day is not None and opponent and last is not None:
        home = last.is_home if is_home is None else is_home
        ctx = GameContext(day, season or "", "Regular Season", last.team, opponent, home)
    vector = state.vector(ctx, league=league)
    this_season = [(g, s) for g, s in before if g.season == season]
    averages = {
        stat: _mean([v for g, _ in this_season if (v := g.value(stat)) is not None])
        for stat in STAT_KEYS
    }
    pts = math.fsum(g.points for g, s in this_season if s.fga is not None and s.fta is not None)
    shots = math.fsum(
        2 * (s.fga + 0.44 * s.fta)
        for _, s in this_season
        if s.fga is not None and s.fta is not None
    )
    usage = [
        (s.fga + 0.44 * s.fta + s.tov, g.minutes)
        for g, s in this_season
        if s.fga is not None and s.fta is not None and s.tov is not None and g.minutes > 0
    ]
    opponent_info = None
    if opponent and league is not None and season and day is not None:
        rating = league.rating(opponent, season, day)
        opponent_info = {
            "team": opponent,
            "defensive_rating": rating.defensive_rating if rating else None,
            "pace": rating.pace if rating else None,
            "defensive_rank": league.rank(opponent, season, day),
            "games": rating.games if rating else 0,
        }
    return {
        "player_id": player_id,
        "player_name": player_name,
        "team": last.team if last else None,
        "as_of": day.isoformat() if day else None,
        "season": season,
        "games_played_season": len(this_season),
        "recent_games": [
            {
                "game_date": g.game_date.isoformat(),
                "opponent": g.opponent,
                "home": g.is_home,
                "minutes": g.minutes,
                "points": g.points,
                "rebounds": g.rebounds,
                "assists": g.assists,
                "threes": g.threes,
                "steals": g.steals,
                "blocks": g.blocks,
                "turnovers": g.turnovers,
            }
            for g, _ in reversed(before[-recent:])
        ],
        "season_averages": averages,
        "rolling_averages": {
            stat: {f"last_{w}": _rolling(vector, stat, w) for w in (3, 5, 10)} for stat in STAT_KEYS
        },
        "advanced": {
            "true_shooting": pts / shots if shots > 0 else None,
            "usage_proxy_per_36": (
                36 * math.fsum(u for u, _ in usage) / math.fsum(m for _, m in usage)
                if usage
                else None
            ),
        },
        "opponent": opponent_info,
        "context": {
            "days_rest": vector["days_rest"],
            "back_to_back": vector["back_to_back"],
            "games_last_7_days": vector["games_last_7_days"],
            "tz_shift_hours": vector["tz_shift_hours"],
            "at_altitude": vector["at_altitude"],
            "vs_opponent_games": vector["vs_opp_games"],
            "points_vs_opponent_avg": vector["points_vs_opp_avg"],
        },
    }
