"""Training time for every stat on the seven bundled seasons: search over the three families,
voting and stacking ensembles, per-player models, dispersion and calibration, and the bundle
(goal: 15 minutes or less on this 2-core machine). Prints the time of each stage.

Baseline, measured in the same run: one stat (assists unless told) fitted again in a single
process (`jobs=1`), against the same fit with two worker processes in the timed run.

    uv run python bench/train.py [DATASET_DIR] [--baseline-stat assists]
    (default dataset: the newest var/datasets/*)
"""

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import Result, emit  # noqa: E402

from statmuse_trainer.training.fitting import fit_stat  # noqa: E402
from statmuse_trainer.training.stat_data import STATS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
JOBS = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", nargs="?", type=Path)
    parser.add_argument("--baseline-stat", default="assists", help="'' for no baseline")
    args = parser.parse_args()
    if args.dataset is not None:
        dataset = args.dataset
    else:
        found = sorted(ROOT.glob("var/datasets/*/train.parquet"), key=lambda p: p.stat().st_mtime)
        if not found:
            sys.exit("no dataset: run `statmuse-trainer dataset` (or `statmuse train`) first")
        dataset = found[-1].parent
    df = pd.concat(
        [pd.read_parquet(dataset / f"{p}.parquet") for p in ("train", "validation")],
        ignore_index=True,
    )
    print(f"dataset {dataset.name}: {len(df)} training and validation rows")
    started = time.perf_counter()
    took: dict[str, float] = {}
    for stat in STATS:
        t0 = time.perf_counter()
        f = fit_stat(df, stat, jobs=JOBS)
        took[stat] = time.perf_counter() - t0
        stages = ", ".join(f"{k} {v:.0f} s" for k, v in f.seconds.items())
        print(
            f"{stat:9} {took[stat]:6.0f} s  ({stages}; chosen {f.chosen}, "
            f"{f.heads_kept}/{f.heads_tried} per-player models kept)"
        )
    total = time.perf_counter() - started
    print(f"all {len(STATS)} stats: {total / 60:.1f} min (goal <= 15 min)")
    baseline, ratio = "", None
    if args.baseline_stat:
        stat = args.baseline_stat
        t0 = time.perf_counter()
        fit_stat(df, stat, jobs=1)
        single = time.perf_counter() - t0
        ratio = single / took[stat]
        baseline = f"{stat} in one process (jobs=1): {single:.0f} s vs {took[stat]:.0f} s"
        print(f"baseline ({baseline}); {JOBS} worker processes are {ratio:.1f}x faster")
    per_stat = ", ".join(f"{s} {v:.0f} s" for s, v in took.items())
    emit(
        Result(
            id="train.all",
            what="training every stat (search over three families, voting and stacking, "
            "per-player models, dispersion, calibration, bundle), dataset "
            f"`{dataset.name}`",
            value=total / 60,
            unit="min",
            op="<=",
            target=15,
            measured=f"{total / 60:.1f} min ({per_stat})",
            baseline=baseline,
            ratio=ratio,
            ratio_of=f"faster with {JOBS} worker processes",
            command=f"`uv run python bench/train.py var/datasets/{dataset.name}`",
        )
    )


if __name__ == "__main__":
    main()
