"""The production refit and what guards it: every season trains or validates (the last one
validates), the line weights come from a model that had not seen the lines' games, and no
score or line weight is computed on games a bundle was fitted on."""

import json
from pathlib import Path

import pandas as pd
import pytest

from statmuse_trainer.evaluation.walkforward import WalkForwardError, fold_frame
from statmuse_trainer.training.run import final_frame
from statmuse_trainer.training.served import InSampleError, refuse_in_sample, seen_seasons

SEASONS = ["2019-20", "2020-21", "2021-22", "2022-23", "2023-24"]


def frame() -> pd.DataFrame:
    return pd.DataFrame({"season": SEASONS * 3, "split": "test", "x": range(15)})


def test_the_final_fit_validates_on_the_last_season_and_holds_nothing_out():
    out = final_frame(frame())
    assert set(out.loc[out["season"] == "2023-24", "split"]) == {"validation"}
    assert set(out.loc[out["season"] != "2023-24", "split"]) == {"train"}
    assert len(out) == 15
    with pytest.raises(ValueError, match="two seasons"):
        final_frame(frame().query("season == '2023-24'"))


def test_a_fold_trains_before_validates_on_the_last_and_scores_its_season():
    fold, before = fold_frame(frame(), "2022-23")
    assert before == ["2019-20", "2020-21", "2021-22"]
    split = dict(zip(fold["season"], fold["split"], strict=False))
    assert split == {
        "2019-20": "train",
        "2020-21": "train",
        "2021-22": "validation",
        "2022-23": "test",
    }
    assert "2023-24" not in set(fold["season"])  # nothing after the scored season
    with pytest.raises(WalkForwardError, match="two earlier seasons"):
        fold_frame(frame(), "2020-21")
    with pytest.raises(WalkForwardError, match="no 2030-31"):
        fold_frame(frame(), "2030-31")


def test_a_bundle_is_never_scored_on_a_season_it_saw(tmp_path: Path):
    bundle = tmp_path / "points.npz"
    bundle.write_bytes(b"")
    refuse_in_sample(bundle, "2023-24")  # no sidecar: nothing known, nothing refused
    window = {"first_day": "2017-10-17", "last_day": "2024-06-17", "seasons": SEASONS}
    bundle.with_suffix(".json").write_text(json.dumps({"training_window": window}))
    assert seen_seasons(bundle) == set(SEASONS)
    with pytest.raises(InSampleError, match="fitted on 2023-24"):
        refuse_in_sample(bundle, "2023-24")
    refuse_in_sample(bundle, "2024-25")


def test_the_held_out_report_and_the_walk_forward_share_a_file_without_erasing_each_other(
    tmp_path: Path,
):
    from statmuse_trainer.cli.evaluation import WALK_FORWARD_MARK, _write_section

    path = tmp_path / "EVALUATION.md"
    _write_section(path, "# Held out\n\nv1\n", walk_forward=False)
    _write_section(path, "## Walk-forward\n\nw1\n", walk_forward=True)
    _write_section(path, "# Held out\n\nv2\n", walk_forward=False)
    text = path.read_text()
    assert "v2" in text
    assert "v1" not in text
    assert text.index("v2") < text.index(WALK_FORWARD_MARK) < text.index("w1")
    _write_section(path, "## Walk-forward\n\nw2\n", walk_forward=True)
    text = path.read_text()
    assert "w2" in text
    assert "w1" not in text
    assert "v2" in text
    assert text.count(WALK_FORWARD_MARK) == 1
