"""`statmuse evaluate`: the served bundles on a held-out season, as a markdown report
(docs/EVALUATION.md)."""

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from statmuse_shared.models.count import CountModel, LineBlend
from statmuse_shared.models.market import MarketLayer
from statmuse_trainer.evaluation.tables import lines_table, model_vs_baselines
from statmuse_trainer.figures import reliability_png
from statmuse_trainer.lines import join_lines, match_frame
from statmuse_trainer.scoring import Estimate, bootstrap, pair_brier, pair_ece, reliability
from statmuse_trainer.training.served import (
    given_no_push,
    line_odds,
    refuse_in_sample,
    served_means,
)
from statmuse_trainer.training.stat_data import pooled_rows, reference_lines


def _fmt(e: object, digits: int = 4) -> str:
    if not isinstance(e, Estimate) or e.n == 0:
        return "–"
    return f"{e.value:.{digits}f} [{e.low:.{digits}f}, {e.high:.{digits}f}]"


def run(
    *,
    dataset: Path,
    models: Path,
    lines_dir: Path,
    season: str,
    rounds: int,
    pictures: Path | None = None,
    window: tuple[dt.date, dt.date] = (dt.date.min, dt.date.max),
) -> str:
    test = pd.read_parquet(dataset / "test.parquet")
    test = test[test["season"] == season].reset_index(drop=True)
    if test.empty:
        raise ValueError(f"the dataset's test split has no {season} rows")
    matched, unmatched = match_frame(test, lines_dir)
    matched = [(p, x) for p, x in matched if window[0] <= x.game_date <= window[1]]
    point_rows: list[pd.DataFrame] = []
    line_rows: list[pd.DataFrame] = []
    flags_seen: dict[str, dict[str, int]] = {}
    head_rows: list[dict[str, Any]] = []
    ref_rows: list[dict[str, Any]] = []
    blends: dict[str, LineBlend] = {}
    layers: dict[str, MarketLayer] = {}
    if pictures is not None:
        pictures.mkdir(parents=True, exist_ok=True)
    for bundle in sorted(models.glob("*.npz")):
        refuse_in_sample(bundle, season)
        model = CountModel.from_bytes(bundle.read_bytes())
        stat = model.stat.value
        mu, r, flags = served_means(model, test)
        usable = pooled_rows(test, stat).to_numpy()
        ref = reference_lines(test[usable], stat)
        went_ref = (test.loc[usable, f"label_{stat}"].to_numpy() > ref).astype(float)
        for label, calibrated in (("model", True), ("model_uncalibrated", False)):
            _, _, over_ref = line_odds(model, mu[usable], r[usable], ref, calibrated=calibrated)
            pairs = np.stack([over_ref, went_ref], axis=1)
            ref_rows.append(
                {
                    "stat": stat,
                    "predictor": label,
                    "games": len(ref),
                    "brier": bootstrap(pairs, pair_brier, rounds=rounds),
                    "ece": bootstrap(pairs, pair_ece, rounds=rounds),
                }
            )
        answered = pd.Series([f or "own model" for f in flags]).value_counts()
        flags_seen[stat] = {str(k): int(v) for k, v in answered.items()}
        own = np.array([f is None for f in flags])
        if own.any():
            x = test.loc[own, [f"f_{c}" for c in model.header.features]].to_numpy(np.float64)
            label = test.loc[own, f"label_{stat}"].to_numpy(np.float64)
            ok = ~np.isnan(label)
            pooled = np.maximum(model.pooled_mean(x), 0.05)
            head_rows.append(
                {
                    "stat": stat,
                    "games": int(ok.sum()),
                    "own": float(np.mean(np.abs(label - mu[own])[ok])),
                    "pooled": float(np.mean(np.abs(label - pooled)[ok])),
                }
            )
        point_rows.append(model_vs_baselines(test, stat, mu, rounds=rounds))
        blend = model.header.line_blend
        layer = model.header.market_layer
        usable_lines = matched
        fitted_until = max(
            [b.last_day for b in (blend, layer) if b is not None], default=dt.date.min
        )
        if blend is not None:
            blends[stat] = blend
        if layer is not None:
            layers[stat] = layer
        # The line weights and the layer were fitted on these days: score only later ones.
        usable_lines = [(p, x) for p, x in matched if x.game_date > fitted_until]
        joined = join_lines(test, usable_lines, stat)
        if len(joined.row) == 0:
            continue
        probs = {}
        # `model` is what the gateway serves at a book's line given that book's two prices;
        # with a market layer, `model_line_blend` is what it serves without the prices.
        variants = [("model", True, joined.books), ("model_alone", False, None)]
        if layer is not None:
            variants.insert(1, ("model_line_blend", True, None))
        for label, use_line, books in variants:
            under, _, over = line_odds(
                model,
                mu[joined.row],
                r[joined.row],
                joined.line,
                calibrated=True,
                use_line=use_line,
                books=books,
            )
            probs[label] = given_no_push(under, over)  # like the books' price
        line_rows.append(lines_table(joined, probs, stat, rounds=rounds))
        if pictures is not None:
            curves = {
                name: reliability(p, joined.went_over)
                for name, p in {**probs, "books de-vigged": joined.books}.items()
            }
            reliability_png(
                pictures / f"real_lines_{stat}.png", curves, f"{stat}: {season} real lines"
            )
    points = pd.concat(point_rows, ignore_index=True)
    lines = pd.concat(line_rows, ignore_index=True) if line_rows else pd.DataFrame()

    out = [
        f"# Evaluation on {season} (held out)",
        "",
        f"Generated {dt.date.today().isoformat()} by "
        f"`statmuse evaluate --season {season} --dataset {dataset} --models {models} "
        f"--rounds {rounds}"
        + (f" --from {window[0]}" if window[0] != dt.date.min else "")
        + (f" --to {window[1]}" if window[1] != dt.date.max else "")
        + " --write docs/EVALUATION.md` (brackets are 95% bootstrap "
        "intervals). The dataset directory comes from `statmuse-trainer dataset` on a stack "
        "that ingested the seven bundled seasons, or from "
        "`bench/research/dataset_from_files.py` (the same feature code run on the files, "
        "without a stack); see models/README.md.",
        "",
        "The models were trained on 2017-18 to 2021-22, tuned and calibrated on 2022-23, and "
        f"their means and spreads never saw {season}"
        + (" (only their line weights did, see below)" if blends else "")
        + ". Every number comes from the bundle the predictor serves.",
        "",
        *_blend_note(blends, season),
        *_layer_note(layers, season),
        "## Summary",
        "",
        *_summary(points, ref_rows, lines),
        "",
        "## Point predictions against the baselines",
        "",
        "Rows: every game where the player has the stat's last-10 mean, season average and "
        "EWMA (so all four predictors are scored on the same games).",
        "",
        "| stat | predictor | games | MAE | RMSE |",
        "|---|---|---|---|---|",
    ]
    for _, row in points.iterrows():
        out.append(
            f"| {row['stat']} | {row['predictor']} | {row['mae'].n} | "
            f"{_fmt(row['mae'], 3)} | {_fmt(row['rmse'], 3)} |"
        )
    out += [
        "",
        "## Calibration on every game, at its reference line",
        "",
        "The line a model is tuned and calibrated at (the half-point line above the last-10 "
        f"mean), on every {season} game with enough history: the model's own calibration out "
        "of sample, without the books.",
        "",
        "| stat | predictor | games | Brier | ECE |",
        "|---|---|---|---|---|",
    ]
    for entry in ref_rows:
        out.append(
            f"| {entry['stat']} | {entry['predictor']} | {entry['games']} | "
            f"{_fmt(entry['brier'])} | {_fmt(entry['ece'])} |"
        )
    out += [
        "",
        "## P(over) on the real sportsbook lines",
        "",
        f"Lines from `{lines_dir}` joined to {season} games by player and date "
        f"({len(matched)} lines matched a player, {len(unmatched)} did not); pushes left "
        "out, and so are the lines a model's line weight was fitted on (see above). Our "
        "P(over) is taken given no push, the way the books' de-vigged price is. `model` is "
        "what the predictor serves at a book's line (our mean weighed against the line); "
        "`model_alone` is the model's own calibrated distribution, without the line. The gap "
        "is our Brier minus the books' on the same lines (paired bootstrap; negative means "
        "we beat the books).",
        "",
        "| stat | predictor | lines | Brier | log loss | ECE | Brier gap vs books |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, row in lines.iterrows():
        out.append(
            f"| {row['stat']} | {row['predictor']} | {row['lines']} | "
            f"{_fmt(row['brier'])} | {_fmt(row['log_loss'])} | {_fmt(row['ece'])} | "
            f"{_fmt(row['brier_gap_vs_books'])} |"
        )
    out += [
        "",
        "## Which model answered",
        "",
        "| stat | " + " | ".join(["own model", "pooled", "league_baseline"]) + " |",
        "|---|---|---|---|",
    ]
    for stat, counts in flags_seen.items():
        cells = [str(counts.get(k, 0)) for k in ("own model", "pooled", "league_baseline")]
        out.append(f"| {stat} | " + " | ".join(cells) + " |")
    if not head_rows:
        out += ["", "No game was answered by a per-player model."]
        return "\n".join(out) + "\n"
    out += [
        "",
        "Per-player models against the pooled model on the games they answered (MAE of the mean):",
        "",
        "| stat | games | own model | pooled |",
        "|---|---|---|---|",
    ]
    for h in head_rows:
        out.append(f"| {h['stat']} | {h['games']} | {h['own']:.3f} | {h['pooled']:.3f} |")
    return "\n".join(out) + "\n"


def _summary(
    points: pd.DataFrame, ref_rows: list[dict[str, Any]], lines: pd.DataFrame
) -> list[str]:
    """The headline checks, computed from the tables below (nothing typed in by hand)."""
    out = []
    for stat in sorted(points["stat"].unique()):
        rows = points[points["stat"] == stat].set_index("predictor")
        model, last10 = rows.loc["model", "mae"], rows.loc["last_10", "mae"]
        if model.high < last10.low:
            verdict = "below"
        elif model.value < last10.value:
            verdict = "below, but the intervals overlap"
        else:
            verdict = "not below"
        out.append(f"- {stat}: MAE {model.value:.3f} vs last-10 {last10.value:.3f}: {verdict}.")
    calibrated = [r for r in ref_rows if r["predictor"] == "model"]
    if calibrated:
        worst = max(calibrated, key=lambda r: r["ece"].value)
        out.append(
            f"- Calibrated ECE at the reference line, every game: at most "
            f"{worst['ece'].value:.4f} ({worst['stat']})."
        )
    for stat in sorted(lines["stat"].unique()) if len(lines) else []:
        by = lines[lines["stat"] == stat].set_index("predictor")
        gap = by.loc["model", "brier_gap_vs_books"]
        side = "worse" if gap.value > 0 else "better"
        within = "within" if abs(gap.value) <= 0.005 else "not within"
        alone = (
            f"; the model alone {by.loc['model_alone', 'brier_gap_vs_books'].value:+.4f}"
            if "model_alone" in by.index
            else ""
        )
        out.append(
            f"- {stat} on real lines ({by.loc['model', 'lines']} lines): Brier "
            f"{gap.value:+.4f} against the books ({side}; {within} 0.005){alone}; "
            f"ECE {by.loc['model', 'ece'].value:.4f}, the books' "
            f"{by.loc['books_devigged', 'ece'].value:.4f}."
        )
    scored = set(lines["stat"].unique()) if len(lines) else set()
    without = sorted({r["stat"] for r in ref_rows} - scored)
    if without:
        out.append(
            f"- No real lines for {', '.join(without)} in the bundled files (they have none of "
            "those markets): scored at the reference line above and in the walk-forward below."
        )
    return out


def _layer_note(layers: dict[str, MarketLayer], season: str) -> list[str]:
    """The market layer: what it weighs, and which lines it saw."""
    if not layers:
        return []
    one = next(iter(layers.values()))
    return [
        "Given a book's two prices, the served P(over) at its line is the market layer's "
        f"(`statmuse-trainer fit-market`, docs/MARKET.md): expit({one.intercept:+.3f} "
        f"{one.book_weight:+.3f} × logit(the book's de-vigged P(over)) "
        f"{one.model_weight:+.3f} × logit(the model's own P(over))), fitted on {season}'s "
        f"real lines of {one.first_day} to {one.last_day}, all stats pooled, and served for "
        f"{', '.join(sorted(layers))}, where it beat the line blend on later lines. `model` "
        "below is that answer at each book's own price; `model_line_blend` is the answer "
        "without prices.",
        "",
    ]


def _blend_note(blends: dict[str, LineBlend], season: str) -> list[str]:
    """What the line weights saw: the only part of the models fitted on `season`."""
    if not blends:
        return []
    first = min(b.first_day for b in blends.values())
    last = max(b.last_day for b in blends.values())
    weights = ", ".join(f"{s} {b.weight:.2f}" for s, b in sorted(blends.items()))
    return [
        "At a sportsbook's line the served P(over) weighs our mean against the line: a line "
        "is the books' estimate, made with news our box scores lack (injuries, minutes, "
        "lineups). P(over) comes from the model's negative binomial (its own dispersion) "
        "centred on w × mean + (1 − w) × (line + offset), with w and the offset fitted per "
        "stat by maximum likelihood on earlier real lines (`statmuse-trainer fit-lines`). "
        f"Weight on our mean: {weights}. Those numbers are the only part of the models "
        f"fitted on {season}: on its real lines of {first} to {last}. Every real-line number "
        "below uses only later lines; the point predictions and the reference-line "
        "calibration do not use lines at all.",
        "",
    ]
