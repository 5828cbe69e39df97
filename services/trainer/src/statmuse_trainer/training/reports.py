"""Training reports on disk: metrics and trials as CSV, reliability diagrams and feature
importance as PNG, and a short README tying them together."""

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from statmuse_trainer.figures import pyplot, reliability_png
from statmuse_trainer.training.fitting import FittedStat


def importance_png(path: Path, fitted: Sequence[FittedStat], top: int = 12) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(fitted), figsize=(4.2 * len(fitted), 4.6), dpi=100)
    axes = [axes] if len(fitted) == 1 else list(axes)
    for ax, f in zip(axes, fitted, strict=True):
        head = f.importance.head(top).iloc[::-1]
        ax.barh(head["feature"], head["importance"], color="#386cb0")
        ax.set_title(f"{f.stat} ({f.chosen})", fontsize=10)
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# The files about the whole run (the others are per stat: `<kind>_<stat>.<ext>`).
RUN_FILES = (
    "metrics.csv",
    "trials.csv",
    "served.csv",
    "selection.csv",
    "importance.png",
    "README.md",
)


def write(out: Path, fitted: Sequence[FittedStat], *, dataset_version: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in fitted:
        for c in f.candidates:
            rows.append(
                {
                    "stat": f.stat,
                    "candidate": c.name,
                    "chosen": c.name == f.chosen,
                    **c.scores.as_dict(),
                    "params": json.dumps(c.params),
                }
            )
    paths = [out / "metrics.csv", out / "trials.csv", out / "served.csv", out / "selection.csv"]
    pd.DataFrame(rows).to_csv(paths[0], index=False)
    pd.DataFrame([{"stat": f.stat, **t} for f in fitted for t in f.trials]).to_csv(
        paths[1], index=False
    )
    pd.DataFrame(
        [
            {
                "stat": f.stat,
                "name": f.name,
                **f.metrics(),
                "heads_tried": f.heads_tried,
                **{f"seconds_{k}": round(v, 1) for k, v in f.seconds.items()},
            }
            for f in fitted
        ]
    ).to_csv(paths[2], index=False)
    pd.DataFrame([r for f in fitted for r in f.selection.rows()]).to_csv(paths[3], index=False)
    for f in fitted:
        p = out / f"reliability_{f.stat}.png"
        reliability_png(
            p,
            {"uncalibrated": f.reliability_before, "isotonic": f.reliability_after},
            f"{f.stat}: validation, reference lines",
        )
        q = out / f"importance_{f.stat}.csv"
        f.importance.to_csv(q, index=False)
        paths += [p, q]
    imp = out / "importance.png"
    importance_png(imp, fitted)
    models = out / "models"
    models.mkdir(exist_ok=True)
    for f in fitted:
        (models / f"{f.stat}.npz").write_bytes(f.bundle)
        sidecar = json.dumps(f.metadata(dataset_version), indent=2, default=float)
        (models / f"{f.stat}.json").write_text(sidecar + "\n")
    readme = out / "README.md"
    lines = [
        f"# Training run (dataset {dataset_version})",
        "",
        "Scores are on the validation season at each game's reference line (the half-point",
        "line above the last-10 mean). `served.csv` is the model as shipped, after",
        "per-player heads and isotonic calibration (fitted on this same season, so its",
        "calibrated numbers are in-sample; `statmuse evaluate` gives the held-out ones).",
        "",
        "| stat | model | heads | MAE | Brier (uncal.) | Brier | ECE (uncal.) | ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in fitted:
        v = f.validation
        lines.append(
            f"| {f.stat} | {f.chosen} | {f.heads_kept}/{f.heads_tried} | "
            f"{v['mae']:.3f} | {v['brier_uncalibrated']:.4f} | {v['brier']:.4f} | "
            f"{v['ece_uncalibrated']:.4f} | {v['ece']:.4f} |"
        )
    lines += [f"\n{f.stat}: {f.validation_note}." for f in fitted if f.validation_note]
    lines += [
        "",
        "## Search and feature selection",
        "",
        "XGBoost and ElasticNet are searched by Optuna (seeded TPE, starting from the old grid;",
        "XGBoost fits a Poisson likelihood, its trials pruned on the validation Poisson loss),",
        "the forest over its two configurations;",
        "every trial is in `trials.csv`. Then each feature's permutation importance: how much",
        "the validation Brier worsens when its column is shuffled, with the searched XGBoost.",
        "Features at or below zero are dropped if XGBoost refitted without them scores no",
        "worse on validation (`selection.csv` has every feature's importance). The stats",
        "without bundled lines (steals, blocks, turnovers and the sums of two) get a light",
        "fit instead: one XGBoost configuration (the first start at twice the learning",
        'rate) and one ElasticNet, no forest and no selection ("not run" below).',
        "",
        "| stat | features | importance ≤ 0 | Brier, all | Brier, without them | adopted | kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in fitted:
        sel = f.selection
        without = "" if sel.brier_kept is None else f"{sel.brier_kept:.5f}"
        if not sel.ran:
            lines.append(
                f"| {f.stat} | {sel.features_before} | not run | {sel.brier_all:.5f} | | | "
                f"{len(sel.kept)} |"
            )
            continue
        lines.append(
            f"| {f.stat} | {sel.features_before} | {len(sel.candidates)} | "
            f"{sel.brier_all:.5f} | {without} | {'yes' if sel.adopted else 'no'} | "
            f"{len(sel.kept)} |"
        )
    lines += ["", "Pictures: `reliability_<stat>.png`, `importance.png`."]
    readme.write_text("\n".join(lines) + "\n")
    return [*paths, imp, readme]
