"""Pictures on disk (matplotlib without a display): reliability diagrams for the training and
evaluation reports; the backtest draws its own with the same `pyplot`."""

from pathlib import Path
from typing import Any

import pandas as pd


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    return plt


COLOURS = ("#d95f02", "#1b9e77", "#7570b3", "#e7298a")
MIN_BIN = 30  # bins with fewer predictions are noise on a reliability diagram


def reliability_png(path: Path, curves: dict[str, pd.DataFrame], title: str) -> None:
    """Reliability diagram: observed frequency against mean predicted P(over) per bin."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.8), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="perfect")
    for (label, frame), colour in zip(curves.items(), COLOURS, strict=False):
        shown = frame[frame["n"] >= MIN_BIN] if len(frame) else frame
        if len(shown):
            ax.plot(shown["mean_p"], shown["freq"], marker="o", color=colour, label=label)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="predicted P(over)",
        ylabel="observed frequency",
        title=f"{title}\n(bins with {MIN_BIN}+ predictions)",
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def intervals_png(
    path: Path,
    rows: list[tuple[str, float, float, float]],
    *,
    title: str,
    xlabel: str,
    zero_label: str,
) -> None:
    """Estimates with their 95% intervals, one row each ((label, value, low, high)), against a
    dashed zero line."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(rows) + 1.4), dpi=110)
    ys = list(range(len(rows)))[::-1]
    for y, (_, value, low, high) in zip(ys, rows, strict=True):
        colour = COLOURS[1] if low > 0 else COLOURS[0] if high < 0 else "#555"
        ax.plot([low, high], [y, y], color=colour, lw=2)
        ax.plot([value], [y], marker="o", color=colour)
    ax.axvline(0, color="#999", lw=1, ls="--", label=zero_label)
    ax.set_yticks(ys, [r[0] for r in rows])
    ax.xaxis.set_major_locator(plt.MaxNLocator(5))
    ax.set(xlabel=xlabel, title=title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
