"""The objective and the spread of the model alone, against the books' lines (research).

Nothing here is used by the services. The checks behind docs/research/season-phase-and-spread.md:

    objective    one XGBoost per stat with a Poisson and with a squared-error objective (eta
                 0.05, depth 6, early stopping on validation), on every feature and on the
                 served bundle's: test deviance, and the model alone (negative binomial,
                 variance phi x mu, phi fitted on validation) minus the books at the lines
    spread       the served means with a constant-size negative binomial (variance mu +
                 mu^2 / r, r fitted on validation) against the served phi: validation
                 log-loss and Brier minus the books at the lines
    dispersions  per-player phi against the pooled phi: log-loss on the test season, and the
                 forward check training now applies (fitted on the validation games before
                 the median day, scored on the later ones)
    periods      the served model alone (calibrated) minus the books on every line, by
                 period of the season, and for pra, by how far our mean is from the line:
                 how often the over went and what the minutes did
    bymean       the calibration map fitted per band of the served mean (2 to 5 bands,
                 quantiles of the validation means) against the one pooled map: Brier at
                 the reference line on every test game, and the model alone minus the
                 books on every line
    layerlines   the market layer's three numbers fitted on every book's line before the
                 cutoff instead of one prop per player, stat and day: Brier minus the books
                 and ECE on the later days, on props and on every line
    parts        pra's mean as the sum of the points, rebounds and assists bundles' means
                 against its own bundle's: deviance on validation and test, and the model
                 alone minus the books at the lines (pooled phi fitted on validation, with
                 and without a calibration map fitted as training fits it)
    calforward   the calibration map judged forward in time as per-player spreads are: fitted
                 on the validation games before the median day, its Brier on the later games'
                 CDF pairs against the raw CDF's (z with days as clusters); beside it, the
                 served map's change on the test season's pairs

Lines: one prop per player, stat and day of 2023-24 (the books' modal line, their mean
de-vigged price at it, pushes dropped), from `data/nba/prop_lines/`; "late" is after
2024-03-15. The documented run used the held-out bundles of commit a4430d9 (`git worktree add
/tmp/a4430d9 a4430d9`, then `--models /tmp/a4430d9/models/holdout-2023-24`).

    .venv/bin/python bench/research/objective_and_spread.py --dataset var/datasets/<hash> \\
        --models models/holdout-2023-24 [--checks objective,spread,dispersions,periods]

(bymean, layerlines, parts and calforward run only when named in --checks.)
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy import optimize

from statmuse_shared.models.count import CountModel
from statmuse_trainer.lines import join_lines, match_frame
from statmuse_trainer.training.calibration import cdf_pairs, fit_calibration
from statmuse_trainer.training.market import consensus, ece, fit_coefficients, props_of
from statmuse_trainer.training.negbin import fit_dispersion_mle, nb_logpmf, player_dispersions
from statmuse_trainer.training.served import (
    given_no_push,
    layer_over,
    line_odds,
    nb_line_odds,
    served_means,
)
from statmuse_trainer.training.stat_data import pooled_rows, reference_lines, without_reports

REPO = Path(__file__).resolve().parents[2]
LINE_STATS = ("points", "rebounds", "assists", "pra")
ALL_STATS = (*LINE_STATS, "threes", "steals", "blocks", "turnovers")
LATE = np.datetime64("2024-03-15")


def nb_loss(y: np.ndarray, mu: np.ndarray, phi: np.ndarray | float) -> np.ndarray:
    """Negative binomial negative log-likelihood per row, variance phi x mu (the served NB)."""
    return -nb_logpmf(y, mu, phi)


def p_over(mu: np.ndarray, phi: np.ndarray | float, line: np.ndarray) -> np.ndarray:
    """P(over | no push) of the served negative binomial at each line, uncalibrated."""
    under, _, over = nb_line_odds(mu, np.broadcast_to(phi, np.shape(mu)), line)
    return given_no_push(under, over)


def fit_size(y: np.ndarray, mu: np.ndarray) -> float:
    """The size r of a negative binomial with variance mu + mu^2 / r, by maximum likelihood."""
    res = optimize.minimize_scalar(
        lambda lr: float(np.sum(nb_loss(y, mu, 1 + mu / np.exp(lr)))),
        bounds=(-3, 8),
        method="bounded",
    )
    return float(np.exp(res.x))


def deviance(y: np.ndarray, mu: np.ndarray) -> float:
    t = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0.0)
    return float(np.mean(2 * (t - (y - mu))))


def props(test: pd.DataFrame, matched: pd.DataFrame, stat: str) -> pd.DataFrame:
    j = join_lines(test, matched, stat)
    rows = consensus(j)
    out = pd.DataFrame(
        {
            "row": [r for r, _, _ in rows],
            "line": [v for _, v, _ in rows],
            "books": [j.books[at].mean() for _, _, at in rows],
            "y": [j.went_over[at[0]] for _, _, at in rows],
        }
    )
    out["late"] = pd.to_datetime(test["game_date"]).to_numpy()[out["row"]] > LATE
    return out


def gap(p: np.ndarray, pr: pd.DataFrame, mask: np.ndarray) -> float:
    y, b = pr["y"].to_numpy()[mask], pr["books"].to_numpy()[mask]
    return float(np.mean((p[mask] - y) ** 2) - np.mean((b - y) ** 2))


def objective(tr, va, te, matched, models: Path) -> None:
    every = [c for c in tr.columns if c.startswith("f_")]
    for stat in LINE_STATS:
        model = CountModel.from_bytes((models / f"{stat}.npz").read_bytes())
        served = [f"f_{c}" for c in model.header.features]
        lab = f"label_{stat}"
        pr = props(te, matched, stat)
        rows, line = pr["row"].to_numpy(), pr["line"].to_numpy()
        late = pr["late"].to_numpy()
        for name, cols in (("all", every), ("served", served)):
            for obj in ("count:poisson", "reg:squarederror"):
                dtr = xgb.DMatrix(tr[cols].to_numpy(np.float32), label=tr[lab])
                dva = xgb.DMatrix(va[cols].to_numpy(np.float32), label=va[lab])
                params = {"objective": obj, "eta": 0.05, "max_depth": 6, "subsample": 0.8,
                          "colsample_bytree": 0.8, "min_child_weight": 5, "nthread": 2,
                          "seed": 7}  # fmt: skip
                b = xgb.train(params, dtr, 1000, evals=[(dva, "va")],
                              early_stopping_rounds=50, verbose_eval=False)  # fmt: skip
                it = (0, b.best_iteration + 1)
                mv = np.maximum(b.predict(dva, iteration_range=it), 0.05)
                phi = fit_dispersion_mle(va[lab].to_numpy(float), mv)
                dte = xgb.DMatrix(te[cols].to_numpy(np.float32))
                mt = np.maximum(b.predict(dte, iteration_range=it), 0.05)
                p = p_over(mt[rows], phi, line)
                print(
                    f"objective {stat:9s} {name:6s} {obj:17s} test deviance "
                    f"{deviance(te[lab].to_numpy(float), mt):.4f} | model alone - books: "
                    f"all {gap(p, pr, np.ones_like(late)):+.4f} late {gap(p, pr, late):+.4f}",
                    flush=True,
                )


def spread(va, te, matched, models: Path) -> None:
    for stat in LINE_STATS:
        model = CountModel.from_bytes((models / f"{stat}.npz").read_bytes())
        y = va[f"label_{stat}"].to_numpy(float)
        mv, phv, _ = served_means(model, va)
        ok = ~np.isnan(y)
        size = fit_size(y[ok], mv[ok])
        wide_loss = float(np.mean(nb_loss(y[ok], mv[ok], 1 + mv[ok] / size)))
        served_loss = float(np.mean(nb_loss(y[ok], mv[ok], phv[ok])))
        pr = props(te, matched, stat)
        rows, line, late = pr["row"].to_numpy(), pr["line"].to_numpy(), pr["late"].to_numpy()
        mt, pht, _ = served_means(model, te)
        wide = p_over(mt[rows], 1 + mt[rows] / size, line)  # variance mu + mu^2 / size
        own = p_over(mt[rows], pht[rows], line)
        yt = te[f"label_{stat}"].to_numpy(float)
        print(f"spread {stat:9s} the served mean's test deviance {deviance(yt, mt):.4f}")
        print(
            f"spread {stat:9s} validation log-loss: constant size {wide_loss:.4f}, "
            f"served {served_loss:.4f} | late props minus books: constant size "
            f"{gap(wide, pr, late):+.4f}, served {gap(own, pr, late):+.4f}",
            flush=True,
        )


def dispersions(va, te, models: Path) -> None:
    rng = np.random.default_rng(0)
    for stat in ALL_STATS:
        model = CountModel.from_bytes((models / f"{stat}.npz").read_bytes())
        mu, phi, flags = served_means(model, te)
        y = te[f"label_{stat}"].to_numpy(float)
        base = np.array([f == "league_baseline" for f in flags])
        ok = ~np.isnan(y)
        pooled = np.where(base, phi, model.header.dispersion)
        d = (nb_loss(y, mu, phi) - nb_loss(y, mu, pooled))[ok]
        days = te["game_date"].to_numpy()[ok]
        uniq, inv = np.unique(days, return_inverse=True)
        per_day = np.bincount(inv, weights=d)
        per_day_n = np.bincount(inv)
        boots = []
        for _ in range(500):
            w = rng.multinomial(len(uniq), np.full(len(uniq), 1 / len(uniq)))
            boots.append(np.sum(w * per_day) / np.sum(w * per_day_n))
        lo, hi = np.quantile(boots, [0.025, 0.975])
        # The forward check, on the validation season (threes: none in 2022-23).
        v = va[va[f"label_{stat}"].notna()].reset_index(drop=True)
        if v.empty:
            print(f"dispersions {stat:9s} test log-loss per game, per-player minus pooled "
                  f"{d.mean():+.5f} [{lo:+.5f}, {hi:+.5f}] | no validation games")  # fmt: skip
            continue
        vm, _, vf = served_means(model, v)
        keep = np.array([f != "league_baseline" for f in vf])
        vy = v[f"label_{stat}"].to_numpy(float)[keep]
        vm, v = vm[keep], v[keep]
        vd = pd.to_datetime(v["game_date"]).to_numpy()
        cut = np.sort(vd)[len(vd) // 2]
        a, b = vd < cut, vd >= cut
        first = fit_dispersion_mle(vy[a], vm[a])
        own = player_dispersions(v["player_id"].to_numpy()[a], vy[a], vm[a], first)
        pb = np.array([own.get(int(p), first) for p in v["player_id"].to_numpy()[b]])
        fwd = np.mean(nb_loss(vy[b], vm[b], pb) - nb_loss(vy[b], vm[b], first))
        print(
            f"dispersions {stat:9s} test log-loss per game, per-player minus pooled "
            f"{d.mean():+.5f} [{lo:+.5f}, {hi:+.5f}] | forward check on validation {fwd:+.5f}",
            flush=True,
        )


def periods(te, matched, models: Path) -> None:
    day = pd.to_datetime(te["game_date"]).to_numpy()
    playoffs = te["f_is_playoffs"].to_numpy() == 1
    for stat in (*LINE_STATS, "threes"):
        model = CountModel.from_bytes((models / f"{stat}.npz").read_bytes())
        mu, phi, _ = served_means(model, te)
        j = join_lines(te, matched, stat)
        under, _, over = line_odds(model, mu[j.row], phi[j.row], j.line, calibrated=True)
        sq = (given_no_push(under, over) - j.went_over) ** 2 - (j.books - j.went_over) ** 2
        d, po = day[j.row], playoffs[j.row]
        parts = {
            "to Mar 15": d <= LATE,
            "Mar 16 to Apr 9": (d > LATE) & (d < np.datetime64("2024-04-10")) & ~po,
            "Apr 10 to 14": (d >= np.datetime64("2024-04-10")) & ~po,
            "playoffs": po,
        }
        cells = [f"{k} {sq[m].mean():+.4f} (n {m.sum()})" for k, m in parts.items() if m.any()]
        print(f"periods {stat:9s} model alone - books, every line: " + "; ".join(cells))
        if stat != "pra":
            continue
        frame = pd.DataFrame(
            {
                "row": j.row,
                "gap": mu[j.row] - j.line,
                "over": j.went_over,
                "minutes_drop": te["label_minutes"].to_numpy()[j.row]
                - te["f_minutes_sma_10"].to_numpy()[j.row],
                "missed": te["f_games_missed"].to_numpy()[j.row],
                "out_n": te["f_out_n"].to_numpy()[j.row],
            }
        ).drop_duplicates("row")
        bins = pd.cut(frame["gap"], [-99, -4, -2, 0, 2, 4, 99])
        table = frame.groupby(bins, observed=True).agg(
            props=("over", "size"),
            over=("over", "mean"),
            minutes_vs_last10=("minutes_drop", "mean"),
            games_missed=("missed", "mean"),
            teammates_out=("out_n", "mean"),
        )
        print("periods pra by our mean minus the line (one row per player and day):")
        print(table.round(3).to_string())


def _usable(frame: pd.DataFrame, model: CountModel, stat: str):
    """The rows a stat's model answers itself, with a label: (rows, mu, phi, y)."""
    rows = frame[pooled_rows(frame, stat).to_numpy()].reset_index(drop=True)
    mu, phi, _ = served_means(model, rows)
    y = rows[f"label_{stat}"].to_numpy(np.float64)
    ok = ~np.isnan(y)
    return rows[ok].reset_index(drop=True), mu[ok], phi[ok], y[ok]


def _over(mu, phi, line, maps, band) -> np.ndarray:
    """P(over | no push) through each row's band's calibration map."""
    p = np.empty(len(mu))
    for b, knots in enumerate(maps):
        m = band == b
        if m.any():
            under, _, over = nb_line_odds(mu[m], phi[m], line[m], calibration=knots)
            p[m] = given_no_push(under, over)
    return p


def bymean(va, te, matched, models: Path) -> None:
    for stat in LINE_STATS:
        model = CountModel.from_bytes((models / f"{stat}.npz").read_bytes())
        v, vmu, vphi, vy = _usable(va, model, stat)
        t, tmu, tphi, ty = _usable(te, model, stat)
        # The served map on the validation season, at the half point above each mean.
        above = np.floor(vmu) + 0.5
        _, _, p_above = nb_line_odds(vmu, vphi, above, calibration=(model.cal_x, model.cal_y))
        q = np.quantile(vmu, [0.5, 0.75, 0.9])
        level = [
            f"mean {lo:.0f} to {hi:.0f}: P {p_above[m].mean():.3f}, "
            f"over {(vy > above)[m].mean():.3f}"
            for lo, hi in ((q[0], q[1]), (q[1], q[2]), (q[2], np.inf))
            for m in [(vmu >= lo) & (vmu < hi)]
        ]
        print(f"bymean {stat:9s} validation, at floor(mean) + 0.5: " + "; ".join(level))
        vref, tref = reference_lines(v, stat), reference_lines(t, stat)
        went = (ty > tref).astype(float)
        mu, phi, _ = served_means(model, te)
        last = max(b.last_day for b in (model.header.line_blend, model.header.market_layer) if b)
        j = join_lines(te, [(p, x) for p, x in matched if x.game_date > last], stat)
        cells = []
        for bands in (1, 2, 3, 5):
            edges = np.quantile(vmu, np.linspace(0, 1, bands + 1)[1:-1])
            maps = [
                fit_calibration(*cdf_pairs(vy[m], vmu[m], vphi[m], vref[m]))
                for m in (np.digitize(vmu, edges) == b for b in range(bands))
            ]
            ref = _over(tmu, tphi, tref, maps, np.digitize(tmu, edges))
            at = _over(mu[j.row], phi[j.row], j.line, maps, np.digitize(mu[j.row], edges))
            lines = np.mean((at - j.went_over) ** 2) - np.mean((j.books - j.went_over) ** 2)
            cells.append(
                f"{bands} band(s): reference-line Brier {np.mean((ref - went) ** 2):.5f}, "
                f"lines minus books {lines:+.4f}, mean P(over) at the lines {at.mean():.3f}"
            )
        print(
            f"bymean {stat:9s} (over rate at the lines {j.went_over.mean():.3f}): "
            + "; ".join(cells)
        )


def layerlines(te, matched, models: Path) -> None:
    """Props (one per player, stat and day) as `fit_market` makes them, and every book's line;
    the layer is fitted on days up to LATE without who is out, scored on later days."""
    stats = (*LINE_STATS, "threes")
    unreported = without_reports(te, share=1.0)
    day = pd.to_datetime(te["game_date"]).to_numpy()
    cut = pd.Timestamp(LATE).date()
    early_props, early_lines, later_props, later_lines = {}, {}, {}, {}
    for stat in stats:
        model = CountModel.from_bytes((models / f"{stat}.npz").read_bytes())
        j = join_lines(te, matched, stat)
        fitted, scored = props_of(model, unreported, j), props_of(model, te, j)
        early_props[stat] = fitted.where(fitted.day <= cut)
        later_props[stat] = scored.where(scored.day > cut)
        for store, frame, keep in (
            (early_lines, unreported, day[j.row] <= LATE),
            (later_lines, te, day[j.row] > LATE),
        ):
            mu, phi, _ = served_means(model, frame)
            under, _, over = nb_line_odds(np.maximum(mu[j.row], 0.05), phi[j.row], j.line)
            own = given_no_push(under, over)
            store[stat] = (j.books[keep], own[keep], j.went_over[keep])
    fields = ("books", "model", "went_over")
    coefs = {
        "props": fit_coefficients(
            *(np.concatenate([getattr(early_props[s], f) for s in stats]) for f in fields)
        ),
        "every line": fit_coefficients(
            *(np.concatenate([early_lines[s][i] for s in stats]) for i in range(3))
        ),
    }
    for name, c in coefs.items():
        print(f"layerlines fitted on {name}: {c[0]:+.4f}, books {c[1]:.4f}, model {c[2]:.4f}")
    for stat in stats:
        pr = later_props[stat]
        books, own, y = later_lines[stat]
        for name, c in coefs.items():
            p, q = layer_over(c, pr.books, pr.model), layer_over(c, books, own)
            on_props = np.mean((p - pr.went_over) ** 2) - np.mean((pr.books - pr.went_over) ** 2)
            on_lines = np.mean((q - y) ** 2) - np.mean((books - y) ** 2)
            print(
                f"layerlines {stat:9s} fitted on {name:10s}: props minus books {on_props:+.4f}, "
                f"ECE {ece(p, pr.went_over):.4f}; every line minus books {on_lines:+.4f}, "
                f"ECE {ece(q, y):.4f} (books {ece(books, y):.4f})"
            )


def _poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    safe = np.maximum(y, 1.0)
    return float(np.mean(2 * (np.where(y > 0, y * np.log(safe / mu), 0.0) - (y - mu))))


def parts(va, te, matched, models: Path) -> None:
    bundles = {
        s: CountModel.from_bytes((models / f"{s}.npz").read_bytes())
        for s in ("pra", "points", "rebounds", "assists")
    }

    def means(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {
            "own": served_means(bundles["pra"], frame)[0],
            "sum of parts": sum(
                served_means(bundles[s], frame)[0] for s in ("points", "rebounds", "assists")
            ),
        }

    on = {}
    for name, frame in (("validation", va), ("test", te)):
        y = frame["label_pra"].to_numpy(np.float64)
        ok = ~np.isnan(y) & pooled_rows(frame, "pra").to_numpy()
        on[name] = (means(frame), y, ok)
        for label, mu in on[name][0].items():
            print(
                f"parts pra {name:10s} {label:12s}: deviance "
                f"{_poisson_deviance(y[ok], mu[ok]):.4f}, MAE {np.mean(np.abs(y - mu)[ok]):.4f}"
            )
    model = bundles["pra"]
    last = max(b.last_day for b in (model.header.line_blend, model.header.market_layer) if b)
    j = join_lines(te, [(p, x) for p, x in matched if x.game_date > last], "pra")
    (vmeans, vy, vok), (tmeans, _, _) = on["validation"], on["test"]
    ref = reference_lines(va[vok], "pra")
    for label in vmeans:
        mu_v = vmeans[label][vok]
        phi = fit_dispersion_mle(vy[vok], mu_v)
        knots = fit_calibration(*cdf_pairs(vy[vok], mu_v, np.full(len(mu_v), phi), ref))
        mu_t = tmeans[label][j.row]
        cells = []
        for name, cal in (("raw", None), ("calibrated", knots)):
            under, _, over = nb_line_odds(mu_t, np.full(len(mu_t), phi), j.line, calibration=cal)
            p = given_no_push(under, over)
            gap_ = np.mean((p - j.went_over) ** 2) - np.mean((j.books - j.went_over) ** 2)
            cells.append(f"{name} {gap_:+.4f}")
        print(f"parts pra {label:12s} (phi {phi:.2f}) minus books, every line: " + ", ".join(cells))


def _pair_rows(y, mu, phi, lines) -> tuple[np.ndarray, np.ndarray]:
    """`cdf_pairs` (what training fits the map on) kept one row per game."""
    f, hit = cdf_pairs(y, mu, phi, lines)
    return f.reshape(len(y), -1), hit.reshape(len(y), -1)


def calforward(va, te, models: Path) -> None:
    for stat in ALL_STATS:
        model = CountModel.from_bytes((models / f"{stat}.npz").read_bytes())
        v, mu, phi, y = _usable(va, model, stat)
        if len(v) < 100:
            print(f"calforward {stat:9s} too few validation games ({len(v)})")
            continue
        ref = reference_lines(v, stat)
        days = pd.to_datetime(v["game_date"]).to_numpy()
        cut = np.sort(days)[len(days) // 2]
        early, late = days < cut, days >= cut
        knots = fit_calibration(*cdf_pairs(y[early], mu[early], phi[early], ref[early]))
        f, hit = _pair_rows(y[late], mu[late], phi[late], ref[late])
        diff = ((np.interp(f, *knots) - hit) ** 2 - (f - hit) ** 2).mean(axis=1)
        change = float(diff.mean())
        _, day = np.unique(days[late], return_inverse=True)
        per_day, games = np.bincount(day, weights=diff), np.bincount(day).astype(float)
        n = len(per_day)
        se = np.sqrt(np.sum((per_day - change * games) ** 2) * n / max(n - 1, 1)) / games.sum()
        t, tmu, tphi, ty = _usable(te, model, stat)
        f2, hit2 = _pair_rows(ty, tmu, tphi, reference_lines(t, stat))
        served = ((np.interp(f2, model.cal_x, model.cal_y) - hit2) ** 2 - (f2 - hit2) ** 2).mean()
        print(
            f"calforward {stat:9s} later validation games, calibrated minus raw: {change:+.5f} "
            f"(z {change / se:+.2f}); test, the served map: {served:+.5f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--models", type=Path, default=REPO / "models/holdout-2023-24")
    ap.add_argument("--checks", default="objective,spread,dispersions,periods")
    args = ap.parse_args()
    checks = set(args.checks.split(","))
    tr = pd.read_parquet(args.dataset / "train.parquet")
    va = pd.read_parquet(args.dataset / "validation.parquet")
    te = pd.read_parquet(args.dataset / "test.parquet")
    te = te[te["season"] == "2023-24"].reset_index(drop=True)
    matched, _ = match_frame(te, REPO / "data/nba/prop_lines")
    if "objective" in checks:
        objective(tr, va, te, matched, args.models)
    if "spread" in checks:
        spread(va, te, matched, args.models)
    if "dispersions" in checks:
        dispersions(va, te, args.models)
    if "periods" in checks:
        periods(te, matched, args.models)
    if "bymean" in checks:
        bymean(va, te, matched, args.models)
    if "layerlines" in checks:
        layerlines(te, matched, args.models)
    if "parts" in checks:
        parts(va, te, matched, args.models)
    if "calforward" in checks:
        calforward(va, te, args.models)


if __name__ == "__main__":
    main()
