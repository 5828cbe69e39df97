"""Does where a team stands in its season help the model alone at the books' lines? (research)

Nothing here is used by the services. The model alone is worst, against the books, late in the
regular season and in the playoffs (docs/research/season-phase-and-spread.md). This script
trains one XGBoost Poisson regressor per stat and configuration (depth 6, eta 0.05, subsample
and column sample 0.8, up to --rounds trees with early stopping on validation, two threads) on
a leak-free dataset (train 2017-18..2021-22, validation 2022-23, test 2023-24) and adds
candidate inputs computed from the bundled box scores, all strictly before the game's day:

    base  the dataset's f_* features
    +E    season phase: the team's regular-season games played and win share so far, the
          opponent's, the team's rank by win share in its conference, games behind 6th and
          10th place, the games left (82 minus played; 72 in 2020-21; 2019-20, cut short,
          counts as 82: training rows only)
    +P    playoffs: the player's playoff games and playoff minutes so far this season, the
          team's playoff game number
    +EP   both

It reports test Poisson deviance and, on the 2023-24 real lines, the model alone's Brier at
the books' modal line (one prop per player, stat and day; negative binomial with a dispersion
fitted on validation) minus the books' de-vigged Brier, by period, with paired bootstrap
intervals resampling game dates for the difference against base.

    .venv/bin/python bench/research/season_phase.py --dataset var/datasets/<hash>
"""

import argparse
import glob
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from objective_and_spread import (  # the script beside this one
    deviance,
    fit_size,
    p_over,
)
from objective_and_spread import props as one_prop_a_day

from statmuse_trainer.lines import match_frame

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data/nba"
STATS = ("points", "rebounds", "assists", "pra")
EAST = {
    "ATL", "BOS", "BKN", "CHA", "CHI", "CLE", "DET", "IND", "MIA", "MIL", "NYK", "ORL",
    "PHI", "TOR", "WAS",
}  # fmt: skip
T0 = time.time()


def log(msg: str) -> None:
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


def team_games() -> pd.DataFrame:
    """One row per team and game from the player logs: date, season, type, opponent, win."""
    frames = []
    for f in sorted(glob.glob(str(DATA / "player_game_logs/*.csv.gz"))):
        p = pd.read_csv(f, dtype={"GAME_ID": str})
        g = p.groupby(["GAME_ID", "TEAM_ABBREVIATION"], as_index=False).agg(
            season=("SEASON", "first"),
            season_type=("SEASON_TYPE", "first"),
            game_date=("GAME_DATE", "first"),
            matchup=("MATCHUP", "first"),
            wl=("WL", "first"),
        )
        frames.append(g)
    g = pd.concat(frames, ignore_index=True).rename(columns={"TEAM_ABBREVIATION": "team"})
    g["game_date"] = pd.to_datetime(g["game_date"])
    g["opponent"] = g["matchup"].str[-3:]
    g["win"] = (g["wl"] == "W").astype(float)
    return g.drop(columns=["matchup", "wl"])


def standings(g: pd.DataFrame) -> pd.DataFrame:
    """Per (season, team, day of a game): regular-season games, wins, rank and games behind
    within the conference, as of the start of that day."""
    reg = g[g["season_type"] == "Regular Season"].sort_values("game_date")
    rows = []
    for season, s in reg.groupby("season"):
        days = sorted(g.loc[g["season"] == season, "game_date"].unique())
        teams = sorted(s["team"].unique())
        for day in days:
            before = s[s["game_date"] < day]
            gp = before.groupby("team").size().reindex(teams, fill_value=0)
            w = before.groupby("team")["win"].sum().reindex(teams, fill_value=0.0)
            tab = pd.DataFrame({"gp": gp, "w": w})
            tab["l"] = tab["gp"] - tab["w"]
            tab["pct"] = np.where(tab["gp"] > 0, tab["w"] / tab["gp"].clip(lower=1), 0.5)
            tab["east"] = [t in EAST for t in tab.index]
            for _, conf in tab.groupby("east"):
                order = conf.sort_values(["pct", "w"], ascending=False)
                rank = np.arange(1, len(order) + 1)
                six, ten = order.iloc[min(5, len(order) - 1)], order.iloc[min(9, len(order) - 1)]
                for r, (team, row) in zip(rank, order.iterrows(), strict=True):
                    rows.append(
                        {
                            "season": season,
                            "team": team,
                            "game_date": day,
                            "gp": row["gp"],
                            "pct": row["pct"],
                            "rank": float(r),
                            "gb6": ((six["w"] - row["w"]) + (row["l"] - six["l"])) / 2,
                            "gb10": ((ten["w"] - row["w"]) + (row["l"] - ten["l"])) / 2,
                        }
                    )
    return pd.DataFrame(rows)


def candidates(ds: pd.DataFrame, g: pd.DataFrame, st: pd.DataFrame) -> pd.DataFrame:
    """The E and P columns for the dataset's rows (player, day)."""
    logs = pd.concat(
        [
            pd.read_csv(
                f,
                usecols=[
                    "SEASON",
                    "SEASON_TYPE",
                    "GAME_DATE",
                    "PLAYER_ID",
                    "TEAM_ABBREVIATION",
                    "MIN",
                ],
            )  # fmt: skip
            for f in sorted(glob.glob(str(DATA / "player_game_logs/*.csv.gz")))
        ],
        ignore_index=True,
    )
    logs["game_date"] = pd.to_datetime(logs["GAME_DATE"])
    key = ds[["player_id", "game_date"]].copy()
    key["game_date"] = pd.to_datetime(key["game_date"])
    me = logs.rename(columns={"PLAYER_ID": "player_id", "TEAM_ABBREVIATION": "team"})
    me = me[["player_id", "game_date", "team", "SEASON", "SEASON_TYPE"]]
    key = key.merge(me, on=["player_id", "game_date"], how="left")
    key = key.merge(g[["team", "game_date", "opponent"]], on=["team", "game_date"], how="left")
    s = st.rename(columns={"season": "SEASON"})
    key = key.merge(s, on=["SEASON", "team", "game_date"], how="left")
    opp = s.rename(columns={"team": "opponent", "pct": "opp_pct", "gp": "opp_gp"})
    key = key.merge(opp[["SEASON", "opponent", "game_date", "opp_pct"]], how="left")
    length = np.where(key["SEASON"] == "2020-21", 72.0, 82.0)
    out = pd.DataFrame(index=ds.index)
    out["e_team_gp"] = key["gp"].to_numpy()
    out["e_games_left"] = np.clip(length - key["gp"].to_numpy(), 0, None)
    out["e_team_pct"] = key["pct"].to_numpy()
    out["e_opp_pct"] = key["opp_pct"].to_numpy()
    out["e_conf_rank"] = key["rank"].to_numpy()
    out["e_gb6"] = key["gb6"].to_numpy()
    out["e_gb10"] = key["gb10"].to_numpy()
    # Playoffs so far this season, strictly before the day.
    po = logs[logs["SEASON_TYPE"] == "Playoffs"].sort_values("game_date")
    po = po.rename(columns={"PLAYER_ID": "player_id"})
    po["n"] = po.groupby(["player_id", "SEASON"]).cumcount()
    po["min_sum"] = po.groupby(["player_id", "SEASON"])["MIN"].cumsum() - po["MIN"]
    k2 = key[["player_id", "game_date"]].merge(
        po[["player_id", "game_date", "n", "min_sum"]], how="left"
    )
    n = k2["n"].to_numpy()
    out["p_games"] = np.nan_to_num(n, nan=0.0)
    out["p_minutes"] = np.where(n > 0, k2["min_sum"].to_numpy() / np.maximum(n, 1), np.nan)
    tp = g[g["season_type"] == "Playoffs"].sort_values("game_date").copy()
    tp["team_po_game"] = tp.groupby(["team", "season"]).cumcount() + 1.0
    k3 = key[["team", "game_date"]].merge(tp[["team", "game_date", "team_po_game"]], how="left")
    out["p_team_game"] = np.nan_to_num(k3["team_po_game"].to_numpy(), nan=0.0)
    return out


E_COLS = ["e_team_gp", "e_games_left", "e_team_pct", "e_opp_pct", "e_conf_rank", "e_gb6",
          "e_gb10"]  # fmt: skip
P_COLS = ["p_games", "p_minutes", "p_team_game"]


def matrix(df: pd.DataFrame, cand: pd.DataFrame, base: list[str], extra: list[str]) -> np.ndarray:
    x = df[base].to_numpy(np.float32)
    return np.hstack([x, cand[extra].to_numpy(np.float32)]) if extra else x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=1000)
    args = ap.parse_args()
    tr = pd.read_parquet(args.dataset / "train.parquet")
    va = pd.read_parquet(args.dataset / "validation.parquet")
    te = pd.read_parquet(args.dataset / "test.parquet")
    te = te[te["season"] == "2023-24"].reset_index(drop=True)
    log("loaded")
    g = team_games()
    st = standings(g)
    log("standings")
    cand = {name: candidates(df, g, st) for name, df in (("tr", tr), ("va", va), ("te", te))}
    log("candidates")
    base = [c for c in tr.columns if c.startswith("f_")]
    configs = {"base": [], "E": E_COLS, "P": P_COLS, "EP": E_COLS + P_COLS}
    matched, _ = match_frame(te, DATA / "prop_lines")
    dates = pd.to_datetime(te["game_date"]).to_numpy()
    for stat in STATS:
        lab = f"label_{stat}"
        # one prop per player and day: the books' modal line, their mean price at it
        props = one_prop_a_day(te, matched, stat)
        rows = props["row"].to_numpy()
        late = dates[rows] > np.datetime64("2024-03-15")
        po = te["f_is_playoffs"].to_numpy()[rows] == 1
        res = {}
        for name, extra in configs.items():
            dtr = xgb.DMatrix(matrix(tr, cand["tr"], base, extra), label=tr[lab].to_numpy())
            dva = xgb.DMatrix(matrix(va, cand["va"], base, extra), label=va[lab].to_numpy())
            dte = xgb.DMatrix(matrix(te, cand["te"], base, extra))
            params = {"objective": "count:poisson", "eta": 0.05, "max_depth": 6,
                      "subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 5,
                      "nthread": 2, "seed": 7}  # fmt: skip
            b = xgb.train(params, dtr, args.rounds, evals=[(dva, "va")],
                          early_stopping_rounds=50, verbose_eval=False)  # fmt: skip
            it = (0, b.best_iteration + 1)
            mva = np.maximum(b.predict(dva, iteration_range=it), 0.05)
            r = fit_size(va[lab].to_numpy(float), mva)
            mte = np.maximum(b.predict(dte, iteration_range=it), 0.05)
            # a constant size: variance mu + mu^2 / r
            p = p_over(mte[rows], 1 + mte[rows] / r, props["line"].to_numpy())
            res[name] = (p, deviance(te[lab].to_numpy(), mte))
            log(f"{stat} {name}: trees {it[1]}, r {r:.2f}, test deviance {res[name][1]:.4f}")
        y = props["y"].to_numpy()
        bk = props["books"].to_numpy()
        day = dates[rows]
        uniq, inv = np.unique(day, return_inverse=True)
        rng = np.random.default_rng(0)
        for name, (p, dev) in res.items():
            parts = []
            for label, mask in (("all", np.ones_like(late)), ("Oct-Mar15", ~late),
                                ("late reg", late & ~po), ("playoffs", late & po)):  # fmt: skip
                if mask.sum() < 50:
                    continue
                gap = np.mean((p[mask] - y[mask]) ** 2) - np.mean((bk[mask] - y[mask]) ** 2)
                parts.append(f"{label} {gap:+.4f} (n {mask.sum()})")
            line = f"  {stat:8s} {name:4s} dev {dev:.4f} | model alone − books: " + "; ".join(parts)
            if name != "base":
                d = (p - y) ** 2 - (res["base"][0] - y) ** 2
                for label, mask in (("late", late),):
                    s = np.bincount(inv[mask], weights=d[mask], minlength=len(uniq))
                    c = np.bincount(inv[mask], minlength=len(uniq))
                    boots = []
                    for _ in range(1000):
                        w = rng.multinomial(len(uniq), np.full(len(uniq), 1 / len(uniq)))
                        boots.append(np.sum(w * s) / max(np.sum(w * c), 1))
                    lo, hi = np.quantile(boots, [0.025, 0.975])
                    line += (
                        f" | vs base, {label}: {np.sum(s) / np.sum(c):+.4f} [{lo:+.4f}, {hi:+.4f}]"
                    )
            print(line, flush=True)


if __name__ == "__main__":
    main()
