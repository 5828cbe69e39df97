"""Pure feature logic: a player's games before a date -> the vector for the next game.

One implementation serves batch (a whole history) and streaming (one more game): both call
`features_after` on the games strictly before `as_of`, so nothing from the game day or later can
enter a feature. Windows count games that have the stat; `*_games_in_window_*` says how many
stand behind each mean, so a short history is explicit, never a silent zero.
"""

import datetime as dt
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from statmuse_shared import ids
from statmuse_shared.messages import FeaturesComputed, PlayerGameIngested, StatLine

FEATURE_SET_VERSION = "fs-0.1"
STATS = ("points", "rebounds", "assists", "threes", "pra", "minutes")
WINDOWS = (5, 10)


@dataclass(frozen=True, slots=True)
class GameRow:
    game_date: dt.date
    game_key: str
    season: str
    team: str
    player_name: str
    minutes: float
    points: int
    rebounds: int
    assists: int
    threes: int | None

    @classmethod
    def from_event(cls, e: PlayerGameIngested) -> "GameRow":
        return cls(
            e.game_date,
            e.game_key,
            e.season,
            e.team,
            e.player_name,
            e.minutes,
            e.points,
            e.rebounds,
            e.assists,
            e.fg3m,
        )

    def value(self, stat: str) -> float | None:
        if stat == "pra":
            return float(self.points + self.rebounds + self.assists)
        raw: float | int | None = getattr(self, stat)
        return None if raw is None else float(raw)


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _sd(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    m = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def features_after(history: Sequence[GameRow]) -> dict[str, float | None]:
    """The vector for the game after `history[-1]`, from `history` alone (ordered by date)."""
    if not history:
        raise ValueError("features need at least one game")
    season = history[-1].season
    out: dict[str, float | None] = {}
    for stat in STATS:
        for window in WINDOWS:
            recent = [v for g in history[-window:] if (v := g.value(stat)) is not None]
            out[f"{stat}_rolling_mean_{window}"] = _mean(recent)
            out[f"{stat}_games_in_window_{window}"] = float(len(recent))
        last10 = [v for g in history[-10:] if (v := g.value(stat)) is not None]
        out[f"{stat}_rolling_std_10"] = _sd(last10)
        this_season = [
            v for g in history if g.season == season and (v := g.value(stat)) is not None
        ]
        out[f"{stat}_season_mean"] = _mean(this_season)
        out[f"{stat}_season_games"] = float(len(this_season))
    return out


def vectors_from(
    *, player_id: int, history: Sequence[GameRow], start: int
) -> list[FeaturesComputed]:
    """Vectors after each game from index `start` on (the games a batch added or changed)."""
    vectors = []
    for i in range(start, len(history)):
        game = history[i]
        features = features_after(history[: i + 1])
        as_of = game.game_date + dt.timedelta(days=1)
        digest = hashlib.sha256(json.dumps(features, sort_keys=True).encode()).hexdigest()[:16]
        vectors.append(
            FeaturesComputed(
                event_id=ids.event_id("features", player_id, as_of, FEATURE_SET_VERSION, digest),
                player_id=player_id,
                player_name=game.player_name,
                team=game.team,
                season=game.season,
                as_of=as_of,
                feature_set_version=FEATURE_SET_VERSION,
                features=features,
                last_game=StatLine(
                    game_date=game.game_date,
                    minutes=game.minutes,
                    points=game.points,
                    rebounds=game.rebounds,
                    assists=game.assists,
                    threes=game.threes,
                ),
            )
        )
    return vectors
