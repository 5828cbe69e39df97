"""Does modelling minutes explicitly help the model alone? (research; nothing here is served)

Three ways to the mean of a stat, each one XGBoost Poisson model per part (the same settings
as `feature_candidates.py`: depth 6, eta 0.1, up to 400 rounds with early stopping on
validation), on a leak-free dataset (train 2017-18..2021-22, validation 2022-23, test
2023-24), every feature of it (`f_*`):

    direct    stat ~ features
    minutes   minutes ~ features (E[minutes]) times a per-minute rate: stat ~ features with
              the game's own log(minutes) as exposure (Poisson offset); served, the rate is
              multiplied by the predicted minutes (the rate and minutes taken as independent)
    stacked   direct, with the minutes model's prediction as one more feature (out of fold on
              the training seasons: each season's minutes predicted by a model of the others)

Reported: test Poisson deviance and MAE (differences against direct, 95% interval resampling
game dates), and on the 2023-24 real lines the Brier of the model alone at the books' modal
line (negative binomial, dispersion fitted on validation) against the books'.

    .venv/bin/python bench/research/minutes_structure.py --dataset var/datasets/<version>
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feature_candidates import (  # noqa: E402
    boot_ci,
    load_lines,
    load_logs,
    nb_fit_r,
    nb_p_over,
    poisson_dev,
)

from statmuse_shared.contract.names import normalize_name  # noqa: E402

STATS = ("points", "rebounds", "assists", "pra")
MIN_EXPOSURE = 1.0  # a game of 0 or 1 minutes counts as one minute of exposure


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def train(
    x: np.ndarray,
    y: np.ndarray,
    fit: np.ndarray,
    val: np.ndarray,
    *,
    objective: str,
    nthread: int,
    margin: np.ndarray | None = None,
) -> xgb.Booster:
    params = {
        "objective": objective,
        "eta": 0.1,
        "max_depth": 6,
        "subsample": 0.8,
        "colsample_bytree": 0.5,
        "tree_method": "hist",
        "max_bin": 128,
        "nthread": nthread,
        "seed": 0,
    }
    if objective == "count:poisson":
        params["max_delta_step"] = 0.7
    dtr = xgb.DMatrix(x[fit], label=y[fit])
    dva = xgb.DMatrix(x[val], label=y[val])
    if margin is not None:
        dtr.set_base_margin(margin[fit])
        dva.set_base_margin(margin[val])
    return xgb.train(
        params,
        dtr,
        num_boost_round=400,
        evals=[(dva, "va")],
        early_stopping_rounds=30,
        verbose_eval=False,
    )


def predict(bst: xgb.Booster, x: np.ndarray, margin: np.ndarray | None = None) -> np.ndarray:
    d = xgb.DMatrix(x)
    if margin is not None:
        d.set_base_margin(margin)
    return np.asarray(bst.predict(d, iteration_range=(0, bst.best_iteration + 1)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--nthread", type=int, default=2)
    args = ap.parse_args()
    D = pd.concat(
        [pd.read_parquet(args.dataset / f"{s}.parquet") for s in ("train", "validation", "test")],
        ignore_index=True,
    )
    D["game_date"] = pd.to_datetime(D["game_date"]).astype("datetime64[ns]")
    fcols = [c for c in D.columns if c.startswith("f_")]
    X = D[fcols].to_numpy(np.float32)
    split = D["split"].to_numpy()
    tr, va, te = split == "train", split == "validation", split == "test"
    minutes = D["label_minutes"].to_numpy(float)
    log(f"{len(D)} rows, {len(fcols)} features")

    # E[minutes]: on validation and test from a model of the training seasons; on each
    # training season from a model of the other training seasons (out of fold, for stacking).
    mbst = train(X, minutes, tr, va, objective="reg:squarederror", nthread=args.nthread)
    m_hat = np.full(len(D), np.nan)
    m_hat[va | te] = predict(mbst, X[va | te])
    seasons = D["season"].to_numpy()
    for season in np.unique(seasons[tr]):
        held = tr & (seasons == season)
        b = train(X, minutes, tr & ~held, va, objective="reg:squarederror", nthread=args.nthread)
        m_hat[held] = predict(b, X[held])
        log(f"minutes, out of fold for {season}")
    m_hat = np.maximum(m_hat, 0.0)
    err = np.abs(m_hat[te] - minutes[te]).mean()
    last10 = np.abs(D["f_minutes_sma_10"].to_numpy()[te] - minutes[te])
    log(f"minutes model: test MAE {err:.2f} min (last-10 mean: {np.nanmean(last10):.2f})")
    Xs = np.column_stack([X, m_hat.astype(np.float32)])
    exposure = np.log(np.maximum(minutes, MIN_EXPOSURE))

    preds: dict[tuple[str, str], np.ndarray] = {}
    for stat in STATS:
        y = D[f"label_{stat}"].to_numpy(float)
        ok = ~np.isnan(y)
        t0 = time.time()
        direct = train(X, y, tr & ok, va & ok, objective="count:poisson", nthread=args.nthread)
        rate = train(
            X,
            y,
            tr & ok,
            va & ok,
            objective="count:poisson",
            nthread=args.nthread,
            margin=exposure,
        )
        stacked = train(Xs, y, tr & ok, va & ok, objective="count:poisson", nthread=args.nthread)
        out = va | te
        p = {name: np.full(len(D), np.nan) for name in ("direct", "minutes", "stacked")}
        p["direct"][out] = predict(direct, X[out])
        # the rate per minute (a zero offset), times the expected minutes
        p["minutes"][out] = predict(rate, X[out], np.zeros(int(out.sum()))) * np.maximum(
            m_hat[out], MIN_EXPOSURE
        )
        p["stacked"][out] = predict(stacked, Xs[out])
        for name, v in p.items():
            preds[(name, stat)] = v
        log(f"{stat}: three models in {time.time() - t0:.0f}s")

    dates = D["game_date"].to_numpy()
    print("\n=== test Poisson deviance and MAE; difference against direct [95%, by game date]")
    for stat in STATS:
        y = D[f"label_{stat}"].to_numpy(float)
        m = te & ~np.isnan(y)
        base = preds[("direct", stat)]
        for name in ("direct", "minutes", "stacked"):
            q = preds[(name, stat)]
            dev = poisson_dev(y[m], q[m])
            mae = np.abs(y[m] - q[m]).mean()
            line = f"{stat:9s} {name:8s} deviance {dev.mean():.4f} MAE {mae:.3f}"
            if name != "direct":
                d = dev - poisson_dev(y[m], base[m])
                mean_d, lo, hi, _, _ = boot_ci(d, dates[m], B=1000)
                line += f"  vs direct {mean_d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
            print(line, flush=True)

    _, teams = load_logs()
    lines = load_lines(teams)
    D["name"] = D["player_name"].map(normalize_name)
    Xt = D[te].reset_index()
    print("\n=== 2023-24 real lines: model alone at the books' modal line (pushes dropped)")
    for stat in STATS:
        j = lines[lines["market"] == stat].merge(
            Xt[["index", "name", "game_date", f"label_{stat}"]], on=["name", "game_date"]
        )
        j = j.drop_duplicates(["name", "game_date"], keep=False)
        y = j[f"label_{stat}"].to_numpy(float)
        line = j["line"].to_numpy(float)
        keep = y != line
        j, y, line = j[keep], y[keep], line[keep]
        went = (y > line).astype(float)
        idx = j["index"].to_numpy()
        books = ((j["p_book"].to_numpy() - went) ** 2).mean()
        yv = D.loc[va, f"label_{stat}"].to_numpy(float)
        okv = ~np.isnan(yv)
        base_sq = None
        for name in ("direct", "minutes", "stacked"):
            q = preds[(name, stat)]
            r = nb_fit_r(yv[okv], q[va][okv])
            sq = (nb_p_over(q[idx], r, line) - went) ** 2
            text = f"{stat:9s} {name:8s} {len(j)} lines, model - books {sq.mean() - books:+.4f}"
            if base_sq is None:
                base_sq = sq
            else:
                mean_d, lo, hi, _, _ = boot_ci(sq - base_sq, j["game_date"].to_numpy(), B=2000)
                text += f"  vs direct {mean_d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
            print(text, flush=True)


if __name__ == "__main__":
    main()
