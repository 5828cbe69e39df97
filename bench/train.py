"""Training time for every stat on the seven bundled seasons: search over the three families,
voting and stacking ensembles, per-player models, dispersion and calibration, and the bundle
(goal: 15 minutes or less on this 2-core machine). Prints the time of each stage.

    uv run python bench/train.py [DATASET_DIR]      (default: the newest var/datasets/*)
"""

import sys
import time
from pathlib import Path

import pandas as pd

from statmuse_trainer.fitting import fit_stat
from statmuse_trainer.modeling import STATS

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    if len(sys.argv) > 1:
        dataset = Path(sys.argv[1])
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
    for stat in STATS:
        t0 = time.perf_counter()
        f = fit_stat(df, stat, jobs=2)
        stages = ", ".join(f"{k} {v:.0f} s" for k, v in f.seconds.items())
        print(f"{stat:9} {time.perf_counter() - t0:6.0f} s  ({stages}; chosen {f.chosen}, "
              f"{f.heads_kept}/{f.heads_tried} per-player models kept)")  # fmt: skip
    total = time.perf_counter() - started
    print(f"all {len(STATS)} stats: {total / 60:.1f} min (goal <= 15 min)")


if __name__ == "__main__":
    main()
