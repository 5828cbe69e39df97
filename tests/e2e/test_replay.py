"""One replayed day end to end, as `make demo` ends and `statmuse replay` runs each day: the
season up to the day before, that morning's schedule, availability and lines through every
service, the slate priced by the predictor and served by the gateway, every line answered from
the day's pre-game vectors; then the night's box scores reach the answers."""

import datetime as dt
from pathlib import Path

import pytest

from statmuse_ops import demo
from statmuse_ops.replay import Replay, for_the_game, posted_props

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "nba"
MODELS = REPO / "models" / "holdout-2023-24"  # never saw the replayed season
# Early in the season, so the day before is quick to load; the bundled lines then are pra only
# (`make demo` ends on 2024-04-12 the same way, with every stat).
DAY = dt.date(2023, 12, 25)


def test_a_replayed_day_prices_its_slate_and_answers_every_line(running_stack):
    s = running_stack
    result = demo.run_tonight(
        s, data_dir=DATA, season="2023-24", say=lambda _: None, models_dir=MODELS, tonight=DAY
    )
    # The demo's sample: LeBron's points for that day's game, with its context.
    lebron = result["response"]
    assert lebron["game"]["game_date"] == str(DAY)
    assert lebron["game"]["opponent"] == "BOS"
    assert lebron["game"]["home"] is True
    assert lebron["data_as_of"] == "2023-12-23"  # LAL's last game before the day
    assert lebron["stale"] is False

    slate = result["slate"]
    assert len(slate) > 30  # the books' pra lines of that day's games
    assert {p["stat"] for p in slate} == {"pra"}
    for p in slate:
        assert p["books"] >= 1
        if p["best_side"]:
            assert p["recommendation"] in ("OVER", "UNDER", "PASS")

    # Every posted prop asked as a user would: answered from the day's pre-game vector, and
    # with the model's own P(over) the slate has (one model, one vector). The answers' P(over)
    # weighs the line alone (asked without odds); the slate's weighs the books' price too.
    replay = Replay(s, data_dir=DATA, season="2023-24", out=s.run_dir, say=lambda _: None)
    props = posted_props(DATA, DAY, DAY)[DAY]
    asked = replay.ask(DAY, props)
    answered = [a for a in asked if a["status"] == "ok"]
    failed = sorted({(a["status"], a["error"][:90]) for a in asked if a["status"] != "ok"})
    assert len(answered) > 0.95 * len(asked), failed
    assert all(a["game_date"] == str(DAY) for a in answered)
    priced = {(p["player_id"], p["stat"], float(p["line"])): p for p in slate}
    same = [
        (a, priced[(a["player_id"], a["stat"], a["line"])])
        for a in answered
        if (a["player_id"], a["stat"], a["line"]) in priced
    ]
    assert len(same) > 0.9 * len(slate)
    for a, p in same:
        assert a["model_over_probability"] == pytest.approx(p["model_over_probability"], abs=1e-6)
    moved = [a for a, p in same if abs(a["over_probability"] - p["over_probability"]) > 1e-4]
    assert moved, "the slate's P(over) should weigh the books' price (the market layer)"
    waiting = {"status": "ok", "prediction": {"game": None}}
    assert not for_the_game(waiting, DAY)

    # The night: the day's box scores flow through, and the next answer includes the game.
    replay.night(DAY)
    answer = replay.gateway.post(
        "/api/predict", json={"player": "LeBron James", "stat": "points", "line": 25.5}
    )
    assert answer.status_code == 200
    assert answer.json()["data_as_of"] == str(DAY)
    assert answer.json()["as_of"] == str(DAY + dt.timedelta(days=1))
