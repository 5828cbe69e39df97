"""The live replay's scoring on real 2023-24 games and lines: answers that match the offline
evaluation agree, answers that drift do not, and the slates' calls are settled."""

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from statmuse_shared.models.count import CountModel
from statmuse_trainer.evaluation.replay import AGREEMENT, read_answers, report, slate_bets
from statmuse_trainer.lines import match_players, read_lines
from statmuse_trainer.training.served import line_odds, served_means

from .test_trainer_evaluation import DATA, real_test_frame

MODELS = DATA.parents[1] / "models" / "holdout-2023-24"  # never saw 2023-24
START, END = dt.date(2024, 3, 16), dt.date(2024, 3, 31)
PLAYERS = {"LeBron James", "Anthony Davis", "Jalen Brunson", "Domantas Sabonis"}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A dataset of four players' real 2023-24 games, and the answers a faithful live path
    would give on their real points lines of the window: the served bundle's P(over)."""
    root = tmp_path_factory.mktemp("replay")
    test, names = real_test_frame(PLAYERS)
    test["player_name"] = test["player_id"].map({v: k for k, v in names.items()})
    dataset = root / "dataset"
    dataset.mkdir()
    test.to_parquet(dataset / "test.parquet")
    models = root / "models"
    models.mkdir()
    for stat in ("points", "steals"):  # steals: a market the bundled lines do not have
        (models / f"{stat}.npz").write_bytes((MODELS / f"{stat}.npz").read_bytes())
    model = CountModel.from_bytes((MODELS / "points.npz").read_bytes())
    mu, r, _ = served_means(model, test)
    index = {
        (int(p), d): i
        for i, (p, d) in enumerate(zip(test["player_id"], test["game_date"].dt.date, strict=True))
    }
    lines, _ = match_players(read_lines(sorted((DATA / "prop_lines").glob("*.csv.gz"))), names)
    answers = {}
    for pid, line in lines:
        i = index.get((pid, line.game_date))
        if line.market != "points" or i is None or not START <= line.game_date <= END:
            continue
        under, push, over = line_odds(
            model, mu[[i]], r[[i]], np.array([line.line]), calibrated=True, use_line=True
        )
        answers[(line.game_date, line.player_name, line.line)] = (over[0], under[0], push[0], pid)
    assert len(answers) > 40
    return {"root": root, "dataset": dataset, "models": models, "answers": answers}


def write_answers(path: Path, answers: dict, *, shift: float = 0.0, drop: int = 0) -> None:
    fields = ["day", "player_name", "stat", "line", "status", "error", "player_id", "game_date"]
    fields += ["over_probability", "under_probability"]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for k, ((day, name, line), (over, under, _, pid)) in enumerate(sorted(answers.items())):
            ok = k >= drop
            writer.writerow(
                {
                    "day": day,
                    "player_name": name,
                    "stat": "points",
                    "line": line,
                    "status": "ok" if ok else "error",
                    "error": "" if ok else "the vector for X comes once the games before it",
                    "player_id": pid,
                    "game_date": day,
                    "over_probability": min(over + shift, 1.0) if ok else "",
                    "under_probability": max(under - shift, 0.0) if ok else "",
                }
            )


def write_slate(path: Path, rows: list[dict]) -> None:
    fields = ["day", "player_id", "stat", "line", "recommendation", "best_price"]
    fields += ["consensus_over", "consensus_under"]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def run(replayed: dict, answers: Path, slate: Path) -> tuple[str, bool]:
    return report(
        answers=answers,
        slate=slate,
        dataset=replayed["dataset"],
        models=replayed["models"],
        lines_dir=DATA / "prop_lines",
        start=START,
        end=END,
        command="statmuse replay --from 2024-03-16 --to 2024-03-31",
        rounds=200,
    )


def test_faithful_answers_agree_and_drifting_ones_do_not(replayed: dict) -> None:
    root = replayed["root"]
    write_slate(root / "slate.csv", [])
    write_answers(root / "faithful.csv", replayed["answers"], drop=3)
    text, agree = run(replayed, root / "faithful.csv", root / "slate.csv")
    assert agree
    row = next(line for line in text.splitlines() if line.startswith("| points |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    answered, total = (int(x) for x in cells[1].split(" of "))
    # Three props refused: their lines (one per book) are left out on both sides.
    assert 3 <= total - answered < 30
    assert cells[2] == cells[3]  # the same Brier, live and offline
    assert cells[5] == "0.0000"
    assert f"- {total - answered}: the vector for X comes once the games before it" in text
    assert "Verdict: every stat agrees" in text
    assert "| steals | no lines in the files |" in text  # nothing to compare is no failure
    assert f"serving the bundles in `{replayed['models'].as_posix()}/`" in text  # not in cwd

    write_answers(root / "none.csv", replayed["answers"], drop=len(replayed["answers"]))
    text, agree = run(replayed, root / "none.csv", root / "slate.csv")
    assert not agree  # lines, and not one answered
    assert "| points | 0 of " in text

    write_answers(root / "drift.csv", replayed["answers"], shift=0.05)
    text, agree = run(replayed, root / "drift.csv", root / "slate.csv")
    assert not agree
    assert "✗" in text
    assert "NOT every stat agrees" in text


def test_read_answers_keys_by_the_books_name_as_matched(replayed: dict) -> None:
    root = replayed["root"]
    write_answers(root / "a.csv", replayed["answers"])
    found = read_answers(root / "a.csv")
    assert len(found) == len(replayed["answers"])
    assert all(a.for_game and a.status == "ok" for a in found.values())
    assert any(k[1] == "lebron james" and k[2] == "points" for k in found)
    assert AGREEMENT == 0.0005


def test_slate_calls_are_settled_at_the_price_taken(replayed: dict) -> None:
    root = replayed["root"]
    test = __import__("pandas").read_parquet(replayed["dataset"] / "test.parquet")
    game = test[(test["player_name"] == "LeBron James") & (test["season"] == "2023-24")].iloc[-1]
    day, scored, pid = game["game_date"].date(), float(game["label_points"]), int(game["player_id"])
    write_slate(
        root / "calls.csv",
        [
            # Won at +120 (best) / -110 (median): 1.2 and 0.909 per unit.
            {
                "day": day,
                "player_id": pid,
                "stat": "points",
                "line": scored - 0.5,
                "recommendation": "OVER",
                "best_price": 120,
                "consensus_over": -110,
                "consensus_under": -110,
            },
            # Lost: -1 either way.
            {
                "day": day,
                "player_id": pid,
                "stat": "points",
                "line": scored - 0.5,
                "recommendation": "UNDER",
                "best_price": 105,
                "consensus_over": -110,
                "consensus_under": -115,
            },
            # A push and a PASS are not bets.
            {
                "day": day,
                "player_id": pid,
                "stat": "points",
                "line": scored,
                "recommendation": "OVER",
                "best_price": 100,
                "consensus_over": -110,
                "consensus_under": -110,
            },
            {
                "day": day,
                "player_id": pid,
                "stat": "points",
                "line": scored - 0.5,
                "recommendation": "PASS",
                "best_price": 100,
                "consensus_over": -110,
                "consensus_under": -110,
            },
        ],  # fmt: skip
    )
    bets = slate_bets(root / "calls.csv", test)
    assert list(bets["won"]) == [True, False]
    assert list(bets["best"]) == pytest.approx([1.2, -1.0])
    assert list(bets["median"]) == pytest.approx([100 / 110, -1.0])
