"""The backtest report: bets as (gzip) CSV, the figures as PNG, a summary as JSON (the
dashboard reads it) and the whole story as markdown (reports/backtest/<from>_<to>/README.md, and
docs/BACKTEST.md when asked)."""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from statmuse_trainer.backtest.engine import Result
from statmuse_trainer.backtest.ledger import METRICS, daily, summarise
from statmuse_trainer.figures import pyplot
from statmuse_trainer.scoring import Estimate, bootstrap

EDGES = [-math.inf, -0.05, 0.0, 0.02, 0.05, 0.10, 0.20, math.inf]
EDGE_LABELS = ["< −5%", "−5–0%", "0–2%", "2–5%", "5–10%", "10–20%", "≥ 20%"]
BREAKDOWN = ["bets", "pushes", "wins", "losses", "staked", "days", *METRICS]
FIGURES = {
    "equity": "equity.png",
    "drawdown": "drawdown.png",
    "calibration": "calibration.png",
    "edge": "roi_by_edge.png",
}


def _fmt(e: object, digits: int = 3, pct: bool = False) -> str:
    if not isinstance(e, Estimate) or not math.isfinite(e.value):
        return "–"
    scale, unit = (100.0, "%") if pct else (1.0, "")
    d = 1 if pct else digits
    if not math.isfinite(e.low):
        return f"{e.value * scale:.{d}f}{unit}"
    return f"{e.value * scale:.{d}f}{unit} [{e.low * scale:.{d}f}, {e.high * scale:.{d}f}]"


def summaries(result: Result, rounds: int) -> dict[tuple[str, str], dict[str, Any]]:
    return {k: summarise(d, result.bankroll, rounds=rounds) for k, d in result.days.items()}


def breakdown(
    result: Result, by: str, rounds: int, *, modes: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Per strategy, mode (all, or `modes`) and `by` (stat or book): the bets' counts, win
    rate, ROI and CLV with intervals (betting days resampled, as for the whole run)."""
    rows = []
    for (strategy, mode), days in result.days.items():
        if modes is not None and mode not in modes:
            continue
        bets = result.bets[(result.bets["strategy"] == strategy) & (result.bets["mode"] == mode)]
        for key, part in bets.groupby(by):
            s = summarise(
                daily(part, list(days.index), result.bankroll), result.bankroll, rounds=rounds
            )
            rows.append({"strategy": strategy, "mode": mode, by: key, **s})
    return pd.DataFrame(rows, columns=["strategy", "mode", by, *BREAKDOWN])


def _edge_table(bets: pd.DataFrame, rounds: int) -> pd.DataFrame:
    bucket = pd.cut(bets["expected_value"], EDGES, labels=EDGE_LABELS, right=False)
    rows = []
    for label, part in bets.groupby(bucket, observed=True):
        pairs = part[["profit", "stake"]].to_numpy(np.float64)
        roi = bootstrap(pairs, lambda a: float(a[:, 0].sum() / a[:, 1].sum()), rounds=rounds)
        rows.append({"edge": str(label), "bets": len(part), "roi": roi})
    return pd.DataFrame(rows)


def _figures(out: Path, result: Result, rounds: int) -> None:
    plt = pyplot()
    modes = result.modes
    # Equity and drawdown: one panel per pricing mode, one line per strategy.
    for kind in ("equity", "drawdown"):
        fig, axes = plt.subplots(
            1, len(modes), figsize=(6.4 * len(modes), 4.2), dpi=100, squeeze=False, sharey=True
        )
        for ax, mode in zip(axes[0], modes, strict=True):
            for s in result.strategies:
                d = result.days[(s.name, mode)]
                path = pd.concat([pd.Series([result.bankroll]), d["end"].reset_index(drop=True)])
                x = [pd.Timestamp(result.start), *pd.to_datetime(d.index)]
                if kind == "equity":
                    ax.plot(x, path.to_numpy(), label=s.name, lw=1.4)
                else:
                    values = path.to_numpy()
                    ax.plot(
                        x, 100 * (values / np.maximum.accumulate(values) - 1), label=s.name, lw=1.4
                    )
            if kind == "equity":
                ax.axhline(result.bankroll, color="grey", lw=0.8, ls="--")
                ax.set_ylabel("bankroll")
            else:
                ax.set_ylabel("drawdown from peak (%)")
            ax.set_title(f"{kind}: {mode} price")
            ax.tick_params(axis="x", rotation=30)
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / FIGURES[kind])
        plt.close(fig)
    # Calibration of the bets taken: our confidence against how often they won.
    fig, axes = plt.subplots(1, len(modes), figsize=(5.2 * len(modes), 4.6), dpi=100, squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        ax.plot([0.4, 1], [0.4, 1], color="grey", lw=0.8, ls="--")
        for s in result.strategies:
            b = result.bets[(result.bets["strategy"] == s.name) & (result.bets["mode"] == mode)]
            b = b[b["outcome"] != "push"]
            if b.empty:
                continue
            bins = pd.cut(b["probability"], [0.4 + 0.05 * i for i in range(13)])
            g = b.groupby(bins, observed=True).agg(
                p=("probability", "mean"),
                won=("outcome", lambda o: (o == "win").mean()),
                n=("outcome", "size"),
            )
            g = g[g["n"] >= 30]
            ax.plot(g["p"], g["won"], marker="o", ms=3, lw=1.2, label=s.name)
        ax.set_xlabel("our P(win) of the bets taken")
        ax.set_ylabel("share won")
        ax.set_title(f"calibration of bets: {mode} price")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / FIGURES["calibration"])
    plt.close(fig)
    # ROI by our edge: every quote bet on its better side (the `flat` strategy if it ran),
    # else all bets of the run.
    fig, axes = plt.subplots(
        1, len(modes), figsize=(5.6 * len(modes), 4.2), dpi=100, squeeze=False, sharey=True
    )
    for ax, mode in zip(axes[0], modes, strict=True):
        name = "flat" if any(s.name == "flat" for s in result.strategies) else None
        b = result.bets[result.bets["mode"] == mode]
        if name:
            b = b[b["strategy"] == name]
        t = _edge_table(b, rounds)
        if not t.empty:
            v = np.array([100 * e.value for e in t["roi"]])
            lo = np.array([100 * (e.value - e.low) for e in t["roi"]])
            hi = np.array([100 * (e.high - e.value) for e in t["roi"]])
            ax.bar(
                t["edge"],
                v,
                yerr=[lo, hi],
                capsize=3,
                color=["tab:green" if x >= 0 else "tab:red" for x in v],
            )
            for i, (n, top) in enumerate(zip(t["bets"], v + hi, strict=True)):
                ax.annotate(
                    f"n={n}",
                    (i, max(top, 0)),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=7,
                )
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("our expected value per unit")
        ax.set_ylabel("ROI (%) with 95% interval")
        ax.set_title(f"ROI by edge: {mode} price" + (f", strategy {name}" if name else ""))
        ax.tick_params(axis="x", rotation=30)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(out / FIGURES["edge"])
    plt.close(fig)


def findings(result: Result, sums: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """The summary in words, computed from the tables (never typed in by hand)."""
    out = []
    for mode in result.modes:
        runs = {k[0]: v for k, v in sums.items() if k[1] == mode and v["bets"]}
        if not runs:
            continue
        best = max(runs, key=lambda n: runs[n]["roi"].value)
        worst = min(runs, key=lambda n: runs[n]["roi"].value)
        above = [n for n, v in runs.items() if v["roi"].low > 0]
        below = [n for n, v in runs.items() if v["roi"].high < 0]
        bets = result.bets[(result.bets["mode"] == mode) & (result.bets["strategy"] == best)]
        month = pd.to_datetime(bets["day"]).dt.strftime("%Y-%m")
        by_month = ", ".join(
            f"{m} {g['profit'].sum() / g['stake'].sum():+.1%} ({len(g)} bets)"
            for m, g in bets.groupby(month)
        )
        out.append(
            f"- **{mode} price**: best ROI `{best}` {_fmt(runs[best]['roi'], pct=True)} over "
            f"{runs[best]['bets']} bets, worst `{worst}` {_fmt(runs[worst]['roi'], pct=True)}. "
            + (
                f"ROI interval above zero: {', '.join(f'`{n}`' for n in above)}. "
                if above
                else "No strategy's ROI interval lies above zero. "
            )
            + (f"Below zero: {', '.join(f'`{n}`' for n in below)}. " if below else "")
            + f"`{best}` month by month: {by_month}."
        )
    taken = result.bets[result.bets["outcome"] != "push"]
    for mode in result.modes:
        b = taken[(taken["mode"] == mode) & (taken["strategy"] == "ev")]
        if len(b):
            out.append(
                f"- Calibration of the `ev` bets at the {mode} price: we expected them to win "
                f"{b['probability'].mean():.1%} of the time, they won "
                f"{(b['outcome'] == 'win').mean():.1%}; the books' closing fair probability "
                f"was {b['fair_probability'].mean():.1%}."
            )
    out.append(
        f"- {len(sums)} strategy and price combinations were tried on the same games; with "
        "that many, one interval in twenty is expected to miss zero by chance alone, so a "
        "single positive result is a lead to test on another season, not a proven edge."
    )
    return out


def markdown(
    result: Result,
    sums: dict[tuple[str, str], dict[str, Any]],
    by_stat: pd.DataFrame,
    by_book: pd.DataFrame,
    *,
    command: str,
    pictures: str,
    rounds: int,
) -> str:
    c = result.counts
    lines = [
        f"# Backtest: {result.start} to {result.end}",
        "",
        f"Regenerate with `{command}`.",
        "",
        f"Models: {', '.join(result.models)} (trained on games before the period; a model "
        "whose training window overlaps it is refused). P(over) is what the predictor serves "
        "for a posted line: with a market layer, the books' median de-vigged price at the line "
        "weighed with the model's own P(over). Features: the pre-game vectors (dataset "
        f"`{result.dataset or '?'}`: `statmuse-trainer dataset` on a stack that ingested the "
        "seasons, or `bench/research/dataset_from_files.py`, the same feature code on the files; "
        "`var/` is not in the repository). Lines: the books' "
        "last snapshot before tip-off from `data/nba/prop_lines/` "
        f"({c.get('lines', 0):,} lines matched to players; {c.get('quotes', 0):,} markets "
        f"priced; {c.get('markets_not_played', 0):,} markets void because the player did not "
        f"play; {c.get('markets_unsettled', 0):,} without a result in the box scores). "
        f"Starting bankroll {result.bankroll:,.0f}; a day's stakes are placed from that "
        f"morning's bankroll and together never exceed {result.max_exposure:.0%} of it (scaled "
        "down pro rata when the picks ask for more).",
        "",
        "Pricing modes: **consensus** bets at the line most books post and the median price "
        "of those books; **best** at the best price posted on that line that is not an outlier "
        "(more than 0.05 implied probability more generous than the books' median: a stale book).",
        "",
        "Intervals are bootstrap 95% intervals over betting days (resampled with replacement, "
        f"{rounds} rounds). Closing-line value (CLV) is what the price taken is worth at the "
        "books' consensus de-vigged closing probability; the data holds only the closing "
        "snapshot, so at the consensus price CLV is the vig itself and only the best-price "
        "mode can beat it. The sample has no whole-number lines, so no bet can push.",
        "",
        "## What it says",
        "",
        *findings(result, sums),
        "",
        "## Summary",
        "",
        "| strategy | mode | bets | pushes | win rate % | ROI % | final bankroll | "
        "avg decimal odds | daily Sharpe | max drawdown % | CLV % |",
        "| --- | --- | ---: | ---: | --- | --- | --- | ---: | --- | --- | --- |",
    ]
    for (strategy, mode), s in sums.items():
        lines.append(
            f"| {strategy} | {mode} | {s['bets']} | {s['pushes']} | "
            f"{_fmt(s['win_rate'], pct=True)} | {_fmt(s['roi'], pct=True)} | "
            f"{_fmt(s['final_bankroll'], 0)} | {_fmt(s['average_odds'], 3).split(' ')[0]} | "
            f"{_fmt(s['daily_sharpe'], 3)} | {_fmt(s['max_drawdown'], pct=True)} | "
            f"{_fmt(s['clv'], pct=True)} |"
        )
    lines += ["", "Strategies:", ""]
    lines += [f"- `{s.name}`: {s.description}." for s in result.strategies]
    lines += [
        "",
        "## Pictures",
        "",
        f"![equity curves]({pictures}/{FIGURES['equity']})",
        "",
        f"![drawdown]({pictures}/{FIGURES['drawdown']})",
        "",
        f"![calibration of the bets taken]({pictures}/{FIGURES['calibration']})",
        "",
        f"![ROI by edge bucket]({pictures}/{FIGURES['edge']})",
        "",
    ]
    for title, table, key in (
        ("By stat", by_stat, "stat"),
        ("By book (best price)", by_book, "book"),
    ):
        lines += [
            f"## {title}",
            "",
            f"| strategy | mode | {key} | bets | win rate % | ROI % | CLV % |",
            "| --- | --- | --- | ---: | --- | --- | --- |",
        ]
        for _, r in table.iterrows():
            lines.append(
                f"| {r['strategy']} | {r['mode']} | {r[key]} | {r['bets']} | "
                f"{_fmt(r['win_rate'], pct=True)} | {_fmt(r['roi'], pct=True)} | "
                f"{_fmt(r['clv'], pct=True)} |"
            )
        lines.append("")
    return "\n".join(lines)


def _jsonable(s: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in s.items():
        if isinstance(v, Estimate):
            out[k] = {"value": v.value, "low": v.low, "high": v.high}
        else:
            out[k] = v
    clean: dict[str, Any] = json.loads(json.dumps(out, default=float).replace("NaN", "null"))
    return clean


def write(out: Path, result: Result, *, command: str, rounds: int = 1000) -> str:
    """Everything into `out`; returns the markdown (pictures linked relative to `out`)."""
    out.mkdir(parents=True, exist_ok=True)
    result.bets.to_csv(out / "bets.csv.gz", index=False)  # every bet of every run
    result.quotes.to_csv(out / "quotes.csv.gz", index=False)
    sums = summaries(result, rounds)
    by_stat = breakdown(result, "stat", rounds)
    # At the consensus price every bet's book is "consensus": by book means the best price.
    by_book = breakdown(result, "book", rounds, modes=("best",))
    _figures(out, result, rounds)
    summary = {
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "bankroll": result.bankroll,
        "command": command,
        "models": result.models,
        "dataset": result.dataset,
        "counts": result.counts,
        "figures": FIGURES,
        "runs": [{"strategy": k[0], "mode": k[1], **_jsonable(v)} for k, v in sums.items()],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = markdown(result, sums, by_stat, by_book, command=command, pictures=".", rounds=rounds)
    (out / "README.md").write_text(text + "\n")
    return text
