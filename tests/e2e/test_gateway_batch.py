"""/api/batch_predict against a live gateway serving the shipped models: a batch goes through
as a batch (one vectorised call per model) and answers exactly what the single endpoint
answers one prop at a time, with a status per item."""

import random
from typing import Any

import httpx
import pytest
from redis import Redis

pytestmark = pytest.mark.e2e
PLAYERS = ("LeBron James", "Anthony Davis", "Stephen Curry")  # whom the `gateway` fixture seeds
STATS = ("points", "rebounds", "assists", "threes", "pra")


def test_a_batch_answers_what_single_predictions_answer(gateway, infra):
    # Odds of this run only: no answer cached by an earlier run (the tests share one Redis).
    rng = random.Random()
    odds = {"odds_over": -rng.randint(100, 10_000), "odds_under": rng.randint(100, 10_000)}
    props = [
        {"player": p, "stat": s, "line": 10.5 + k, **odds}
        for k, (p, s) in enumerate((p, s) for p in PLAYERS for s in STATS)
    ]
    items = [
        *props[:7],
        {"player": "Lebron Jmes", "stat": "points", "line": 25.5},
        {**props[0], "game_date": "2001-01-01"},
        *props[7:],
    ]
    with httpx.Client(base_url=gateway, timeout=30) as http:
        r = http.post("/api/batch_predict", json={"items": items})
        assert r.status_code == 200, r.text
        body = r.json()
        statuses = [x["status"] for x in body["results"]]
        assert statuses == ["ok"] * 7 + ["not_found", "not_found"] + ["ok"] * 8
        assert (body["ok"], body["failed"]) == (15, 2)
        assert body["results"][7]["suggestions"] == ["LeBron James"]
        assert (
            body["results"][8]["error"] == "no scheduled game for LeBron James (LAL) on 2001-01-01"
        )
        batched = [x["prediction"] for x in body["results"] if x["status"] == "ok"]

        # Orphan every cached answer (what a new model does), so each single request computes
        # its prop alone (one row through the model) instead of reading the batch's answer.
        redis = Redis.from_url(infra.redis_url)
        try:
            redis.incr("pred-gen")
        finally:
            redis.close()
        for prop, from_batch in zip(props, batched, strict=True):
            single = http.post("/api/predict", json=prop)
            assert single.status_code == 200, single.text
            assert_same(from_batch, single.json())
        # Now cached: the same batch again is answered from Redis, the same answers.
        again = http.post("/api/batch_predict", json={"items": items}).json()
        assert again["results"] == body["results"]


def assert_same(batched: dict[str, Any], single: dict[str, Any]) -> None:
    """The same prediction; floats to 1e-9 (numpy may sum a matrix of many rows in another
    order than a matrix of one)."""
    exact = (
        "player",
        "player_id",
        "stat",
        "line",
        "as_of",
        "recommendation",
        "odds_over",
        "odds_under",
        "model_version",
        "fallback",
        "disclaimer",
        "help_links",
    )
    assert {k: batched[k] for k in exact} == {k: single[k] for k in exact}
    assert set(batched) == set(single)
    for name in (
        "predicted_value",
        "over_probability",
        "under_probability",
        "push_probability",
        "confidence",
        "expected_value",
        "kelly_fraction",
    ):
        assert batched[name] == pytest.approx(single[name], rel=1e-9, abs=1e-12), name
    assert [c["feature"] for c in batched["explanation"]] == [
        c["feature"] for c in single["explanation"]
    ]
    assert [d["value"] for d in batched["distribution"]] == [
        d["value"] for d in single["distribution"]
    ]
    assert [d["probability"] for d in batched["distribution"]] == pytest.approx(
        [d["probability"] for d in single["distribution"]], rel=1e-9, abs=1e-12
    )
