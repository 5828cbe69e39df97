"""Shared by the trainer's unit and integration tests."""

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from statmuse_shared.features import feature_names

PLAYERS = 24


def make_synthetic_frame(seed: int = 3) -> pd.DataFrame:
    """Players with their own scoring level; points ~ NB around a mix of last-10 and season
    means; a home bonus. Train: 2 'seasons', validation: 1, test: 1."""
    rng = np.random.default_rng(seed)
    names = feature_names()
    rows = []
    for pid in range(1, PLAYERS + 1):
        level = rng.uniform(6, 28)
        day = dt.date(2020, 10, 1)
        history: list[float] = []
        seasons = (
            ("2020-21", "train", 70),
            ("2021-22", "train", 70),
            ("2022-23", "validation", 40),
            ("2023-24", "test", 40),
        )
        for season, split, n in seasons:
            for _ in range(n):
                day += dt.timedelta(days=int(rng.integers(1, 4)))
                home = float(rng.integers(0, 2))
                last10 = float(np.mean(history[-10:])) if history else None
                mu = level + 1.5 * home + (0.3 * (last10 - level) if last10 else 0)
                y = float(rng.negative_binomial(8, 8 / (8 + mu)))
                f = dict.fromkeys(names, math.nan)
                f |= {
                    "points_career_n": len(history),
                    "points_sma_10": last10 or math.nan,
                    "points_season_avg": float(np.mean(history[-40:])) if history else math.nan,
                    "points_ema": last10 or math.nan,
                    "points_career_avg": float(np.mean(history)) if history else math.nan,
                    "minutes_sma_3": 30.0,
                    "minutes_sma_10": 30.0,
                    "is_home": home,
                    "days_rest": 2.0,
                }
                rows.append(
                    {
                        "player_id": pid,
                        "player_name": f"Player {pid}",
                        "season": season,
                        "game_date": pd.Timestamp(day),
                        "as_of": pd.Timestamp(day),
                        "split": split,
                        "label_points": y,
                        "label_minutes": 30.0,
                        **{f"f_{k}": v for k, v in f.items()},
                    }
                )
                history.append(y)
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def synthetic_frames() -> Callable[[int], pd.DataFrame]:
    """`make_synthetic_frame`, for a test that changes its own copy (by seed)."""
    return make_synthetic_frame


@pytest.fixture(scope="session")
def synthetic_frame() -> pd.DataFrame:
    """Synthetic (unit-test only): 24 players, points ~ negative binomial around their level."""
    return make_synthetic_frame()
