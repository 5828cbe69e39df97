import datetime as dt

import pandas as pd
import pytest

from statmuse_shared.features import feature_names
from statmuse_trainer.training.dataset import (
    DEFAULT_SPLIT,
    LeakageError,
    Row,
    Split,
    check,
    content_hash,
    frame,
    save,
)

D = dt.date


def row(season: str, day: dt.date, *, as_of: dt.date | None = None, points: int = 20) -> Row:
    return Row(
        7,
        season,
        day,
        as_of or day,
        {"points_sma_10": 18.5, "opp_def_rank": None},
        {"points": points, "rebounds": 5, "assists": 4, "threes": None, "minutes": 30.0},
    )


def test_default_split_is_the_design_split():
    assert DEFAULT_SPLIT.of("2019-20") == "train"
    assert DEFAULT_SPLIT.of("2022-23") == "validation"
    assert DEFAULT_SPLIT.of("2023-24") == "test"
    assert DEFAULT_SPLIT.of("2016-17") is None


@pytest.mark.parametrize(
    ("train", "validation", "test"),
    [
        (("2022-23",), ("2021-22",), ("2023-24",)),  # not in time order
        (("2021-22",), ("2021-22",), ("2023-24",)),  # a season in two splits
        ((), ("2022-23",), ("2023-24",)),
    ],
)
def test_bad_splits_are_refused(train, validation, test):
    with pytest.raises(ValueError, match="season|time"):
        Split(train, validation, test)


def test_frame_has_labels_features_and_splits():
    df = frame(
        [
            row("2021-22", D(2022, 1, 5)),
            row("2022-23", D(2023, 1, 5)),
            row("2023-24", D(2024, 1, 5), points=31),
            row("2016-17", D(2017, 1, 5)),
        ]
    )
    assert list(df["split"]) == ["train", "validation", "test"]  # 2016-17 is in no split
    assert list(df["label_points"]) == [20.0, 20.0, 31.0]
    assert list(df["label_pra"]) == [29.0, 29.0, 40.0]
    assert df["label_threes"].isna().all(), "a missing label stays missing"
    assert {f"f_{n}" for n in feature_names()} <= set(df.columns)
    assert df["f_points_sma_10"].tolist() == [18.5] * 3
    assert df["f_opp_def_rank"].isna().all()
    check(df, DEFAULT_SPLIT)


def test_a_vector_from_after_its_game_is_refused():
    df = frame([row("2021-22", D(2022, 1, 5), as_of=D(2022, 1, 6)), row("2023-24", D(2024, 1, 5))])
    with pytest.raises(LeakageError, match="on or after its game day"):
        check(df, DEFAULT_SPLIT)


def test_a_next_vector_is_not_a_training_row():
    df = frame([row("2021-22", D(2022, 1, 5), as_of=D(2022, 1, 3))])
    with pytest.raises(LeakageError, match="not a game vector"):
        check(df, DEFAULT_SPLIT)


def test_a_test_game_among_training_rows_is_refused():
    df = frame([row("2021-22", D(2022, 1, 5)), row("2023-24", D(2024, 1, 5))])
    df.loc[1, "split"] = "train"  # what a bug in the split would do
    with pytest.raises(LeakageError):
        check(df, DEFAULT_SPLIT)


def test_version_is_the_content(tmp_path):
    rows = [row("2021-22", D(2022, 1, 5)), row("2023-24", D(2024, 1, 5))]
    a, b = frame(rows), frame(list(reversed(rows)))
    assert content_hash(a) == content_hash(b), "built in another order, same data"
    changed = frame([row("2021-22", D(2022, 1, 5), points=21), rows[1]])
    assert content_hash(changed) != content_hash(a)
    version, paths = save(a, tmp_path)
    assert version == content_hash(a)
    assert sorted(paths) == ["test", "train"]
    back = pd.concat([pd.read_parquet(paths["train"]), pd.read_parquet(paths["test"])])
    pd.testing.assert_frame_equal(back.reset_index(drop=True), a, check_dtype=False)
