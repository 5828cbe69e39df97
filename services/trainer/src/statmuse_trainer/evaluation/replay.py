"""The live replay scored: what the gateway answered on each real line of the replayed days
(`statmuse replay`), against the outcomes, the books, and the offline evaluation of the same
lines (`statmuse evaluate --from --to`: the served bundle on the dataset's game vectors).

The two must agree: the pre-game vector the gateway served is, field for field, the game
vector the dataset holds (the features service's parity test), and the gateway prices with the
bundle `evaluate` loads. Lines are the rows of the prop_lines files, as `evaluate` reads them:
one per book, pushes and games the player missed left out. The replay asks each line as a
user who gives no odds would, so both sides are the line blend's P(over) (evaluate's
`model_line_blend` row for a bundle with a market layer).
"""

import csv
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from statmuse_shared.models.count import CountModel
from statmuse_shared.models.pricing import decimal_odds
from statmuse_trainer.lines import PropLine, match_frame, match_key
from statmuse_trainer.scoring import Estimate, bootstrap, brier, ece, pair_brier
from statmuse_trainer.training.served import given_no_push, line_odds, served_means

AGREEMENT = 0.0005  # |Brier(live) - Brier(evaluate)| allowed per stat


@dataclass(frozen=True, slots=True)
class Answer:
    status: str
    error: str
    over: float
    under: float
    for_game: bool  # answered from the pre-game vector of that day's game


def read_answers(path: Path) -> dict[tuple[dt.date, str, str, float], Answer]:
    """The replay's answers by (day, the book's name as matched, stat, line)."""
    out = {}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            day = dt.date.fromisoformat(r["day"])
            ok = r["status"] == "ok"
            out[(day, match_key(r["player_name"]), r["stat"], float(r["line"]))] = Answer(
                r["status"],
                r["error"],
                float(r["over_probability"]) if ok else math.nan,
                float(r["under_probability"]) if ok else math.nan,
                ok and r["game_date"] == r["day"],
            )
    return out


@dataclass
class StatRows:
    """One stat's lines of the window, scored both ways."""

    stat: str
    live: np.ndarray
    offline: np.ndarray
    books: np.ndarray
    went_over: np.ndarray
    all_lines: int  # what evaluate scores in the window
    offline_all: float  # evaluate's Brier on all of them
    not_answered: dict[str, int]


def joined(
    test: pd.DataFrame,
    window: Sequence[tuple[int, PropLine]],
    answers: dict[tuple[dt.date, str, str, float], Answer],
    model: CountModel,
) -> StatRows:
    stat = model.stat.value
    mu, r, _ = served_means(model, test)
    index = {
        (int(p), d): i
        for i, (p, d) in enumerate(zip(test["player_id"], test["game_date"].dt.date, strict=True))
    }
    labels = test[f"label_{stat}"].to_numpy(np.float64)
    rows, lines, books, over, live = [], [], [], [], []
    not_answered: dict[str, int] = defaultdict(int)
    for player_id, line in window:
        if line.market != stat:
            continue
        i = index.get((player_id, line.game_date))
        if i is None or math.isnan(labels[i]) or labels[i] == line.line:
            continue  # the player did not play, no result, or a push: as evaluate
        rows.append(i)
        lines.append(line.line)
        books.append(line.fair_over)
        over.append(float(labels[i] > line.line))
        answer = answers.get((line.game_date, match_key(line.player_name), stat, line.line))
        if answer is None:
            not_answered["not asked"] += 1
            live.append(math.nan)
        elif answer.status != "ok":
            not_answered[answer.error.split(":")[0][:70] or answer.status] += 1
            live.append(math.nan)
        elif not answer.for_game:
            not_answered["answered without the game's pre-game vector"] += 1
            live.append(math.nan)
        else:
            live.append(answer.over / max(answer.over + answer.under, 1e-12))
    idx = np.array(rows, dtype=int)
    under, _, p_over = line_odds(
        model, mu[idx], r[idx], np.array(lines, dtype=float), calibrated=True, use_line=True
    )
    offline = given_no_push(under, p_over)
    y = np.array(over, dtype=float)
    live_arr = np.array(live, dtype=float)
    keep = ~np.isnan(live_arr)
    return StatRows(
        stat,
        live_arr[keep],
        offline[keep],
        np.array(books, dtype=float)[keep],
        y[keep],
        len(y),
        brier(offline, y) if len(y) else math.nan,
        dict(not_answered),
    )


def _gap(a: np.ndarray, b: np.ndarray, y: np.ndarray, rounds: int) -> Estimate:
    stacked = np.stack([a, b, y], axis=1)
    return bootstrap(
        stacked, lambda s: pair_brier(s[:, [0, 2]]) - pair_brier(s[:, [1, 2]]), rounds=rounds
    )


def _hit(p: np.ndarray, y: np.ndarray) -> float:
    """How often the side a probability favours wins (ties favour the over)."""
    return float(np.mean((p >= 0.5) == (y == 1.0))) if len(y) else math.nan


def slate_bets(slate: Path, test: pd.DataFrame) -> pd.DataFrame:
    """The slates' OVER/UNDER calls settled: the stake back with the winnings at the best
    price that is not an outlier, and at the books' median price; pushes and games the player
    missed are void."""
    calls = pd.read_csv(slate)
    calls = calls[calls["recommendation"].isin(["OVER", "UNDER"])].copy()
    if calls.empty:
        return calls
    outcome = {
        (int(p), d): row
        for p, d, row in zip(
            test["player_id"], test["game_date"].dt.date, test.to_dict("records"), strict=True
        )
    }
    out = []
    for c in calls.to_dict("records"):
        row = outcome.get((int(c["player_id"]), dt.date.fromisoformat(str(c["day"]))))
        value = None if row is None else row.get(f"label_{c['stat']}")
        if value is None or math.isnan(value) or value == c["line"]:
            continue
        over = c["recommendation"] == "OVER"
        won = (value > c["line"]) == over
        median = c["consensus_over"] if over else c["consensus_under"]
        out.append(
            {
                "day": c["day"],
                "stat": c["stat"],
                "won": won,
                "best": decimal_odds(int(c["best_price"])) - 1 if won else -1.0,
                "median": (decimal_odds(int(median)) - 1 if won else -1.0)
                if not pd.isna(median)
                else math.nan,
            }
        )
    return pd.DataFrame(out)


def _shown(path: Path) -> str:
    """A path as the report names it: from the working directory when it lies below it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _fmt(e: Estimate, digits: int = 4) -> str:
    return f"{e.value:+.{digits}f} [{e.low:+.{digits}f}, {e.high:+.{digits}f}]"


def report(
    *,
    answers: Path,
    slate: Path,
    dataset: Path,
    models: Path,
    lines_dir: Path,
    start: dt.date,
    end: dt.date,
    command: str,
    seconds: float | None = None,
    rounds: int = 1000,
) -> tuple[str, bool]:
    """docs/LIVE_REPLAY.md, and whether every stat agrees with evaluate within AGREEMENT."""
    test = pd.read_parquet(dataset / "test.parquet")
    matched, unmatched = match_frame(test, lines_dir)
    window = [(p, x) for p, x in matched if start <= x.game_date <= end]
    found = read_answers(answers)
    stats: list[StatRows] = [
        joined(test, window, found, CountModel.from_bytes(b.read_bytes()))
        for b in sorted(models.glob("*.npz"))
    ]
    agree = True
    table = []
    for s in stats:
        n = len(s.went_over)
        if s.all_lines == 0:  # the files have no market for it: nothing to compare
            table.append(f"| {s.stat} | no lines in the files | – | – | – | – | – | – | – |")
            continue
        if n == 0:  # lines, and not one answered: the live path failed them all
            table.append(f"| {s.stat} | 0 of {s.all_lines} | – | – | – | – | – | – | – |")
            agree = False
            continue
        live, offline = brier(s.live, s.went_over), brier(s.offline, s.went_over)
        ok = abs(live - offline) <= AGREEMENT
        agree &= ok
        table.append(
            f"| {s.stat} | {n} of {s.all_lines} | {live:.4f} | {offline:.4f} | "
            f"{live - offline:+.5f} {'✓' if ok else '✗'} | "
            f"{float(np.max(np.abs(s.live - s.offline))):.4f} | "
            f"{_fmt(_gap(s.live, s.books, s.went_over, rounds))} | "
            f"{ece(s.live, s.went_over):.4f} / {ece(s.books, s.went_over):.4f} | "
            f"{100 * _hit(s.live, s.went_over):.1f}% / {100 * _hit(s.books, s.went_over):.1f}% |"
        )
    missing: dict[str, int] = defaultdict(int)
    for s in stats:
        for reason, count in s.not_answered.items():
            missing[reason] += count
    bets = slate_bets(slate, test)
    slate_rows = pd.read_csv(slate)
    lines_out = [
        f"# Live replay, {start} to {end}",
        "",
        f"Generated {dt.date.today().isoformat()} by `{command}`"
        + (f" in {seconds / 60:.0f} minutes" if seconds else "")
        + f" on the local stack (`statmuse up`), serving the bundles in `{_shown(models)}/`.",
        "",
        "What ran, day by day: in the morning the ingestor published the day's schedule, "
        "availability and the books' lines (the files sources); the features service computed "
        "every rostered player's pre-game vector; the predictor priced every posted line; "
        "then every line was asked of the gateway (`POST /api/batch_predict` with the day as "
        "`game_date`, as a user would) and the day's slate read (`GET /api/slate`). At night the "
        "ingestor published the day's box scores. Nothing in the answers came from after the "
        "morning it was asked.",
        "",
        "## The live answers against the offline evaluation",
        "",
        "Each line of the prop_lines files in the window (one per book, as `statmuse evaluate` "
        "reads them; pushes and games the player missed left out), scored with the gateway's "
        "P(over) and with the offline evaluation's on the same line: the same bundle on the "
        "dataset's vector of that game (`statmuse evaluate --from "
        f"{start} --to {end}` computes it; asked without odds, both are the line blend's "
        "P(over), evaluate's `model_line_blend` row). They agree when the Brier scores "
        f"differ by at most {AGREEMENT} per stat. P(over) is taken given no push, like the books' "
        "de-vigged price. Gap: our Brier minus the books' (paired bootstrap 95% interval; "
        "negative is better than the books). Hit rate: how often the side a probability "
        "favours won.",
        "",
        "| stat | lines answered | Brier live | Brier evaluate | difference | largest "
        "P(over) difference | gap vs books | ECE live / books | hit rate live / books |",
        "|---|---|---|---|---|---|---|---|---|",
        *table,
        "",
        f"Verdict: {'every stat agrees' if agree else 'NOT every stat agrees'} within "
        f"{AGREEMENT} Brier.",
        "",
        f"Lines in the window matched to a player: {len(window)} ({len(unmatched)} lines of the "
        "files matched no player of the dataset).",
    ]
    if missing:
        lines_out += ["", "Lines scored by evaluate but not answered live, and why:", ""]
        lines_out += [f"- {count}: {reason}" for reason, count in sorted(missing.items())]
    lines_out += [
        "",
        "## The slates",
        "",
        f"{len(slate_rows)} priced props on {slate_rows['day'].nunique()} slates "
        f"({len(slate_rows) / max(slate_rows['day'].nunique(), 1):.0f} a day). A call is OVER "
        "or UNDER when the best price that is not an outlier against the other books is worth "
        "at least 2% per unit; otherwise PASS.",
        "",
    ]
    if len(bets):
        for price in ("best", "median"):
            settled = bets[price].dropna().to_numpy()
            roi = bootstrap(settled.reshape(-1, 1), lambda a: float(np.mean(a)), rounds=rounds)
            lines_out.append(
                f"- At the {'best non-outlier' if price == 'best' else 'median'} price: "
                f"{len(settled)} calls settled, won {100 * bets['won'].mean():.1f}%, ROI "
                f"{100 * roi.value:+.1f}% [{100 * roi.low:+.1f}, {100 * roi.high:+.1f}]."
            )
        by_stat = bets.groupby("stat").agg(calls=("won", "size"), won=("won", "mean"))
        lines_out += [
            "",
            "| stat | calls | won | ROI at the median price |",
            "|---|---|---|---|",
        ]
        for stat, row in by_stat.iterrows():
            roi_stat = bets.loc[bets["stat"] == stat, "median"].mean()
            lines_out.append(
                f"| {stat} | {int(row['calls'])} | {100 * row['won']:.1f}% | "
                f"{100 * roi_stat:+.1f}% |"
            )
    else:
        lines_out.append("No OVER or UNDER calls were made on these slates.")
    lines_out += [
        "",
        "These calls are the slate's rule as it stands; docs/BACKTEST.md has the strategies "
        "walked forward over the whole season, with their intervals. A record this short says "
        "little on its own.",
    ]
    return "\n".join(lines_out) + "\n", agree
