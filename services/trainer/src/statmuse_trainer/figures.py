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
