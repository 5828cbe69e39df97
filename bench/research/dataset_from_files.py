"""The training dataset straight from the bundled files, without a stack: for model research.

`statmuse-trainer dataset` frames the game vectors the features service stored; this script
computes the same vectors with the same code (`statmuse_shared.features.walk`, exact, as the
features service publishes them packed) from `data/nba/` and frames them with the trainer's
`frame`, `check` and `save`. Loading seven seasons through the local stack takes about 2.5
minutes on 2 cores (`bench/pipeline.py --season 2017-18..2023-24`), then the trainer's dataset
command; this takes a minute and a half. `--compare DIR` checks the result against a dataset
the pipeline built (every common row's labels and features equal) and prints how many rows
differ. Against a
dataset a replay stack built, labels and features agree except the opponent-strength ones
(opp_def_rating and rank, the vs-top-10 and vs-bottom-10 splits) on about 12% of rows: the
stack builds its league table from team box scores as they arrive, and its reconcile does not
yet recompute every vector a late one changes (the features service's known reconcile gap).

    .venv/bin/python bench/research/dataset_from_files.py --out var/datasets [--compare DIR]
"""

import argparse
import csv
import gzip
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from statmuse_features.service import stat_line, team_report
from statmuse_ingestor.availability_rows import normalise_availability
from statmuse_ingestor.sources import FileSource
from statmuse_shared.features import League, PlayerGame, walk
from statmuse_shared.features.logs import player_game, team_games
from statmuse_trainer.training.dataset import DEFAULT_SPLIT, Row, check, frame, save

REPO = Path(__file__).resolve().parents[2]
SEASONS = ("2017-18", "2018-19", "2019-20", "2020-21", "2021-22", "2022-23", "2023-24")


def _rows(data: Path, kind: str, season: str) -> list[dict[str, str]]:
    with gzip.open(data / kind / f"{season}.csv.gz", "rt", newline="") as f:
        return list(csv.DictReader(f))


def load(data: Path) -> tuple[League, dict[int, tuple[str, list[PlayerGame]]]]:
    league = League()
    players: dict[int, tuple[str, list[PlayerGame]]] = {}
    for season in SEASONS:
        for game in team_games(_rows(data, "team_game_logs", season), season):
            league.add(game)
        # Who is out: the files source's stand-in, as `statmuse ingest availability` publishes.
        reports, rejects = normalise_availability(
            FileSource(data).availability_rows(season), source="files"
        )
        if rejects:
            raise SystemExit(f"{len(rejects)} availability rows rejected in {season}")
        for reported in reports:
            league.report(team_report(reported.report))
        for r in _rows(data, "player_game_logs", season):
            _, history = players.setdefault(int(r["PLAYER_ID"]), (r["PLAYER_NAME"], []))
            history.append(player_game(r, season))
    return league, players


def rows(league: League, players: dict[int, tuple[str, list[PlayerGame]]]) -> list[Row]:
    out = []
    for pid, (name, history) in players.items():
        history.sort(key=lambda g: g.game_date)
        walked, _ = walk(history, league=league)
        for game, features in walked:
            out.append(
                Row(
                    player_id=pid,
                    season=game.season,
                    game_date=game.game_date,
                    as_of=game.game_date,
                    features=dict(features),
                    outcome=stat_line(game).model_dump(exclude={"game_date"}),
                    player_name=name,
                )
            )
    return out


def compare(df: pd.DataFrame, other: Path) -> int:
    """Rows of `other` (a pipeline-built dataset) that differ from ours; prints a summary."""
    theirs = pd.concat([pd.read_parquet(p) for p in sorted(other.glob("*.parquet"))])
    key = ["player_id", "game_date"]
    merged = theirs.merge(df, on=key, how="left", suffixes=("", "_ours"), indicator=True)
    missing = int((merged["_merge"] != "both").sum())
    cols = [c for c in theirs.columns if c.startswith(("f_", "label_"))]
    bad = np.zeros(len(merged), dtype=bool)
    for c in cols:
        a, b = merged[c].to_numpy(), merged[f"{c}_ours"].to_numpy()
        bad |= ~(np.isclose(a, b, rtol=1e-9, atol=0, equal_nan=True))
    print(
        f"compared {len(theirs)} rows of {other}: {missing} missing here, {int(bad.sum())} differ"
    )
    return missing + int(bad.sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "nba")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "datasets")
    parser.add_argument("--compare", type=Path, help="a dataset directory the pipeline built")
    args = parser.parse_args()
    t0 = time.perf_counter()
    league, players = load(args.data)
    df = frame(rows(league, players), DEFAULT_SPLIT)
    check(df, DEFAULT_SPLIT)
    version, paths = save(df, args.out)
    counts = df["split"].value_counts().to_dict()
    print(
        f"dataset {version} in {time.perf_counter() - t0:.0f} s: {counts} -> {args.out / version}"
    )
    if args.compare is not None and compare(df, args.compare):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
