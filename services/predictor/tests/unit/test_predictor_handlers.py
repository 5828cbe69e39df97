"""The predictor's handlers through FastStream's TestKafkaBroker, with the repository in
memory: what goes in on the topics, what comes out on the predictions topic and the dead
letters, and what is kept."""

import base64
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from statmuse_predictor.app import build_runtime
from statmuse_predictor.runtime import PredictorRuntime
from statmuse_predictor.settings import PredictorSettings
from statmuse_shared.contract import topics, vectors
from statmuse_shared.contract.messages import (
    DeadLetter,
    FeaturesComputed,
    GameRef,
    ModelPublished,
    PredictionMade,
    PropPriced,
    StatLine,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import FEATURE_SET_VERSION, feature_names
from statmuse_shared.models.pricing import devig, expected_value
from statmuse_shared.models.serving import ModelBook

from .fakes import InMemoryPredictions, posted

AS_OF = dt.date(2024, 3, 12)


def features(points_sma_10: float) -> dict[str, float | None]:
    """A whole vector of the current feature set (what the topic carries): the baseline's
    inputs set, the rest unknown."""
    given = {"points_sma_10": points_sma_10, "points_n_10": 10.0, "points_season_avg": 21.0}
    return {**dict.fromkeys(feature_names()), **given}


def vector(pid: int, *, kind: str = "next", as_of: dt.date = AS_OF) -> FeaturesComputed:
    game = None
    if kind == "game":
        game = GameRef(game_date=as_of, season_type="Regular Season", opponent="DEN", is_home=True)
    return FeaturesComputed(
        event_id=f"fv-{pid}-{kind}-{as_of}",
        player_id=pid,
        player_name=f"Player {pid}",
        team="LAL",
        season="2023-24",
        as_of=as_of,
        kind=kind,
        game=game,
        feature_set_version=FEATURE_SET_VERSION,
        features=features(20.0 + pid),
    )


class Probe:
    """What the service published, read back from the test broker."""

    def __init__(self) -> None:
        self.predictions: list[PredictionMade] = []
        self.dead: list[DeadLetter] = []
        self.props: list[PropPriced] = []


@pytest.fixture
async def wired(book: ModelBook) -> AsyncIterator[tuple[PredictorRuntime, Any, Probe]]:
    settings = PredictorSettings(database_url="postgresql://unused@localhost/none")
    rt = build_runtime(settings, book=book, predictions=InMemoryPredictions())
    probe = Probe()

    @rt.broker.subscriber(topics.PREDICTIONS, group_id="probe")
    async def predictions(body: PredictionMade) -> None:
        probe.predictions.append(body)

    @rt.broker.subscriber(topics.PROPS_PRICED, group_id="probe-props")
    async def priced(body: PropPriced) -> None:
        probe.props.append(body)

    @rt.broker.subscriber(topics.dead_letter(topics.FEATURES), group_id="probe-dlq")
    async def dead(body: DeadLetter) -> None:
        probe.dead.append(body)

    rt.bind()
    async with TestKafkaBroker(rt.broker) as br:
        yield rt, br, probe


def repo(rt: PredictorRuntime) -> InMemoryPredictions:
    assert isinstance(rt.predictions, InMemoryPredictions)
    return rt.predictions


async def publish(br: Any, topic: str, *messages: Any) -> None:
    """As their producers write them: vectors packed, everything else JSON (bytes: as given)."""
    await br.publish_batch(
        *(
            m
            if isinstance(m, bytes)
            else vectors.encode(m)
            if topic == topics.FEATURES
            else m.model_dump_json().encode()
            for m in messages
        ),
        topic=topic,
    )


async def test_next_vectors_are_kept_predicted_and_published(
    wired: tuple[PredictorRuntime, Any, Probe], serve: Callable[..., ModelPublished]
) -> None:
    rt, br, probe = wired
    serve(Stat.POINTS)
    await publish(br, topics.FEATURES, vector(1), vector(2), vector(3, kind="game"))
    # One prediction per upcoming player (points is the only stat served); a played game's
    # vector is training data and predicts nothing.
    assert sorted(p.player_id for p in probe.predictions) == [1, 2]
    assert {p.stat for p in probe.predictions} == {Stat.POINTS}
    assert sorted(repo(rt).latest_by_player) == [1, 2]
    assert len(repo(rt).stored) == 2
    [first] = [p for p in probe.predictions if p.player_id == 1]
    assert first.predicted_value == pytest.approx(21.0)
    assert first.as_of == AS_OF


async def test_of_a_players_next_vectors_in_one_batch_only_the_newest_is_predicted(
    wired: tuple[PredictorRuntime, Any, Probe], serve: Callable[..., ModelPublished]
) -> None:
    rt, br, probe = wired
    serve(Stat.POINTS)
    day = dt.timedelta(days=1)
    # A backlog: one next vector per game the player played, the newest in the middle.
    await publish(
        br,
        topics.FEATURES,
        vector(5, as_of=AS_OF - 2 * day),
        vector(5, as_of=AS_OF),
        vector(5, as_of=AS_OF - day),
        vector(6, as_of=AS_OF - day),
    )
    assert sorted((p.player_id, p.as_of) for p in probe.predictions) == [
        (5, AS_OF),
        (6, AS_OF - day),
    ]
    assert repo(rt).latest_by_player[5].as_of == AS_OF


async def test_without_a_model_a_vector_is_kept_for_later(
    wired: tuple[PredictorRuntime, Any, Probe], event: Callable[..., ModelPublished]
) -> None:
    rt, br, probe = wired
    await publish(br, topics.FEATURES, vector(7))
    assert probe.predictions == []
    assert list(repo(rt).latest_by_player) == [7]
    # The model arrives: the kept vector is predicted with it.
    await publish(br, topics.MODELS_PUBLISHED, event(Stat.POINTS, version="v9"))
    assert [(p.player_id, p.model_version) for p in probe.predictions] == [(7, "v9")]


async def test_an_older_vector_does_not_replace_a_newer_one(
    wired: tuple[PredictorRuntime, Any, Probe],
) -> None:
    rt, br, _ = wired
    await publish(br, topics.FEATURES, vector(4, as_of=AS_OF))
    await publish(br, topics.FEATURES, vector(4, as_of=AS_OF - dt.timedelta(days=5)))
    assert repo(rt).latest_by_player[4].as_of == AS_OF


async def test_a_poison_record_is_dead_lettered_and_the_rest_of_the_batch_goes_on(
    wired: tuple[PredictorRuntime, Any, Probe], serve: Callable[..., ModelPublished]
) -> None:
    _, br, probe = wired
    serve(Stat.POINTS)
    cut = vectors.encode(vector(5))[:-8]
    # A vector of a feature set this code does not know (the header names it first; the same
    # length, so the header's length holds): the order of its values is not ours.
    known = FEATURE_SET_VERSION.encode()
    other_set = vectors.encode(vector(6)).replace(known, known[:-1] + b"?", 1)
    as_json = vector(7).model_dump_json().encode()  # what v1 carried
    await publish(br, topics.FEATURES, vector(1), cut, other_set, as_json, vector(2))
    assert sorted(p.player_id for p in probe.predictions) == [1, 2]
    assert [base64.b64decode(d.payload_b64) for d in probe.dead] == [cut, other_set, as_json]
    assert all(d.original_topic == topics.FEATURES for d in probe.dead)
    assert all(d.consumer == "predictor" for d in probe.dead)
    assert all(d.error.startswith("invalid FeaturesComputed: ") for d in probe.dead)
    assert "truncated or over-long" in probe.dead[0].error
    assert f"feature set '{FEATURE_SET_VERSION[:-1]}?' is not this code's" in probe.dead[1].error
    assert "not a packed vector" in probe.dead[2].error


GAME_DAY = AS_OF + dt.timedelta(days=2)


def pregame(pid: int, *, played: bool = False, points_sma: float = 20.0) -> FeaturesComputed:
    """A pre-game vector of LAL's game against DEN on GAME_DAY (with `played`, the vector of
    the same game after it, with its outcome)."""
    return FeaturesComputed(
        event_id=f"pg-{pid}-{played}-{points_sma}",
        player_id=pid,
        player_name=f"Player {pid}",
        team="LAL",
        season="2023-24",
        as_of=GAME_DAY,
        kind="game",
        game=GameRef(
            game_date=GAME_DAY, season_type="Regular Season", opponent="DEN", is_home=True
        ),
        feature_set_version=FEATURE_SET_VERSION,
        features=features(points_sma),
        last_game=StatLine(game_date=AS_OF, minutes=30, points=20, rebounds=5, assists=5),
        outcome=StatLine(game_date=GAME_DAY, minutes=30, points=25, rebounds=5, assists=5)
        if played
        else None,
    )


@pytest.fixture
def props(wired: tuple[PredictorRuntime, Any, Probe]) -> list[PropPriced]:
    return wired[2].props


async def test_posted_lines_are_priced_once_the_pregame_vector_is_here(
    wired: tuple[PredictorRuntime, Any, Probe],
    serve: Callable[..., ModelPublished],
    props: list[PropPriced],
) -> None:
    rt, br, probe = wired
    serve(Stat.POINTS)
    lines = [
        posted(5, "draftkings", -110, -110, day=GAME_DAY),
        posted(5, "fanduel", -105, -115, day=GAME_DAY),
    ]
    await publish(br, topics.LINES, *lines, posted(None, "draftkings", -110, -110, day=GAME_DAY))
    assert props == []  # no pre-game vector yet; the unmatched name is not kept
    assert len(repo(rt).lines) == 2
    await publish(br, topics.FEATURES, pregame(5))
    assert probe.predictions == []  # a pre-game vector is not a next-game prediction
    [prop] = props
    assert (prop.player_id, prop.game_date, prop.stat, prop.line) == (
        5,
        GAME_DAY,
        Stat.POINTS,
        19.5,
    )
    assert (prop.team, prop.opponent, prop.is_home, prop.data_as_of) == ("LAL", "DEN", True, AS_OF)
    assert [b.book for b in prop.books] == ["draftkings", "fanduel"]
    # Normal model, mean 20, sd 6: the over at 19.5 is a little better than even.
    assert 0.5 < prop.over_probability < 0.6
    assert prop.books_over_probability == pytest.approx((devig(-110, -110) + devig(-105, -115)) / 2)
    assert prop.edge == pytest.approx(
        prop.over_probability / (prop.over_probability + prop.under_probability)
        - prop.books_over_probability
    )
    assert prop.best is not None
    assert (prop.best.book, prop.best.side) == ("fanduel", "over")
    assert prop.books[1].expected_value_over == pytest.approx(
        expected_value(prop.over_probability, prop.under_probability, -105)
    )


async def test_a_stale_book_is_shown_but_never_the_best_price(
    wired: tuple[PredictorRuntime, Any, Probe],
    serve: Callable[..., ModelPublished],
    props: list[PropPriced],
) -> None:
    _, br, _ = wired
    serve(Stat.POINTS)
    await publish(br, topics.FEATURES, pregame(6))
    await publish(
        br,
        topics.LINES,
        posted(6, "draftkings", -110, -110, day=GAME_DAY),
        posted(6, "fanduel", -112, -108, day=GAME_DAY),
        posted(6, "stale", 170, -240, day=GAME_DAY),
    )
    prop = props[-1]
    assert [b.over_outlier for b in prop.books] == [False, False, True]
    assert prop.books[2].expected_value_over > 0.3  # what pure line shopping would take
    assert prop.best is not None
    assert prop.best.book != "stale"


async def test_a_moved_line_reprices_and_a_played_game_leaves_the_slate(
    wired: tuple[PredictorRuntime, Any, Probe],
    serve: Callable[..., ModelPublished],
    event: Callable[..., ModelPublished],
    props: list[PropPriced],
) -> None:
    rt, br, _ = wired
    serve(Stat.POINTS)
    await publish(br, topics.FEATURES, pregame(8))
    await publish(br, topics.LINES, posted(8, "draftkings", -110, -110, day=GAME_DAY))
    await publish(br, topics.LINES, posted(8, "draftkings", -120, 100, day=GAME_DAY, line=20.5))
    assert [(p.line, p.books[0].over_price) for p in props] == [(19.5, -110), (20.5, -120)]
    assert props[-1].stat_lines == [20.5]  # the book moved: 19.5 is no longer posted
    # A new model prices the slate again, with its version.
    await publish(br, topics.MODELS_PUBLISHED, event(Stat.POINTS, version="v7"))
    assert props[-1].model_version == "v7"
    assert props[-1].line == 20.5
    # The game is played: its vector with the outcome takes it off the slate.
    await publish(br, topics.FEATURES, pregame(8, played=True))
    assert repo(rt).pregame == {}
    before = len(props)
    await publish(br, topics.MODELS_PUBLISHED, event(Stat.POINTS, version="v8"))
    assert len(props) == before
