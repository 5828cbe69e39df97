"""The stats without bundled lines (steals, blocks, turnovers and the sums of two): their labels
and frame columns, the features their models see, and the light fit, on synthetic frames."""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import feature_names
from statmuse_shared.features.catalogue import CATALOGUE
from statmuse_shared.models.artifacts import load_model
from statmuse_shared.models.count import CountModel
from statmuse_trainer.training.candidates import LIGHT
from statmuse_trainer.training.dataset import DEFAULT_SPLIT, LABELS, Row, frame, with_combinations
from statmuse_trainer.training.fitting import FAMILIES, fit_stat
from statmuse_trainer.training.served import served_means
from statmuse_trainer.training.stat_data import (
    LINE_STATS,
    feature_columns,
    head_columns,
    history_feature,
    is_light,
    pooled_rows,
    reference_lines,
)

COMPACT_FAMILIES = {f.family for f in CATALOGUE if f.stat == "steals"}


def test_every_stat_has_a_label_and_the_sums_add_their_parts() -> None:
    assert {f"label_{s.value}" for s in Stat} <= {f"label_{k}" for k in LABELS}
    outcome = {
        "minutes": 31.0,
        "points": 22,
        "rebounds": 7,
        "assists": 5,
        "threes": 2,
        "steals": 3,
        "blocks": 1,
        "turnovers": 4,
    }
    names = feature_names()
    row = Row(1, "2023-24", dt.date(2024, 1, 2), dt.date(2024, 1, 2), dict.fromkeys(names), outcome)
    df = frame([row], DEFAULT_SPLIT)
    got = {s.value: df.loc[0, f"label_{s.value}"] for s in Stat}
    assert got == {
        "points": 22,
        "rebounds": 7,
        "assists": 5,
        "threes": 2,
        "pra": 34,
        "steals": 3,
        "blocks": 1,
        "turnovers": 4,
        "pr": 29,
        "pa": 27,
        "ra": 12,
        "stocks": 4,
    }
    # a box score without blocks has no stocks, and no blocks label
    without = Row(
        1, "2023-24", dt.date(2024, 1, 2), dt.date(2024, 1, 2), {}, {**outcome, "blocks": None}
    )
    df = frame([without], DEFAULT_SPLIT)
    assert math.isnan(df.loc[0, "label_stocks"])
    assert math.isnan(df.loc[0, "label_blocks"])


def test_a_sum_of_two_gets_its_parts_means_added_and_their_fewest_counts() -> None:
    df = pd.DataFrame(
        {
            "f_steals_sma_10": [1.2, np.nan],
            "f_blocks_sma_10": [0.5, 0.7],
            "f_steals_career_n": [40.0, 0.0],
            "f_blocks_career_n": [38.0, 2.0],
        }
    )
    for part in ("points", "rebounds", "assists", "steals", "blocks"):
        for suffix in ("sma_3", "sma_5", "sma_10", "season_avg", "ema", "career_avg"):
            if f"f_{part}_{suffix}" not in df:
                df[f"f_{part}_{suffix}"] = 1.0
        for suffix in ("n_10", "career_n"):
            if f"f_{part}_{suffix}" not in df:
                df[f"f_{part}_{suffix}"] = 10.0
    out = with_combinations(df)
    assert out.loc[0, "f_stocks_sma_10"] == pytest.approx(1.7)
    assert math.isnan(out.loc[1, "f_stocks_sma_10"])  # a part without a mean: none
    assert out["f_stocks_career_n"].tolist() == [38.0, 0.0]
    assert out.loc[0, "f_pr_sma_10"] == 2.0
    assert with_combinations(out) is out  # made once
    # the reference line and the pooled rows read them as any stat's
    assert reference_lines(out.iloc[:1], "stocks").tolist() == [1.5]
    assert pooled_rows(out.assign(label_stocks=1.0), "stocks").tolist() == [True, False]


def test_the_light_stats_see_the_compact_features_of_their_parts_and_minutes() -> None:
    assert set(LINE_STATS) == {"points", "rebounds", "assists", "threes", "pra"}
    by_name = {f.name: f for f in CATALOGUE}
    for stat in Stat:
        columns = feature_columns(stat.value)
        assert set(head_columns(stat.value)) <= set(columns), stat
        assert history_feature(stat.value) in columns
        per_stat = [by_name[c] for c in columns if by_name[c].stat is not None]
        seen = {f.stat for f in per_stat}
        assert seen == {"minutes", *stat.parts} | ({"pra"} if stat is Stat.PRA else set()), stat
        if is_light(stat.value):
            assert {f.family for f in per_stat} <= COMPACT_FAMILIES, stat
        else:
            assert len({f.family for f in per_stat}) > len(COMPACT_FAMILIES), stat
    assert "stocks_sma_10" not in feature_names()  # a sum of two has no features of its own


@pytest.fixture(scope="module")
def stocks_frame(synthetic_frames) -> pd.DataFrame:
    """The synthetic points frame as steals + blocks: each part half of the points' history."""
    df = synthetic_frames(5)
    for part in ("steals", "blocks"):
        for suffix in ("career_n", "sma_10", "season_avg", "ema", "career_avg"):
            source = df[f"f_points_{suffix}"]
            df[f"f_{part}_{suffix}"] = source if suffix == "career_n" else source / 2
    df["label_stocks"] = df["label_points"]
    return with_combinations(df.drop(columns=[c for c in df if c.startswith("f_stocks_")]))


def test_the_light_fit_serves_a_sum_of_two_from_its_parts_features(stocks_frame) -> None:
    f = fit_stat(stocks_frame, "stocks", jobs=1)
    assert [c.name for c in f.candidates[:2]] == ["xgboost", "elasticnet"]
    assert not any(c.name == "random_forest" for c in f.candidates)
    assert set(FAMILIES) - {c.name for c in f.candidates} == {"random_forest"}
    assert f.candidates[0].params.items() >= LIGHT["xgboost"].items()
    assert f.heads_tried == 0
    assert not f.selection.ran
    model = load_model(f.bundle)
    assert isinstance(model, CountModel)
    assert model.header.history_feature == "steals_career_n"
    assert model.header.centre_feature == "steals_sma_10"
    assert set(model.header.features) <= set(feature_names())
    test = stocks_frame[stocks_frame["split"] == "test"].reset_index(drop=True)
    mu, _, flags = served_means(model, test)
    pooled = np.array([fl == "pooled" for fl in flags])
    assert pooled.mean() > 0.9
    # it learnt the points' levels from the halves: far better than the league's mean (the
    # frame's noise leaves about 0.80 of that mean's error to the best of our candidates)
    y = test["label_stocks"].to_numpy()
    assert np.mean(np.abs(y - mu)[pooled]) < 0.85 * np.mean(np.abs(y - y.mean())[pooled])
