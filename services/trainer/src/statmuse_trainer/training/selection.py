"""Feature selection for a stat's pooled model: permutation importance on the validation season,
measured in the quantity the search optimises (the Brier score of P(over) at the reference
lines), with the searched XGBoost model. Pure: a StatData and a fitted candidate in, the
columns to keep and a record of what was dropped out.

A feature is dropped when shuffling its validation column does not make the Brier score worse
(importance ≤ 0): the model gets nothing from it on a season it was not fitted on. Then the
same configuration is refitted on the kept columns, and the smaller set is adopted only if its
validation Brier is no worse than with every column. Either way the record says what was
dropped and what that did, for the training report.

Some columns are never dropped: the ones the served model reads by name (the history count
and the centre that decide between the pooled model and the league baseline, the minutes the
baseline uses, and the per-player heads' inputs).
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from statmuse_trainer import scoring
from statmuse_trainer.training.candidates import SEED, Candidate, fit_and_score
from statmuse_trainer.training.negbin import over_probability
from statmuse_trainer.training.stat_data import StatData


@dataclass
class Selection:
    stat: str
    features_before: int
    kept: list[str]
    importance: dict[str, float]  # feature -> validation Brier increase when shuffled
    brier_all: float
    brier_kept: float | None  # None when nothing was dropped (no refit)
    adopted: bool
    trials: list[dict[str, Any]] = field(default_factory=list)  # the refit without them
    ran: bool = True  # False: the light search, which keeps every feature without measuring

    @classmethod
    def skipped(cls, data: StatData, best: Candidate) -> "Selection":
        """No selection (the light search): every column kept, nothing measured."""
        return cls(
            data.stat,
            len(data.columns),
            data.columns,
            {},
            best.scores.brier,
            None,
            False,
            ran=False,
        )

    @property
    def dropped(self) -> list[str]:
        kept = set(self.kept)
        return [f for f in self.importance if f not in kept] if self.adopted else []

    @property
    def candidates(self) -> list[str]:
        """The features with importance ≤ 0, whether or not dropping them was adopted."""
        return [f for f, v in self.importance.items() if v <= 0]

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "stat": self.stat,
                "feature": f,
                "brier_increase_when_shuffled": v,
                "dropped": self.adopted and f not in set(self.kept),
            }
            for f, v in sorted(self.importance.items(), key=lambda kv: kv[1])
        ]


def permutation_importance(
    data: StatData, model: Any, dispersion: float, *, protected: Collection[str]
) -> tuple[float, dict[str, float]]:
    """The validation Brier score, and how much worse it gets with each unprotected column
    shuffled (one seeded permutation per column)."""
    xv = np.array(data.x("validation"))  # a copy: its columns are shuffled in place
    yv, lines = data.y("validation"), data.lines("validation")
    went = (yv > lines).astype(float)

    def brier(x: np.ndarray) -> float:
        mu = np.maximum(model.predict(x).astype(np.float64), 0.05)
        return scoring.brier(over_probability(mu, dispersion, lines), went)

    base = brier(xv)
    rng = np.random.default_rng(SEED)
    out: dict[str, float] = {}
    for j, name in enumerate(data.columns):
        if name in protected:
            continue
        kept = xv[:, j].copy()
        xv[:, j] = rng.permutation(kept)
        out[name] = brier(xv) - base
        xv[:, j] = kept
    return base, out


def select(
    data: StatData,
    best: Candidate,
    *,
    protected: Collection[str],
    jobs: int,
    tick: Callable[[str], None] = lambda _: None,
) -> tuple[StatData, Candidate, Selection]:
    """The columns to train every family on, the XGBoost candidate on them, and the record."""
    _, importance = permutation_importance(
        data, best.model, best.scores.dispersion, protected=protected
    )
    drop = {f for f, v in importance.items() if v <= 0}
    if not drop:
        tick(f"{data.stat} selection: every feature helps on validation")
        record = Selection(
            data.stat, len(data.columns), data.columns, importance, best.scores.brier, None, False
        )
        return data, best, record
    reduced = replace(data, columns=[c for c in data.columns if c not in drop])
    params = {k: v for k, v in best.params.items() if k != "best_iteration"}
    refit, row = fit_and_score(reduced, "xgboost", params, jobs=jobs)
    adopted = refit.scores.brier <= best.scores.brier
    tick(
        f"{data.stat} selection: {len(drop)} of {len(data.columns)} features add nothing; "
        f"brier {best.scores.brier:.5f} -> {refit.scores.brier:.5f} "
        f"({'adopted' if adopted else 'kept them all'})"
    )
    record = Selection(
        data.stat,
        len(data.columns),
        reduced.columns if adopted else data.columns,
        importance,
        best.scores.brier,
        refit.scores.brier,
        adopted,
        [{**row, "selection": True}],
    )
    return (reduced, refit, record) if adopted else (data, best, record)
