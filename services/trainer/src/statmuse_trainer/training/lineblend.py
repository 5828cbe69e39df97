"""How far to trust a sportsbook's line against our mean: `LineBlend`, fitted on real lines.

A line carries news the box scores do not (injuries, minutes, lineups), so P(over) at a book's
line is better taken from a centre between our mean and the line. The weight and offset are
fitted by maximum likelihood on the over/under outcomes of real lines from game days *before*
a cutoff; the evaluation and the backtest then use only later lines (the fitted days are in
the bundle, and both refuse them).

The weight is fitted on our means *without* who is out (`without_reports`): the dataset's
reports come from the files stand-in, which knows every player who sat out, late scratches
included, so trust learnt from them is more than a real pre-game report earns, and a
deployment without an availability feed has no report at all. A report can then only make
our mean better than the weight assumes, never worse.
"""

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

from statmuse_shared.models.count import CountModel, LineBlend
from statmuse_trainer.lines import join_lines, match_frame
from statmuse_trainer.scoring import log_loss
from statmuse_trainer.training.served import (
    given_no_push,
    nb_line_odds,
    refuse_in_sample,
    served_means,
)
from statmuse_trainer.training.stat_data import without_reports

MIN_LINES = 200  # fewer real lines than this cannot pin down two numbers honestly


class LineFitError(ValueError):
    """The blend cannot be fitted as asked; the message says why."""


def over_given_decided(centre: np.ndarray, phi: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """P(over | no push) at each line from NB(centre, phi)."""
    under, _, over = nb_line_odds(centre, phi, lines)
    return given_no_push(under, over)


@dataclass(frozen=True, slots=True)
class BlendFit:
    blend: LineBlend
    log_loss_alone: float  # the model's own uncalibrated NB at the fitting lines
    log_loss_blended: float


def fit_blend(
    mean: np.ndarray,
    phi: np.ndarray,
    lines: np.ndarray,
    went_over: np.ndarray,
    days: Sequence[dt.date],
) -> BlendFit:
    """Weight in [0, 1] and offset minimising the log loss of P(over | no push)."""
    if len(lines) < MIN_LINES:
        raise LineFitError(f"{len(lines)} real lines to fit on; at least {MIN_LINES} needed")

    def loss(theta: np.ndarray) -> float:
        w, b = float(theta[0]), float(theta[1])
        centre = np.maximum(w * mean + (1 - w) * (lines + b), 0.05)
        return log_loss(over_given_decided(centre, phi, lines), went_over)

    best = optimize.minimize(
        loss, np.array([0.5, 0.0]), method="L-BFGS-B", bounds=[(0.0, 1.0), (-10.0, 10.0)]
    )
    if not np.isfinite(best.fun):
        raise LineFitError(f"the fit did not converge: {best.message}")
    w, b = (float(v) for v in best.x)
    blend = LineBlend(
        weight=round(w, 6),
        offset=round(b, 6),
        first_day=min(days),
        last_day=max(days),
        lines=len(lines),
    )
    alone = log_loss(over_given_decided(np.maximum(mean, 0.05), phi, lines), went_over)
    return BlendFit(blend, alone, loss(np.array([blend.weight, blend.offset])))


@dataclass(frozen=True, slots=True)
class StatResult:
    stat: str
    fit: BlendFit | None
    reason: str = ""


def fit_lines(
    *, models: Path, dataset: Path, lines_dir: Path, before: dt.date, out: Path
) -> list[StatResult]:
    """Fit each bundle's blend on the real lines of game days before `before` (joined to the
    dataset's test split, without who is out) and write the bundle, with its sidecar, to
    `out`."""
    if not any(lines_dir.glob("*.csv.gz")):
        raise LineFitError(f"no prop line files (*.csv.gz) in {lines_dir}")
    test = pd.read_parquet(dataset / "test.parquet")
    matched = [(pid, x) for pid, x in match_frame(test, lines_dir)[0] if x.game_date < before]
    bundles = sorted(models.glob("*.npz"))
    if not bundles:
        raise LineFitError(f"no model bundles (*.npz) in {models}")
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in bundles:
        for season in {str(s) for s in test["season"].unique()}:
            refuse_in_sample(path, season)
    for path in bundles:
        data = path.read_bytes()
        model = CountModel.from_bytes(data)
        stat = model.stat.value
        joined = join_lines(test, matched, stat)
        if len(joined.row) < MIN_LINES:
            results.append(StatResult(stat, None, f"{len(joined.row)} lines before {before}"))
            continue
        mu, phi, _ = served_means(model, without_reports(test, share=1.0))
        days = pd.to_datetime(test["game_date"]).dt.date.to_numpy()[joined.row]
        fit = fit_blend(mu[joined.row], phi[joined.row], joined.line, joined.went_over, list(days))
        (out / path.name).write_bytes(CountModel.with_header(data, line_blend=fit.blend))
        sidecar = path.with_suffix(".json")
        meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        meta["line_blend"] = {
            **fit.blend.model_dump(mode="json"),
            "log_loss_alone": round(fit.log_loss_alone, 6),
            "log_loss_blended": round(fit.log_loss_blended, 6),
            "lines_dir": str(lines_dir),
            "before": before.isoformat(),
        }
        (out / sidecar.name).write_text(json.dumps(meta, indent=2, default=float) + "\n")
        results.append(StatResult(stat, fit))
    return results


def describe(result: StatResult) -> str:
    if result.fit is None:
        return f"{result.stat}: not fitted ({result.reason}; {MIN_LINES} needed)"
    b = result.fit.blend
    return (
        f"{result.stat}: weight {b.weight:.3f} on our mean, offset {b.offset:+.3f}, "
        f"{b.lines} lines {b.first_day}..{b.last_day}; log loss "
        f"{result.fit.log_loss_alone:.4f} -> {result.fit.log_loss_blended:.4f}"
    )
