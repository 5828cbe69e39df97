"""Walk-forward evaluation: the training protocol judged on seasons it never saw, one at a time.

For each season S: fit every stat with `fit_stat` on the seasons before S but the last, let it
choose (candidates, ensembles, heads) and calibrate on that last season, then score S: the
served mean against the season-average and last-10 baselines (MAE), and P(over) at the
reference line (Brier, ECE) against a naive P(over) from the last-10 mean. A season whose
history is too short for a stat (threes: the source has FG3M for 2021-22 and 2023-24 only)
says so instead of scoring. The fold models are written beside the report, so any of them can
be scored further (e.g. on real lines with `statmuse evaluate --models`).
"""

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from statmuse_shared.models.count import CountModel
from statmuse_trainer.scoring import Estimate, bootstrap, pair_brier, pair_ece
from statmuse_trainer.training.fitting import fit_stat
from statmuse_trainer.training.served import line_odds, nb_line_odds, served_means
from statmuse_trainer.training.stat_data import pooled_rows, reference_lines

DEFAULT_SEASONS = ("2020-21", "2021-22", "2022-23", "2023-24")


class WalkForwardError(ValueError):
    """The walk-forward cannot run as asked; the message says why."""


def fold_frame(df: pd.DataFrame, season: str) -> tuple[pd.DataFrame, list[str]]:
    """The seasons before `season` (the last one as validation) and `season` as test."""
    before = sorted(s for s in df["season"].unique() if s < season)
    if season not in set(df["season"]):
        raise WalkForwardError(f"the dataset has no {season} rows")
    if len(before) < 2:
        raise WalkForwardError(f"{season}: needs two earlier seasons, the dataset has {before}")
    fold = df[df["season"].isin([*before, season])].copy()
    fold["split"] = np.where(
        fold["season"] == season,
        "test",
        np.where(fold["season"] == before[-1], "validation", "train"),
    )
    return fold.reset_index(drop=True), before


@dataclass(frozen=True)
class FoldScore:
    season: str
    stat: str
    trained_on: str  # "2017-18..2021-22 (validated on 2022-23)"
    chosen: str = ""
    games: int = 0
    mae: Estimate | None = None
    mae_last10: Estimate | None = None
    mae_season: Estimate | None = None
    brier: Estimate | None = None
    brier_last10: Estimate | None = None
    ece: Estimate | None = None
    seconds: float = 0.0
    note: str = ""


def score_fold(
    model: CountModel, test: pd.DataFrame, stat: str, *, rounds: int
) -> dict[str, Estimate | int]:
    """The fold's scores on its test season: MAE against the baselines on the rows where all
    exist; Brier and ECE at the reference line, and the Brier of a negative binomial centred
    on the last-10 mean with the model's pooled dispersion (a naive P(over) to beat)."""
    mu, phi, _ = served_means(model, test)
    label = test[f"label_{stat}"]
    ok = (
        label.notna()
        & test[f"f_{stat}_sma_10"].notna()
        & test[f"f_{stat}_season_avg"].notna()
        & pooled_rows(test, stat)
    ).to_numpy()
    y = label.to_numpy(np.float64)[ok]
    last10 = test[f"f_{stat}_sma_10"].to_numpy(np.float64)[ok]
    season = test[f"f_{stat}_season_avg"].to_numpy(np.float64)[ok]
    lines = reference_lines(test[ok], stat)
    went = (y > lines).astype(float)
    _, _, over = line_odds(model, mu[ok], phi[ok], lines, calibrated=True)
    naive_phi = np.full(len(y), model.header.dispersion)
    _, _, naive = nb_line_odds(np.maximum(last10, 0.05), naive_phi, lines)
    pairs = np.stack([over, went], axis=1)
    return {
        "games": int(ok.sum()),
        "mae": bootstrap(np.abs(y - mu[ok]), np.mean, rounds=rounds),
        "mae_last10": bootstrap(np.abs(y - last10), np.mean, rounds=rounds),
        "mae_season": bootstrap(np.abs(y - season), np.mean, rounds=rounds),
        "brier": bootstrap(pairs, pair_brier, rounds=rounds),
        "brier_last10": bootstrap(np.stack([naive, went], axis=1), pair_brier, rounds=rounds),
        "ece": bootstrap(pairs, pair_ece, rounds=rounds),
    }


def walk_forward(
    df: pd.DataFrame,
    *,
    stats: Sequence[str],
    seasons: Sequence[str] = DEFAULT_SEASONS,
    jobs: int = 2,
    rounds: int = 500,
    models_out: Path | None = None,
    tick: Callable[[str], None] = lambda _: None,
) -> list[FoldScore]:
    out = []
    for season in seasons:
        fold, before = fold_frame(df, season)
        trained_on = f"{before[0]}..{before[-2]} (chosen and calibrated on {before[-1]})"
        test = fold[fold["split"] == "test"].reset_index(drop=True)
        for stat in stats:
            tick(f"{season} {stat}")
            t0 = time.perf_counter()
            try:
                fitted = fit_stat(fold, stat, jobs=jobs, tick=tick)
            except ValueError as exc:
                out.append(FoldScore(season, stat, trained_on, note=str(exc)))
                continue
            if test[f"label_{stat}"].notna().sum() == 0:
                out.append(
                    FoldScore(season, stat, trained_on, note=f"no {stat} results in {season}")
                )
                continue
            model = CountModel.from_bytes(fitted.bundle)
            if models_out is not None:
                (models_out / season).mkdir(parents=True, exist_ok=True)
                (models_out / season / f"{stat}.npz").write_bytes(fitted.bundle)
            scores = score_fold(model, test, stat, rounds=rounds)
            note = fitted.validation_note or ""
            out.append(
                FoldScore(
                    season,
                    stat,
                    trained_on,
                    fitted.chosen,
                    seconds=time.perf_counter() - t0,
                    note=note,
                    **scores,  # type: ignore[arg-type]
                )
            )
    return out


def _e(e: Estimate | None, digits: int = 3) -> str:
    if e is None:
        return "–"
    return f"{e.value:.{digits}f} [{e.low:.{digits}f}, {e.high:.{digits}f}]"


def table(scores: Sequence[FoldScore], *, command: str) -> str:
    """The per-season table as a markdown section."""
    out = [
        "## Walk-forward: every season scored by models that never saw it",
        "",
        f"Generated {dt.date.today().isoformat()} by `{command}` (brackets: 95% bootstrap "
        "intervals). For each season S, every stat's model is trained on the seasons before "
        "S but the last, chosen (candidates, ensembles, per-player heads) and calibrated on "
        "that last one, and scored on S: the protocol `statmuse train` follows, judged on "
        "four seasons instead of one. MAE is the served mean's against the last-10 and "
        "season averages, on the games where all three exist; Brier and ECE are P(over) at "
        "the reference line (the half point above the last-10 mean), beside a naive P(over) "
        "from a negative binomial on the last-10 mean.",
        "",
        "| season | stat | trained on | chosen | games | MAE | MAE last-10 | MAE season avg "
        "| Brier | Brier naive | ECE |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        if s.mae is None:
            out.append(
                f"| {s.season} | {s.stat} | {s.trained_on} | – | – | – | – | – | – | – | {s.note} |"
            )
            continue
        out.append(
            f"| {s.season} | {s.stat} | {s.trained_on} | {s.chosen} | {s.games} | "
            f"{_e(s.mae)} | {_e(s.mae_last10)} | {_e(s.mae_season)} | {_e(s.brier, 4)} | "
            f"{_e(s.brier_last10, 4)} | {_e(s.ece, 4)} |"
        )
    notes = sorted({f"{s.stat}: {s.note}" for s in scores if s.mae is not None and s.note})
    if notes:
        out += ["", *(f"- {n}" for n in notes)]
    wins = [
        (s.mae, s.mae_last10, s.brier, s.brier_last10)
        for s in scores
        if s.mae is not None
        and s.mae_last10 is not None
        and s.brier is not None
        and s.brier_last10 is not None
    ]
    below = sum(1 for mae, last10, _, _ in wins if mae.value < last10.value)
    better = sum(1 for _, _, brier, naive in wins if brier.value < naive.value)
    out += [
        "",
        f"The served mean's MAE is below the last-10 mean's in {below} of {len(wins)} "
        f"season-stat folds, and its Brier at the reference line below the naive one in "
        f"{better} of {len(wins)}.",
        "",
    ]
    return "\n".join(out)
