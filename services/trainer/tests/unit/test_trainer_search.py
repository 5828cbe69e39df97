"""The Optuna search and the feature selection, on the synthetic frame (unit scale)."""

import numpy as np
import optuna
import pytest

from statmuse_trainer.training import candidates
from statmuse_trainer.training.candidates import XGBOOST_START, search
from statmuse_trainer.training.fitting import fit_stat, protected_columns
from statmuse_trainer.training.selection import permutation_importance
from statmuse_trainer.training.stat_data import stat_data


@pytest.fixture(scope="module")
def data(synthetic_frame):
    return stat_data(synthetic_frame, "points")


@pytest.fixture(scope="module")
def searched(data):
    return search(data, "xgboost", jobs=1)


def test_the_xgboost_study_starts_from_the_old_grid_and_keeps_its_best_trial(searched):
    trials = searched.trials
    assert len(trials) == candidates.XGBOOST_TRIALS
    for row, start in zip(trials, XGBOOST_START, strict=False):
        assert {k: row[k] for k in start} == start
    scored = [t for t in trials if not t["pruned"]]
    assert searched.scores.brier == pytest.approx(min(t["brier"] for t in scored))


def test_the_study_is_seeded(data, searched):
    again = search(data, "xgboost", jobs=1)
    assert [t.get("max_depth") for t in again.trials] == [
        t.get("max_depth") for t in searched.trials
    ]
    assert again.params == searched.params


def test_the_pruning_callback_stops_a_trial_worse_than_the_median_so_far():
    study = optuna.create_study(
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=10)
    )
    study.add_trial(optuna.trial.create_trial(value=0.2, intermediate_values={0: 1.0, 25: 0.9}))
    trial = study.ask()
    callback = candidates._pruning(trial)
    # reported, but inside the warm-up; between reports nothing is looked at
    loss = candidates.XGBOOST_METRIC  # the validation loss the booster stops early on
    assert callback.after_iteration(None, 0, {"validation_0": {loss: [2.0]}}) is False
    assert callback.after_iteration(None, 10, {"validation_0": {loss: [9.0]}}) is False
    with pytest.raises(optuna.TrialPruned):
        callback.after_iteration(None, 25, {"validation_0": {loss: [3.0]}})


def test_permutation_importance_finds_the_signal_and_nothing_in_empty_columns(data, searched):
    base, importance = permutation_importance(
        data, searched.model, searched.scores.dispersion, protected=set()
    )
    assert base == pytest.approx(searched.scores.brier)
    # The synthetic points follow the player's level: the season mean carries it.
    assert importance["points_season_avg"] > 0.001
    # Columns the frame leaves empty cannot matter.
    empty = [c for c in data.columns if np.isnan(data.validation[f"f_{c}"]).all()]
    assert empty
    assert all(importance[c] == 0 for c in empty)


def test_the_served_bundle_reads_exactly_the_selected_columns(synthetic_frame):
    fitted = fit_stat(synthetic_frame, "points", jobs=1)
    sel = fitted.selection
    assert fitted.header.features == sel.kept
    assert protected_columns("points") <= set(sel.kept)
    assert set(sel.dropped) <= set(sel.candidates)
    # The synthetic frame leaves most columns empty: dropping them costs nothing, so it is
    # adopted, and the report has the refit that decided it.
    assert sel.adopted
    assert sel.brier_kept is not None
    assert sel.brier_kept <= sel.brier_all
    assert sel.dropped
    assert not set(sel.dropped) & set(fitted.header.features)
    assert [t for t in fitted.trials if t.get("selection")] == sel.trials
