"""The prediction use case without I/O: the read model and the prediction cache in memory, a
real rolling-mean model in the book."""

import datetime as dt
import json
from typing import Any

import pytest

from statmuse_gateway.handlers import on_features
from statmuse_gateway.ports import StoredVector
from statmuse_gateway.predicting import Answer, predict_props
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.schemas import PredictRequest, PredictResponse
from statmuse_gateway.service import STALE_IF_DOWN_S, ItemFailed, PlayerNames, RecentVectors
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    GameRef,
    GameScheduled,
    ModelMetrics,
    ModelPublished,
    StatLine,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.baseline import RollingMeanArtifact
from statmuse_shared.models.distributions import NegativeBinomial
from statmuse_shared.models.market import LayerScore, MarketLayer, over_given_no_push
from statmuse_shared.models.output import ModelOutput
from statmuse_shared.models.serving import ModelBook, Served, predict

from .fakes import InMemoryPredictionCache, InMemoryReadModel, MemoryArtifactStore, fake_runtime

AS_OF = dt.date(2024, 1, 10)
LEBRON = {"player": "LeBron James", "stat": "points", "line": 25.5}


def vector(pid: int, name: str, sma_10: float, *, as_of: dt.date = AS_OF) -> FeaturesComputed:
    return FeaturesComputed(
        event_id=f"fv-{pid}-{as_of}",
        player_id=pid,
        player_name=name,
        team="LAL",
        season="2023-24",
        as_of=as_of,
        feature_set_version="fs-0.1",
        features={"points_sma_10": sma_10, "points_n_10": 10.0, "points_season_avg": 24.0},
    )


def points_model(store: MemoryArtifactStore, version: str = "v1") -> ModelPublished:
    artifact = RollingMeanArtifact(
        stat=Stat.POINTS,
        feature="points_sma_10",
        fallback_feature="points_season_avg",
        window_count_feature="points_n_10",
        min_games=3,
        family="normal",
        residual_sd=7.0,
        league_mean=11.0,
        feature_set_version="fs-0.1",
    )
    uri, checksum = store.put(f"points/{version}.json", artifact.model_dump_json().encode())
    return ModelPublished(
        event_id=f"m-{version}",
        name="points-baseline",
        version=version,
        stat=Stat.POINTS,
        alias="production",
        model_type="rolling_mean",
        artifact_uri=uri,
        checksum=checksum,
        feature_set_version="fs-0.1",
        metrics=ModelMetrics(mae=5.0),
    )


@pytest.fixture
async def rt() -> GatewayRuntime:
    store = MemoryArtifactStore()
    book = ModelBook(store=store)
    book.apply(points_model(store))
    runtime = fake_runtime(book=book)
    await runtime.read_model.store_vectors(
        [vector(2544, "LeBron James", 25.0), vector(201939, "Stephen Curry", 29.0)]
    )
    return runtime


def read_model(rt: GatewayRuntime) -> InMemoryReadModel:
    assert isinstance(rt.read_model, InMemoryReadModel)
    return rt.read_model


def cache(rt: GatewayRuntime) -> InMemoryPredictionCache:
    assert isinstance(rt.prediction_cache, InMemoryPredictionCache)
    return rt.prediction_cache


async def answer(rt: GatewayRuntime, *items: dict[str, Any]) -> list[Answer]:
    answers: list[Answer] = [None] * len(items)
    await predict_props(rt, [PredictRequest.model_validate(i) for i in items], answers)
    return answers


async def test_a_prop_is_the_served_model_priced_at_its_line(rt: GatewayRuntime) -> None:
    [raw] = await answer(rt, {**LEBRON, "odds_over": -120, "odds_under": 100})
    assert isinstance(raw, bytes)
    got = PredictResponse.model_validate_json(raw)
    served = rt.book.for_stat(Stat.POINTS, 2544)
    assert served is not None
    want = predict(
        served,
        vector(2544, "LeBron James", 25.0).features,
        line=25.5,
        odds_over=-120,
        odds_under=100,
        player_id=2544,
    )
    assert (got.player, got.player_id, got.as_of, got.model_version) == (
        "LeBron James",
        2544,
        AS_OF,
        "v1",
    )
    assert got.predicted_value == round(want.predicted_value, 4)
    assert (got.over_probability, got.under_probability, got.push_probability) == (
        want.over_probability,
        want.under_probability,
        want.push_probability,
    )
    assert got.recommendation == want.pricing.recommendation
    assert got.expected_value == want.pricing.expected_value
    assert (got.odds_over, got.odds_under) == (-120, 100)
    assert got.distribution


async def test_an_answer_says_its_game_and_how_old_its_data_is(rt: GatewayRuntime) -> None:
    last = StatLine(game_date=dt.date(2024, 3, 16), minutes=36, points=30, rebounds=8, assists=9)
    pregame = vector(2544, "LeBron James", 25.0, as_of=dt.date(2024, 3, 18)).model_copy(
        update={
            "kind": "game",
            "game": GameRef(
                game_date=dt.date(2024, 3, 18),
                season_type="Regular Season",
                opponent="ATL",
                is_home=True,
            ),
            "last_game": last,
        }
    )
    injured = vector(201939, "Stephen Curry", 29.0).model_copy(
        update={"last_game": last.model_copy(update={"game_date": dt.date(2024, 1, 2)})}
    )
    await rt.read_model.store_vectors([pregame, injured])
    [lebron, curry] = await answer(rt, LEBRON, {**LEBRON, "player": "Stephen Curry"})
    assert isinstance(lebron, bytes)
    assert isinstance(curry, bytes)
    got = PredictResponse.model_validate_json(lebron)
    assert got.game is not None
    assert (got.as_of, got.game.game_date, got.game.opponent, got.game.home) == (
        dt.date(2024, 3, 18),
        dt.date(2024, 3, 18),
        "ATL",
        True,
    )
    assert (got.data_as_of, got.stale) == (dt.date(2024, 3, 16), False)
    # No game known: the data's age is measured against today, and 2024 is long ago.
    other = PredictResponse.model_validate_json(curry)
    assert (other.game, other.data_as_of, other.stale) == (None, dt.date(2024, 1, 2), True)


def game(day: str, home: str, away: str, status: str = "scheduled") -> GameScheduled:
    return GameScheduled(
        event_id=f"g-{day}-{status}",
        source="files",
        season="2023-24",
        season_type="Regular Season",
        game_id=f"00223{day.replace('-', '')[3:]}",
        game_key=f"{day}:{away}@{home}",
        game_date=dt.date.fromisoformat(day),
        home=home,
        away=away,
        status=status,  # type: ignore[arg-type]
    )


async def failure(rt: GatewayRuntime, **change: Any) -> tuple[int, str]:
    [got] = await answer(rt, {**LEBRON, **change})
    assert isinstance(got, ItemFailed), got
    return got.http_status, str(got)


async def test_a_date_and_an_opponent_are_checked_against_the_schedule(
    rt: GatewayRuntime,
) -> None:
    last = StatLine(game_date=dt.date(2024, 3, 16), minutes=36, points=30, rebounds=8, assists=9)
    ref = GameRef(
        game_date=dt.date(2024, 3, 18), season_type="Regular Season", opponent="ATL", is_home=True
    )
    pregame = vector(2544, "LeBron James", 25.0, as_of=dt.date(2024, 3, 18)).model_copy(
        update={"kind": "game", "game": ref, "last_game": last}
    )
    await rt.read_model.store_vectors([pregame])
    await rt.read_model.store_schedule(
        [
            game("2024-03-18", "LAL", "ATL"),
            game("2024-03-20", "MIL", "LAL"),
            game("2024-03-22", "LAL", "PHI", status="postponed"),
        ]
    )
    [ok] = await answer(rt, {**LEBRON, "game_date": "2024-03-18", "opponent": "ATL"})
    assert isinstance(ok, bytes)
    served = PredictResponse.model_validate_json(ok)
    assert served.game is not None
    assert (served.game.game_date, served.game.opponent) == (dt.date(2024, 3, 18), "ATL")
    [no_date] = await answer(rt, {**LEBRON, "opponent": "ATL"})
    assert PredictResponse.model_validate_json(no_date).game == served.game  # type: ignore[arg-type]

    assert await failure(rt, game_date="2024-03-19") == (
        404,
        "no scheduled game for LeBron James (LAL) on 2024-03-19",
    )
    assert await failure(rt, game_date="2024-03-18", opponent="DEN") == (
        409,
        "LeBron James (LAL) plays ATL on 2024-03-18, not DEN",
    )
    assert await failure(rt, game_date="2024-03-22") == (
        404,
        "PHI @ LAL on 2024-03-22 is postponed",
    )
    assert await failure(rt, game_date="2024-03-20") == (
        409,
        "the vector for LeBron James (LAL)'s game on 2024-03-20 comes once the games before "
        "it are played; his next game is on 2024-03-18",
    )
    assert await failure(rt, opponent="BOS") == (
        409,
        "LeBron James (LAL)'s next game is against ATL on 2024-03-18, not BOS",
    )


async def test_an_opponent_with_no_next_game_on_the_schedule_is_refused(rt: GatewayRuntime) -> None:
    assert await failure(rt, opponent="DEN") == (
        409,
        "the schedule has no next game for LeBron James (LAL) to check opponent DEN against: "
        "leave it out, or give game_date",
    )


async def test_a_computed_answer_is_cached_and_served_as_stored(rt: GatewayRuntime) -> None:
    [first] = await answer(rt, LEBRON)
    assert isinstance(first, bytes)
    assert list(cache(rt).entries.values()) == [first]
    calls = len(read_model(rt).calls)
    [again] = await answer(rt, {**LEBRON, "player": "  lebron JAMES "})
    assert again == first
    # The name from the in-process map, the answer from the cache: no query at all.
    assert read_model(rt).calls[calls:] == []
    # A new generation (a model changed) is a miss: computed again from the vector.
    await rt.prediction_cache.invalidate_all()
    [fresh] = await answer(rt, LEBRON)
    assert fresh == first
    assert read_model(rt).calls[calls:] == ["vectors_for"]


async def test_a_batch_goes_through_each_step_together(rt: GatewayRuntime) -> None:
    items = [
        LEBRON,
        {**LEBRON, "player": "Stephen Curry"},
        {**LEBRON, "player": "Lebron Jmes"},
        {**LEBRON, "stat": "rebounds"},
        {**LEBRON, "game_date": "2023-01-01"},
        {**LEBRON, "line": 30.5},
    ]
    answers = await answer(rt, *items)
    assert [type(a).__name__ for a in answers] == [
        "bytes",
        "bytes",
        "ItemFailed",
        "ItemFailed",
        "ItemFailed",
        "bytes",
    ]
    unknown, no_model, too_early = answers[2], answers[3], answers[4]
    assert isinstance(unknown, ItemFailed)
    assert (unknown.status, unknown.http_status) == ("not_found", 404)
    assert unknown.content == {
        "detail": "unknown player 'Lebron Jmes'",
        "suggestions": ["LeBron James"],
    }
    assert isinstance(no_model, ItemFailed)
    assert (no_model.status, no_model.http_status, no_model.headers) == (
        "error",
        503,
        {"Retry-After": "30"},
    )
    assert str(no_model) == "no production model for rebounds yet"
    assert isinstance(too_early, ItemFailed)
    assert too_early.content == {
        "detail": "no scheduled game for LeBron James (LAL) on 2023-01-01",
        "suggestions": [],
    }
    # One query per step: the names, the suggestions, the dated prop's game, the vectors; one
    # cache round trip.
    assert read_model(rt).calls[-4:] == ["players_by_names", "names", "games_of", "vectors_for"]
    assert cache(rt).lookups == 1
    # Each answer equals the single endpoint's.
    for item, got in zip(items, answers, strict=True):
        if isinstance(got, bytes):
            assert await answer(rt, item) == [got]


async def test_one_items_model_failure_is_that_items_answer(
    rt: GatewayRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = rt.book.for_stat(Stat.POINTS)
    assert served is not None
    real = served.model.predict

    def flaky(features: dict[str, Any], player_id: int | None = None) -> Any:
        if player_id == 201939:
            raise ValueError("bad row")
        return real(features, player_id)

    monkeypatch.setattr(served.model, "predict", flaky)
    answers = await answer(rt, LEBRON, {**LEBRON, "player": "Stephen Curry"})
    assert isinstance(answers[0], bytes)
    assert isinstance(answers[1], ValueError)
    # Only the answer is cached, never the failure.
    assert list(cache(rt).entries.values()) == [answers[0]]


async def test_with_the_cache_down_the_answer_is_the_same(rt: GatewayRuntime) -> None:
    [with_cache] = await answer(rt, LEBRON)
    cache(rt).down = True
    [without] = await answer(rt, LEBRON)
    assert without == with_cache
    assert json.loads(without)["model_version"] == "v1"


class Layered:
    """A model with a line blend and a market layer (the shipped bundles' shape)."""

    stat = Stat.POINTS
    model_type = "count_model"

    def predict(self, features: dict[str, Any], player_id: int | None = None) -> ModelOutput:
        mean = float(features["points_sma_10"])
        return ModelOutput(
            NegativeBinomial(mean, mean / 0.6), (), None, mean, 1.6, (0.4, 0.2), LAYER
        )


LAYER = MarketLayer(
    intercept=-0.05,
    book_weight=1.07,
    model_weight=0.08,
    first_day=dt.date(2023, 10, 24),
    last_day=dt.date(2024, 3, 15),
    lines=6000,
    out_of_sample=LayerScore(
        first_day=dt.date(2024, 3, 16),
        last_day=dt.date(2024, 5, 25),
        lines=2800,
        brier=0.2496,
        brier_line_blend=0.2515,
        brier_books=0.25,
    ),
)


async def test_with_both_prices_the_market_layer_answers_and_draws_what_it_says(
    rt: GatewayRuntime,
) -> None:
    served = rt.book.for_stat(Stat.POINTS)
    assert served is not None
    rt.book.production["points"] = Served(served.info, Layered())
    priced, unpriced, one_side = (
        PredictResponse.model_validate_json(raw)  # type: ignore[arg-type]
        for raw in await answer(
            rt,
            {**LEBRON, "odds_over": -140, "odds_under": 115},
            LEBRON,
            {**LEBRON, "odds_over": -140},
        )
    )
    books = (140 / 240) / (140 / 240 + 100 / 215)
    assert priced.method == "market_layer"
    assert priced.books_over_probability == pytest.approx(books)
    assert priced.line_weight is None
    own = NegativeBinomial(25.0, 25.0 / 0.6)
    decided = priced.over_probability + priced.under_probability
    assert priced.over_probability / decided == pytest.approx(
        LAYER.over(books, over_given_no_push(own, 25.5)), abs=1e-6
    )
    # Without both prices: the line blend, which knows nothing of the price.
    for other in (unpriced, one_side):
        assert other.method == "line_blend"
        assert other.line_weight == 0.4
        assert other.books_over_probability is None
    assert unpriced.over_probability == one_side.over_probability != priced.over_probability
    # One distribution: the bars above the line add up to the headline.
    for got in (priced, unpriced):
        bars = sum(p.probability for p in got.distribution if p.value > got.line)
        assert bars == pytest.approx(got.over_probability, abs=1e-4)
    # The price is part of the cache key: the unpriced answer is not served for a priced ask.
    [again] = await answer(rt, {**LEBRON, "odds_over": -140, "odds_under": 115})
    assert PredictResponse.model_validate_json(again).method == "market_layer"  # type: ignore[arg-type]


async def test_a_model_output_is_reused_across_lines_and_odds_until_the_vector_changes(
    rt: GatewayRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = rt.book.for_stat(Stat.POINTS)
    assert served is not None
    props = [LEBRON, {**LEBRON, "line": 30.5}, {**LEBRON, "odds_over": 150, "odds_under": -180}]
    wants = [
        predict(
            served,
            vector(2544, "LeBron James", 25.0).features,
            line=prop["line"],
            odds_over=prop.get("odds_over", -110),
            odds_under=prop.get("odds_under", -110),
            player_id=2544,
        )
        for prop in props
    ]
    real, seen = served.model.predict, []

    def counted(features: dict[str, Any], player_id: int | None = None) -> Any:
        seen.append(features["points_sma_10"])
        return real(features, player_id)

    monkeypatch.setattr(served.model, "predict", counted)
    answers = [(await answer(rt, prop))[0] for prop in props]
    assert seen == [25.0]  # one model call for three answers (the cache missed each time)
    for raw, want in zip(answers, wants, strict=True):
        assert isinstance(raw, bytes)
        got = PredictResponse.model_validate_json(raw)
        assert (got.over_probability, got.expected_value) == (
            want.over_probability,
            want.pricing.expected_value,
        )
    # A later game's vector (a new event id), as the handler takes it in (stored, then the
    # player's cached predictions dropped), is the model's input from then on.
    later = AS_OF + dt.timedelta(days=2)
    await on_features([vector(2544, "LeBron James", 31.0, as_of=later)], rt)
    [newer] = await answer(rt, {**LEBRON, "line": 26.5})
    assert seen == [25.0, 31.0]
    assert isinstance(newer, bytes)
    assert PredictResponse.model_validate_json(newer).as_of == later


async def test_a_players_vector_is_read_once_until_he_has_a_new_one(rt: GatewayRuntime) -> None:
    """Uncached answers (a new line each) of a player read lately take his vector from memory;
    a new vector, as the handler stores it, is read at once; with the cache down (no
    generation to tell a fresh vector from a stale one) every answer reads the table."""
    calls = read_model(rt).calls
    for line in (20.5, 21.5, 22.5):
        [raw] = await answer(rt, {**LEBRON, "line": line})
        assert isinstance(raw, bytes)
    assert calls.count("vectors_for") == 1
    later = AS_OF + dt.timedelta(days=2)
    await on_features([vector(2544, "LeBron James", 31.0, as_of=later)], rt)
    [raw] = await answer(rt, {**LEBRON, "line": 23.5})
    assert isinstance(raw, bytes)
    assert PredictResponse.model_validate_json(raw).as_of == later
    assert calls.count("vectors_for") == 2
    # Another player's vector is his own entry.
    [raw] = await answer(rt, {**LEBRON, "player": "Stephen Curry", "line": 23.5})
    assert calls.count("vectors_for") == 3
    cache(rt).down = True
    for line in (24.5, 25.5):
        [raw] = await answer(rt, {**LEBRON, "line": line})
        assert isinstance(raw, bytes)
    assert calls.count("vectors_for") == 5


def test_a_recent_vector_lives_at_most_its_ttl() -> None:
    now = [0.0]
    recent = RecentVectors(capacity=2, ttl_s=60.0, clock=lambda: now[0])
    old = StoredVector(AS_OF, b"", None, None, "e1")
    recent.put(("pred:0.0:2544", None), old)
    now[0] = 59.0
    assert recent.get(("pred:0.0:2544", None)) == old
    now[0] = 60.0
    assert recent.get(("pred:0.0:2544", None)) is None
    for n in range(3):  # bounded: the least recently used goes first
        recent.put((f"pred:0.0:{n}", None), old)
    assert recent.get(("pred:0.0:0", None)) is None
    assert recent.get(("pred:0.0:2", None)) == old


async def test_a_lost_generation_bump_is_stale_at_most_the_ttl(rt: GatewayRuntime) -> None:
    """A new vector stored without its bump (Redis was down): the vector read before is
    reused until its TTL, then the new one is read."""
    now = [0.0]
    rt.vectors = RecentVectors(ttl_s=60.0, clock=lambda: now[0])
    [raw] = await answer(rt, LEBRON)
    later = AS_OF + dt.timedelta(days=2)
    await rt.read_model.store_vectors([vector(2544, "LeBron James", 31.0, as_of=later)])
    now[0] = 59.0
    [raw] = await answer(rt, {**LEBRON, "line": 21.5})
    assert isinstance(raw, bytes)
    assert PredictResponse.model_validate_json(raw).as_of == AS_OF  # within the TTL
    now[0] = 60.0
    [raw] = await answer(rt, {**LEBRON, "line": 22.5})
    assert isinstance(raw, bytes)
    assert PredictResponse.model_validate_json(raw).as_of == later


async def test_with_postgresql_down_a_player_read_lately_is_answered_past_the_ttls(
    rt: GatewayRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While PostgreSQL is down, a name and a vector read lately answer past their TTLs (for
    STALE_IF_DOWN_S), instead of a 503 that depended on when they were read; a player with
    no such entry still needs the database, and the error goes on (the route's 503)."""
    now = [0.0]
    rt.names = PlayerNames(ttl_s=0.0)  # every name past its TTL as soon as it is read
    rt.vectors = RecentVectors(ttl_s=60.0, clock=lambda: now[0])
    [raw] = await answer(rt, LEBRON)
    assert isinstance(raw, bytes)

    async def down(*_: Any) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(rt.read_model, "players_by_names", down)
    monkeypatch.setattr(rt.read_model, "vectors_for", down)
    now[0] = 61.0  # past the vector's TTL too
    [raw] = await answer(rt, {**LEBRON, "line": 21.5})
    assert isinstance(raw, bytes)
    assert PredictResponse.model_validate_json(raw).as_of == AS_OF
    with pytest.raises(OSError, match="refused"):  # never read: only the database knows him
        await answer(rt, {**LEBRON, "player": "Stephen Curry"})
    now[0] = 60.0 + STALE_IF_DOWN_S  # the vector's stale window is over
    with pytest.raises(OSError, match="refused"):
        await answer(rt, {**LEBRON, "line": 22.5})
