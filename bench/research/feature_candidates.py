"""Which candidate feature groups improve the model alone (no betting line as an input)?

Research only: nothing here is used by the services. For points, rebounds, assists and pra
it trains one XGBoost Poisson regressor per configuration on the leak-free dataset
(`var/datasets/9ab7292c6e5f609a`, train 2017-18..2021-22, validation 2022-23, test 2023-24):

    base   the existing 218 f_* features
    +A     early season / prior: previous season's averages and count, averages shrunk to the
           prior (K=8, career average when there is no previous season), new-team flags
    +B     absence: team games missed since the player's previous game, returning flag,
           minutes of the last game
    +C     teammates out: regulars of the team's last 10 games (this season) missing from this
           game's box score, their recent minutes / points / rebounds / assists, out-minutes
           share. Deliberately uses who appears in THIS game's box score, as a stand-in for
           the injury report (known before tip-off); their stats are strictly before the day.
    +D     per possession: stat per 100 team possessions over the last 10 games, team pace
    +all   A+B+C+D
and diagnostics: base with a second seed (seed noise), +C15 (C counting only outs with >= 15
recent minutes: a check that C's gain is not DNP-coach's-decision leakage) and +Clag (the C
features of the team's previous game: what is known without an injury report).

Reports validation and test Poisson deviance and MAE, deviance on the first 15 games of each
player's season, and on the 2023-24 real lines the Brier score of the model alone (negative
binomial, dispersion per stat fitted by maximum likelihood on validation) at the books' modal
line next to the books' de-vigged Brier, with paired bootstrap intervals (resampling game
dates) for the differences vs base.

A leak check recomputes every candidate feature from logs truncated at a cut date (later
games dropped, the cut date's box-score numbers scrambled) and requires the cut date's
features to be unchanged.

    .venv/bin/python bench/research/feature_candidates.py [--trees 400 --eta 0.1]
        [--nthread 1] [--out /tmp/fc]
"""

import argparse
import glob
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy import optimize, special, stats

from statmuse_shared.contract.names import normalize_name

REPO = Path(__file__).resolve().parents[2]
# The dataset the documented run used (feature set fs-2). The feature code now builds fs-3,
# whose 240 features already hold group A and B's prior-season and games-missed inputs, so a
# dataset built today (bench/research/dataset_from_files.py) makes "base" include them.
DATASET = REPO / "var/datasets/9ab7292c6e5f609a"
DATA = REPO / "data/nba"
STATS = ("points", "rebounds", "assists", "pra")
RAW = {
    "points": "PTS",
    "rebounds": "REB",
    "assists": "AST",
    "threes": "FG3M",
    "pra": "PRA",
    "minutes": "MIN",
}
K_SHRINK = 8.0
T0 = time.time()


def log(msg: str) -> None:
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


# --------------------------------------------------------------------------- raw logs


def load_logs() -> tuple[pd.DataFrame, pd.DataFrame]:
    P = pd.concat(
        [
            pd.read_csv(f, dtype={"GAME_ID": str})
            for f in sorted(glob.glob(str(DATA / "player_game_logs/*.csv.gz")))
        ],
        ignore_index=True,
    )
    P["GAME_DATE"] = pd.to_datetime(P["GAME_DATE"])
    P["PRA"] = P["PTS"] + P["REB"] + P["AST"]
    T = pd.concat(
        [
            pd.read_csv(f, dtype={"GAME_ID": str})
            for f in sorted(glob.glob(str(DATA / "team_game_logs/*.csv.gz")))
        ],
        ignore_index=True,
    )
    T["GAME_DATE"] = pd.to_datetime(T["GAME_DATE"])
    return P, T


# --------------------------------------------------------------------------- features


def build_features(P: pd.DataFrame, T: pd.DataFrame) -> pd.DataFrame:
    """Candidate features keyed by (PLAYER_ID, GAME_DATE), one row per player log row."""
    seasons = sorted(P["SEASON"].unique())
    sidx_of = {s: i for i, s in enumerate(seasons)}
    P = P.sort_values(["PLAYER_ID", "GAME_DATE"]).reset_index(drop=True).copy()
    P["SIDX"] = P["SEASON"].map(sidx_of)
    out = P[["PLAYER_ID", "GAME_DATE"]].copy()
    gp = P.groupby("PLAYER_ID", sort=False)
    gps = P.groupby(["PLAYER_ID", "SEASON"], sort=False)

    # ---------------- A: early season / prior
    season_n = gps.cumcount()
    out["season_n_before"] = season_n.values  # slice definition, not a feature
    for stat in ("points", "rebounds", "assists", "threes", "pra", "minutes"):
        col = RAW[stat]
        val = P[col].astype(float)
        has = val.notna().astype(float)
        v0 = val.fillna(0.0)
        s_sum = v0.groupby([P["PLAYER_ID"], P["SEASON"]]).cumsum() - v0
        s_cnt = has.groupby([P["PLAYER_ID"], P["SEASON"]]).cumsum() - has
        c_sum = v0.groupby(P["PLAYER_ID"]).cumsum() - v0
        c_cnt = has.groupby(P["PLAYER_ID"]).cumsum() - has
        per = (
            pd.DataFrame({"PLAYER_ID": P["PLAYER_ID"], "SIDX": P["SIDX"], "v": v0, "h": has})
            .groupby(["PLAYER_ID", "SIDX"], as_index=False)[["v", "h"]]
            .sum()
        )
        per["SIDX"] += 1  # previous season's totals, keyed by the season they are a prior for
        prev = P[["PLAYER_ID", "SIDX"]].merge(per, on=["PLAYER_ID", "SIDX"], how="left")
        prev_n = prev["h"].fillna(0.0).values
        prev_avg = np.where(prev_n > 0, prev["v"].values / np.maximum(prev_n, 1), np.nan)
        career_avg = np.where(c_cnt > 0, c_sum / np.maximum(c_cnt, 1), np.nan)
        prior = np.where(prev_n > 0, prev_avg, career_avg)
        out[f"a_prev_{stat}"] = prev_avg
        if stat == "minutes":
            out["a_prev_n"] = prev_n
        out[f"a_shrunk_{stat}"] = (s_sum.values + K_SHRINK * prior) / (s_cnt.values + K_SHRINK)
    prev_team = gp["TEAM_ABBREVIATION"].shift(1)
    out["a_new_team"] = np.where(
        prev_team.isna(), np.nan, (prev_team != P["TEAM_ABBREVIATION"]).astype(float)
    )
    last_team = P.groupby(["PLAYER_ID", "SIDX"], as_index=False)["TEAM_ABBREVIATION"].last()
    last_team["prev_season_team"] = last_team.groupby("PLAYER_ID")["TEAM_ABBREVIATION"].shift(1)
    lt = P[["PLAYER_ID", "SIDX"]].merge(
        last_team[["PLAYER_ID", "SIDX", "prev_season_team"]], how="left"
    )
    out["a_team_changed_ls"] = np.where(
        lt["prev_season_team"].isna(),
        np.nan,
        (lt["prev_season_team"].values != P["TEAM_ABBREVIATION"].values).astype(float),
    )
    block = (P["TEAM_ABBREVIATION"] != prev_team).cumsum()
    out["a_games_with_team"] = P.groupby([P["PLAYER_ID"], block]).cumcount().values

    # ---------------- B: absence
    TG = T[T["GAME_ID"].str[:3].isin(["002", "004"])]  # play-in/cup-final games have no player rows
    prev_date = gp["GAME_DATE"].shift(1)
    prev_season = gp["SEASON"].shift(1)
    missed = np.full(len(P), np.nan)
    for (team, season), g in TG.groupby(["TEAM_ABBREVIATION", "SEASON"]):
        dates = np.sort(g["GAME_DATE"].values)
        m = ((P["TEAM_ABBREVIATION"] == team) & (P["SEASON"] == season)).values
        if not m.any():
            continue
        d = P.loc[m, "GAME_DATE"].values
        same = (prev_season[m] == season).values
        lo = np.where(same, prev_date[m].values, np.datetime64("1900-01-01"))
        # team games with lo < date < d
        missed[m] = np.searchsorted(dates, d, side="left") - np.searchsorted(
            dates, lo.astype(dates.dtype), side="right"
        )
    out["b_games_missed"] = np.minimum(missed, 20)
    out["b_returning"] = np.where(np.isnan(missed), np.nan, (missed >= 3).astype(float))
    out["b_last_minutes"] = gp["MIN"].shift(1).values

    # ---------------- C: teammates out (this game's box score as injury-report stand-in)
    roll = {
        c: gp[c].rolling(10, min_periods=1).mean().reset_index(level=0, drop=True)
        for c in ("MIN", "PTS", "REB", "AST")
    }
    pl_dates, pl_team, pl_stats = {}, {}, {}
    stat_mat = np.column_stack([roll[c].values for c in ("MIN", "PTS", "REB", "AST")])
    for pid, idx in gp.indices.items():
        pl_dates[pid] = P["GAME_DATE"].values[idx]
        pl_team[pid] = P["TEAM_ABBREVIATION"].values[idx]
        pl_stats[pid] = stat_mat[idx]
    roster = {k: set(v) for k, v in P.groupby(["TEAM_ABBREVIATION", "GAME_DATE"])["PLAYER_ID"]}
    crow = []
    for (team, _season), g in TG.groupby(["TEAM_ABBREVIATION", "SEASON"]):
        dates = np.sort(g["GAME_DATE"].values)
        prev_feats = None
        for i, d in enumerate(dates):
            here = roster.get((team, pd.Timestamp(d)), set())
            if i == 0:
                feats = [np.nan] * 11
            else:
                regulars = set()
                for dd in dates[max(0, i - 10) : i]:
                    regulars |= roster.get((team, pd.Timestamp(dd)), set())
                acc = np.zeros(4)
                acc15 = np.zeros(4)
                for x in regulars - here:
                    j = (
                        np.searchsorted(pl_dates[x], d, side="left") - 1
                    )  # last game strictly before d
                    if j < 0 or pl_team[x][j] != team:  # moved to another team since
                        continue
                    acc += pl_stats[x][j]
                    if pl_stats[x][j][0] >= 15:
                        acc15 += pl_stats[x][j]
                feats = [
                    *acc,
                    acc[0] / 240.0,
                    *acc15,
                    acc15[0] / 240.0,
                    float(len(regulars - here)),
                ]
            row = [team, pd.Timestamp(d), *feats]
            row += prev_feats if prev_feats is not None else [np.nan] * 5
            crow.append(row)
            prev_feats = list(feats[:5])
    ccols = [
        "c_out_min",
        "c_out_pts",
        "c_out_reb",
        "c_out_ast",
        "c_out_share",
        "c15_out_min",
        "c15_out_pts",
        "c15_out_reb",
        "c15_out_ast",
        "c15_out_share",
        "c_n_out_diag",
        "clag_out_min",
        "clag_out_pts",
        "clag_out_reb",
        "clag_out_ast",
        "clag_out_share",
    ]
    C = pd.DataFrame(crow, columns=["TEAM_ABBREVIATION", "GAME_DATE", *ccols])
    cj = P[["TEAM_ABBREVIATION", "GAME_DATE"]].merge(
        C, on=["TEAM_ABBREVIATION", "GAME_DATE"], how="left"
    )
    for c in ccols:
        out[c] = cj[c].values

    # ---------------- D: per possession, pace
    TT = TG.copy()
    TT["poss"] = TT["FGA"] + 0.44 * TT["FTA"] - TT["OREB"] + TT["TOV"]
    TT["pace48"] = TT["poss"] * 240.0 / TT["MIN"]
    TT = TT.sort_values(["TEAM_ABBREVIATION", "GAME_DATE"])
    gts = TT.groupby(["TEAM_ABBREVIATION", "SEASON"])["pace48"]
    TT["d_team_pace_season"] = (gts.cumsum() - TT["pace48"]) / gts.cumcount().replace(0, np.nan)
    TT["d_team_pace_10"] = gts.transform(lambda s: s.shift(1).rolling(10, min_periods=1).mean())
    pj = P[["TEAM_ABBREVIATION", "GAME_DATE"]].merge(
        TT[["TEAM_ABBREVIATION", "GAME_DATE", "poss", "d_team_pace_season", "d_team_pace_10"]],
        on=["TEAM_ABBREVIATION", "GAME_DATE"],
        how="left",
    )
    poss = pd.Series(pj["poss"].values, index=P.index)
    poss_10 = poss.groupby(P["PLAYER_ID"]).transform(
        lambda s: s.shift(1).rolling(10, min_periods=1).sum()
    )
    for stat in ("points", "rebounds", "assists", "pra", "minutes"):
        s10 = (
            P[RAW[stat]]
            .astype(float)
            .groupby(P["PLAYER_ID"])
            .transform(lambda s: s.shift(1).rolling(10, min_periods=1).sum())
        )
        out[f"d_{stat}_per100"] = (100.0 * s10 / poss_10).values
    out["d_team_pace_season"] = pj["d_team_pace_season"].values
    out["d_team_pace_10"] = pj["d_team_pace_10"].values

    # ---------------- U: usage and shooting (FGA/FTA only where the source has them)
    tj = P[["TEAM_ABBREVIATION", "GAME_DATE"]].merge(
        TT[["TEAM_ABBREVIATION", "GAME_DATE", "MIN", "FGA", "FTA", "TOV"]].rename(
            columns={"MIN": "T_MIN", "FGA": "T_FGA", "FTA": "T_FTA", "TOV": "T_TOV"}
        ),
        on=["TEAM_ABBREVIATION", "GAME_DATE"],
        how="left",
    )
    plays = P["FGA"] + 0.44 * P["FTA"] + P["TOV"]
    team_plays = tj["T_FGA"].to_numpy() + 0.44 * tj["T_FTA"].to_numpy() + tj["T_TOV"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        usage = 100.0 * plays * (tj["T_MIN"].to_numpy() / 5.0) / (P["MIN"] * team_plays)
    usage = usage.where(P["MIN"] > 0)

    def last10(values: pd.Series) -> pd.Series:
        return values.groupby(P["PLAYER_ID"]).transform(
            lambda s: s.shift(1).rolling(10, min_periods=1).sum()
        )

    has = P["FGA"].notna()
    shots = (P["FGA"] + 0.44 * P["FTA"]).where(has)
    pts = P["PTS"].astype(float).where(has)
    minutes = P["MIN"].astype(float).where(has)
    out["u_usage_10"] = (
        usage.groupby(P["PLAYER_ID"])
        .transform(lambda s: s.shift(1).rolling(10, min_periods=1).mean())
        .values
    )
    out["u_ts_10"] = (last10(pts) / (2.0 * last10(shots))).values
    out["u_fga_per_min_10"] = (last10(P["FGA"].where(has)) / last10(minutes)).values
    out["u_fta_per_fga_10"] = (last10(P["FTA"].where(has)) / last10(P["FGA"].where(has))).values
    turnovers, played = P["TOV"].astype(float), P["MIN"].astype(float)
    out["u_tov_per_min_10"] = (last10(turnovers) / last10(played)).values
    u_cols = ["u_usage_10", "u_ts_10", "u_fga_per_min_10", "u_fta_per_fga_10", "u_tov_per_min_10"]
    out[u_cols] = out[u_cols].replace([np.inf, -np.inf], np.nan)  # a zero denominator: no value
    return out


GROUPS = {
    "A": [
        "a_prev_points",
        "a_prev_rebounds",
        "a_prev_assists",
        "a_prev_pra",
        "a_prev_minutes",
        "a_prev_n",
        "a_shrunk_points",
        "a_shrunk_rebounds",
        "a_shrunk_assists",
        "a_shrunk_pra",
        "a_shrunk_minutes",
        "a_new_team",
        "a_team_changed_ls",
        "a_games_with_team",
    ],
    "B": ["b_games_missed", "b_returning", "b_last_minutes"],
    "C": ["c_out_min", "c_out_pts", "c_out_reb", "c_out_ast", "c_out_share"],
    "D": [
        "d_points_per100",
        "d_rebounds_per100",
        "d_assists_per100",
        "d_pra_per100",
        "d_minutes_per100",
        "d_team_pace_season",
        "d_team_pace_10",
    ],
    "U": ["u_usage_10", "u_ts_10", "u_fga_per_min_10", "u_fta_per_fga_10", "u_tov_per_min_10"],
    "Uown": ["u_ts_10", "u_fga_per_min_10", "u_fta_per_fga_10", "u_tov_per_min_10"],
    "C15": ["c15_out_min", "c15_out_pts", "c15_out_reb", "c15_out_ast", "c15_out_share"],
    "Clag": ["clag_out_min", "clag_out_pts", "clag_out_reb", "clag_out_ast", "clag_out_share"],
}
ALL_CANDIDATES = sorted(
    {c for g in GROUPS.values() for c in g} | {"a_prev_threes", "a_shrunk_threes", "c_n_out_diag"}
)


def leak_check(P: pd.DataFrame, T: pd.DataFrame, full: pd.DataFrame, cut: str, seed: int) -> int:
    """Rebuild from logs with games after `cut` dropped and the cut day's numbers scrambled:
    the cut day's candidate features must not change. Returns the number of differing cells."""
    rng = np.random.default_rng(seed)
    c = pd.Timestamp(cut)
    Pc = P[P["GAME_DATE"] <= c].copy()
    Tc = T[T["GAME_DATE"] <= c].copy()
    on = Pc["GAME_DATE"] == c
    for col in ("MIN", "PTS", "REB", "AST", "FG3M", "FGA", "FTA", "OREB", "TOV", "STL", "BLK"):
        Pc.loc[on, col] = rng.integers(0, 40, on.sum())
    Pc["PRA"] = Pc["PTS"] + Pc["REB"] + Pc["AST"]
    tn = Tc["GAME_DATE"] == c
    for col in ("MIN", "PTS", "FGA", "FTA", "OREB", "TOV", "REB", "AST"):
        Tc.loc[tn, col] = rng.integers(150, 300, tn.sum())
    a = build_features(Pc, Tc)
    a = a[a["GAME_DATE"] == c].set_index(["PLAYER_ID", "GAME_DATE"]).sort_index()
    b = full[full["GAME_DATE"] == c].set_index(["PLAYER_ID", "GAME_DATE"]).sort_index()
    cols = ALL_CANDIDATES
    av, bv = a[cols].to_numpy(float), b.loc[a.index, cols].to_numpy(float)
    diff = ~(np.isclose(av, bv, equal_nan=True))
    bad = [cols[j] for j in np.where(diff.any(axis=0))[0]]
    log(f"leak check cut {cut}: {len(a)} rows, {diff.sum()} differing cells {bad[:8]}")
    return int(diff.sum())


# --------------------------------------------------------------------------- lines


def american_to_p(o: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(o > 0, 100.0 / (o + 100.0), -o / (-o + 100.0))


def load_lines(T: pd.DataFrame) -> pd.DataFrame:
    """One row per (normalised player, date, market): the books' modal line and mean
    de-vigged P(over)."""
    a = pd.read_csv(DATA / "prop_lines/2023-24_mar-may_all_markets.csv.gz")
    b = pd.read_csv(DATA / "prop_lines/2023-24_pra.csv.gz")
    # pra file: some late games carry the next (UTC) day: shift back when the home team did not
    # play on the given date but did the day before (README).
    T24 = T[T["SEASON"] == "2023-24"].copy()
    T24["TEAM_NAME"] = T24["TEAM_NAME"].replace({"LA Clippers": "Los Angeles Clippers"})
    played = set(zip(T24["TEAM_NAME"], T24["GAME_DATE"], strict=True))
    bd = pd.to_datetime(b["game_date"])
    on_day = np.array([(h, d) in played for h, d in zip(b["home_team"], bd, strict=True)])
    day_before = np.array(
        [(h, d - pd.Timedelta(days=1)) in played for h, d in zip(b["home_team"], bd, strict=True)]
    )
    shift = ~on_day & day_before
    b["game_date"] = (bd - pd.to_timedelta(shift.astype(int), unit="D")).dt.strftime("%Y-%m-%d")
    log(
        f"pra file: {shift.sum()} lines shifted back one day, "
        f"{(~on_day & ~day_before).sum()} with no game found"
    )
    # the overlap (Mar-May pra) is two snapshots; use the all-markets file there
    b = b[b["game_date"] < a["game_date"].min()]
    L = pd.concat([a, b], ignore_index=True).dropna(subset=["over_odds", "under_odds", "line"])
    L["bookmaker"] = L["bookmaker"].str.lower()
    L = L.drop_duplicates(["game_date", "player_name", "market", "bookmaker"], keep="last")
    po, pu = american_to_p(L["over_odds"].values), american_to_p(L["under_odds"].values)
    L["p_book"] = po / (po + pu)
    L["name"] = L["player_name"].map(normalize_name)
    L["game_date"] = pd.to_datetime(L["game_date"])
    cnt = (
        L.groupby(["name", "game_date", "market", "line"])
        .agg(n=("p_book", "size"), p_book=("p_book", "mean"))
        .reset_index()
    )
    med = L.groupby(["name", "game_date", "market"])["line"].median().rename("med").reset_index()
    cnt = cnt.merge(med, on=["name", "game_date", "market"])
    cnt["dist"] = (cnt["line"] - cnt["med"]).abs()
    cnt = cnt.sort_values(
        ["name", "game_date", "market", "n", "dist", "line"],
        ascending=[True, True, True, False, True, True],
    )
    modal = cnt.drop_duplicates(["name", "game_date", "market"], keep="first")
    return modal[["name", "game_date", "market", "line", "n", "p_book"]].reset_index(drop=True)


# --------------------------------------------------------------------------- metrics


def poisson_dev(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    mu = np.maximum(mu, 1e-9)
    return 2.0 * (special.xlogy(y, y / mu) - (y - mu))


def nb_fit_r(y: np.ndarray, mu: np.ndarray) -> float:
    def nll(logr: float) -> float:
        r = np.exp(logr)
        return -np.sum(stats.nbinom.logpmf(y, r, r / (r + mu)))

    res = optimize.minimize_scalar(nll, bounds=(np.log(0.3), np.log(1e5)), method="bounded")
    return float(np.exp(res.x))


def nb_p_over(mu: np.ndarray, r: float, line: np.ndarray) -> np.ndarray:
    k = np.floor(line)
    p = r / (r + mu)
    over = stats.nbinom.sf(k, r, p)  # P(X > floor(line))
    push = np.where(line == k, stats.nbinom.pmf(k, r, p), 0.0)
    return over / np.maximum(1.0 - push, 1e-12)


def boot_ci(
    diff: np.ndarray, clusters: np.ndarray, B: int = 2000, seed: int = 0
) -> tuple[float, float, float, float]:
    """Mean diff, its 95% interval resampling clusters (game dates) and resampling rows."""
    rng = np.random.default_rng(seed)
    codes, inv = np.unique(clusters, return_inverse=True)
    sums = np.bincount(inv, weights=diff)
    cnts = np.bincount(inv).astype(float)
    W = rng.multinomial(len(codes), np.full(len(codes), 1.0 / len(codes)), size=B).astype(float)
    bs = (W @ sums) / (W @ cnts)
    n = len(diff)
    Wr = rng.multinomial(n, np.full(n, 1.0 / n), size=min(B, 1000)).astype(float)
    br = (Wr @ diff) / n
    return (
        float(diff.mean()),
        *np.percentile(bs, [2.5, 97.5]),
        float(np.percentile(br, 2.5)),
        float(np.percentile(br, 97.5)),
    )


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--trees", type=int, default=400, help="max boosting rounds (early stopping, patience 30)"
    )
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--max-bin", type=int, default=128)
    ap.add_argument(
        "--nthread", type=int, default=1, help="1: on a shared 2-core VM, 2 threads oversubscribe"
    )
    ap.add_argument("--out", default="/tmp/feature_candidates")
    ap.add_argument("--configs", default="base,base_s2,A,B,C,D,all,C15,Clag")
    ap.add_argument(
        "--seed-offset",
        type=int,
        default=0,
        help="added to every config's xgboost seed (replicates)",
    )
    ap.add_argument("--skip-leak-check", action="store_true")
    ap.add_argument("--dataset", type=Path, default=DATASET, help="a dataset version directory")
    args = ap.parse_args()
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)

    log("loading dataset and logs")
    D = pd.concat(
        [pd.read_parquet(args.dataset / f"{s}.parquet") for s in ("train", "validation", "test")],
        ignore_index=True,
    )
    D["game_date"] = pd.to_datetime(D["game_date"]).astype("datetime64[ns]")
    fcols = [c for c in D.columns if c.startswith("f_")]
    P, T = load_logs()
    log(
        f"dataset {len(D)} rows, {len(fcols)} f_ features; player logs {len(P)}, team logs {len(T)}"
    )

    F = build_features(P, T)
    log("candidate features built")
    if not args.skip_leak_check:
        bad = (
            leak_check(P, T, F, "2024-01-15", 1)
            + leak_check(P, T, F, "2023-10-24", 2)
            + leak_check(P, T, F, "2022-04-16", 3)
        )
        if bad:
            raise SystemExit("leak check failed")
    F["GAME_DATE"] = F["GAME_DATE"].astype("datetime64[ns]")
    X = D.merge(
        F,
        left_on=["player_id", "game_date"],
        right_on=["PLAYER_ID", "GAME_DATE"],
        how="left",
        validate="1:1",
    )
    assert X["PLAYER_ID"].notna().all(), "dataset rows without a box score"
    # coverage of the candidate features per split
    cov = (
        X.groupby("split")[[g[0] for g in GROUPS.values()]]
        .apply(lambda d: d.notna().mean())
        .round(3)
    )
    print(cov.to_string(), flush=True)

    split = X["split"].values
    tr, va, te = split == "train", split == "validation", split == "test"
    early = X["season_n_before"].values < 15
    returning = X["b_returning"].values == 1
    high_out = X["c_out_share"].values >= 0.15

    configs = {
        "base": (fcols, 0),
        "base_s2": (fcols, 1),
        "A": (fcols + GROUPS["A"], 0),
        "B": (fcols + GROUPS["B"], 0),
        "C": (fcols + GROUPS["C"], 0),
        "D": (fcols + GROUPS["D"], 0),
        "all": (fcols + GROUPS["A"] + GROUPS["B"] + GROUPS["C"] + GROUPS["D"], 0),
        "U": (fcols + GROUPS["U"], 0),
        "Uown": (fcols + GROUPS["Uown"], 0),
        "C15": (fcols + GROUPS["C15"], 0),
        "Clag": (fcols + GROUPS["Clag"], 0),
    }
    configs = {k: v for k, v in configs.items() if k in args.configs.split(",")}

    lines = load_lines(T)
    X["name"] = X["player_name"].map(normalize_name)
    log(f"lines: {len(lines)} (player, date, market) modal lines")

    preds: dict[tuple[str, str], np.ndarray] = {}
    best_it: dict[tuple[str, str], int] = {}
    params = {
        "objective": "count:poisson",
        "eta": args.eta,
        "max_depth": 6,
        "subsample": 0.8,
        "colsample_bytree": 0.5,
        "tree_method": "hist",
        "max_bin": args.max_bin,
        "nthread": args.nthread,
        "max_delta_step": 0.7,
        "eval_metric": "poisson-nloglik",
    }
    n_fit = len(configs) * len(STATS)
    k = 0
    for cname, (cols, seed) in configs.items():
        Xm = X[cols].to_numpy(np.float32)
        dtr = xgb.QuantileDMatrix(Xm[tr], max_bin=args.max_bin)
        dva = xgb.QuantileDMatrix(Xm[va], ref=dtr, max_bin=args.max_bin)
        dall = xgb.DMatrix(Xm[va | te])
        for stat in STATS:
            k += 1
            y = X[f"label_{stat}"].to_numpy(float)
            dtr.set_label(y[tr])
            dva.set_label(y[va])
            t = time.time()
            bst = xgb.train(
                {**params, "seed": seed + args.seed_offset},
                dtr,
                num_boost_round=args.trees,
                evals=[(dva, "va")],
                early_stopping_rounds=30,
                verbose_eval=False,
            )
            p = np.full(len(X), np.nan)
            p[va | te] = bst.predict(dall, iteration_range=(0, bst.best_iteration + 1))
            preds[(cname, stat)] = p
            best_it[(cname, stat)] = bst.best_iteration + 1
            log(
                f"fit {k}/{n_fit} {cname:7s} {stat:9s} {len(cols)} cols, "
                f"best it {bst.best_iteration + 1}, {time.time() - t:.0f}s"
            )
    np.savez_compressed(outdir / "preds.npz", **{f"{c}__{s}": v for (c, s), v in preds.items()})

    # ----------------------------------------------------------- deviance / MAE tables
    rows = []
    dates = X["game_date"].values
    for stat in STATS:
        y = X[f"label_{stat}"].to_numpy(float)
        base = preds[("base", stat)]
        for cname in configs:
            p = preds[(cname, stat)]
            r = {"stat": stat, "config": cname, "trees": best_it[(cname, stat)]}
            for sname, m in (("va", va), ("te", te)):
                dv, db = poisson_dev(y[m], p[m]), poisson_dev(y[m], base[m])
                r[f"{sname}_dev"] = dv.mean()
                r[f"{sname}_mae"] = np.abs(y[m] - p[m]).mean()
                r[f"{sname}_ddev"] = dv.mean() - db.mean()
                r[f"{sname}_dmae"] = r[f"{sname}_mae"] - np.abs(y[m] - base[m]).mean()
                for slname, sl in (("early", early), ("ret", returning), ("out15", high_out)):
                    mm = m & sl
                    r[f"{sname}_{slname}_ddev"] = (
                        poisson_dev(y[mm], p[mm]).mean() - poisson_dev(y[mm], base[mm]).mean()
                    )
                    r[f"{sname}_{slname}_n"] = int(mm.sum())
            mt = te
            d = poisson_dev(y[mt], p[mt]) - poisson_dev(y[mt], base[mt])
            _, lo, hi, _, _ = boot_ci(d, dates[mt], B=1000)
            r["te_ddev_lo"], r["te_ddev_hi"] = lo, hi
            mm = te & early
            d = poisson_dev(y[mm], p[mm]) - poisson_dev(y[mm], base[mm])
            _, lo, hi, _, _ = boot_ci(d, dates[mm], B=1000)
            r["te_early_lo"], r["te_early_hi"] = lo, hi
            rows.append(r)
    R = pd.DataFrame(rows)
    R.to_csv(outdir / "deviance.csv", index=False)

    # ----------------------------------------------------------- lines
    lrows = []
    Xt = X[te].reset_index()
    for stat in STATS:
        m = lines[lines["market"] == stat].merge(
            Xt[["index", "name", "game_date", f"label_{stat}"]],
            on=["name", "game_date"],
            how="inner",
        )
        m = m.drop_duplicates(["name", "game_date"], keep=False)  # ambiguous names on one day
        y = m[f"label_{stat}"].to_numpy(float)
        line = m["line"].to_numpy(float)
        keep = y != line  # pushes dropped
        m, y, line = m[keep], y[keep], line[keep]
        outcome = (y > line).astype(float)
        idx = m["index"].to_numpy()
        bk = (m["p_book"].to_numpy() - outcome) ** 2
        n_lines = int((lines["market"] == stat).sum())
        base_sq = None
        yv = X.loc[va, f"label_{stat}"].to_numpy(float)
        for cname in configs:
            p_all = preds[(cname, stat)]
            rr = nb_fit_r(yv, p_all[va])
            pov = nb_p_over(p_all[idx], rr, line)
            sq = (pov - outcome) ** 2
            if cname == "base":
                base_sq = sq
            mean_d, lo, hi, rlo, rhi = boot_ci(sq - base_sq, m["game_date"].to_numpy(), B=2000)
            lrows.append(
                {
                    "stat": stat,
                    "config": cname,
                    "n": len(m),
                    "of_lines": n_lines,
                    "r": rr,
                    "brier_model": sq.mean(),
                    "brier_books": bk.mean(),
                    "d_vs_base": mean_d,
                    "lo": lo,
                    "hi": hi,
                    "row_lo": rlo,
                    "row_hi": rhi,
                    "model_minus_books": sq.mean() - bk.mean(),
                }
            )
    LR = pd.DataFrame(lrows)
    LR.to_csv(outdir / "lines.csv", index=False)

    # ----------------------------------------------------------- print
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print(
        "\n=== Poisson deviance / MAE (absolute for base, delta vs base otherwise; "
        "negative = better) ==="
    )
    show = R.copy()
    for c in ("va_dev", "te_dev", "va_mae", "te_mae"):
        show[c] = np.where(show["config"] == "base", show[c], np.nan)
    cols = [
        "stat",
        "config",
        "trees",
        "va_dev",
        "va_ddev",
        "va_dmae",
        "te_dev",
        "te_ddev",
        "te_ddev_lo",
        "te_ddev_hi",
        "te_dmae",
        "va_early_ddev",
        "te_early_ddev",
        "te_early_lo",
        "te_early_hi",
        "te_ret_ddev",
        "te_out15_ddev",
    ]
    print(show[cols].to_string(index=False, float_format=lambda v: f"{v:+.4f}"))
    n0 = R.iloc[0]
    print(
        f"slice sizes (va/te): early {n0['va_early_n']}/{n0['te_early_n']}, "
        f"returning {n0['va_ret_n']}/{n0['te_ret_n']}, "
        f"out-share>=15% {n0['va_out15_n']}/{n0['te_out15_n']}"
    )
    print(
        "\n=== 2023-24 lines: Brier at the books' modal line (model alone, NB) vs books; "
        "delta vs base with 95% "
        "bootstrap (by game date; by row) ==="
    )
    print(
        LR[
            [
                "stat",
                "config",
                "n",
                "r",
                "brier_books",
                "brier_model",
                "model_minus_books",
                "d_vs_base",
                "lo",
                "hi",
                "row_lo",
                "row_hi",
            ]
        ].to_string(index=False, float_format=lambda v: f"{v:+.5f}")
    )
    log("done")


if __name__ == "__main__":
    main()
