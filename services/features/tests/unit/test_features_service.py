import dataclasses
import datetime as dt
import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statmuse_features.service import (
    FEATURE_SET_VERSION,
    STATS,
    GameRow,
    features_after,
    vectors_from,
)

Game = Callable[..., GameRow]


def test_first_three_games_hand_computed(lebron: list[GameRow]) -> None:
    f = features_after(lebron[:3])  # points 21, 21, 27; rebounds 8, 8, 15; assists 5, 9, 8
    assert f["points_rolling_mean_5"] == pytest.approx(23.0)
    assert f["points_rolling_mean_10"] == pytest.approx(23.0)
    assert f["points_games_in_window_5"] == 3.0
    assert f["points_rolling_std_10"] == pytest.approx(math.sqrt(12.0))  # ((4+4+16)/2)
    assert f["rebounds_rolling_mean_5"] == pytest.approx(31 / 3)
    assert f["assists_season_mean"] == pytest.approx(22 / 3)
    assert f["pra_rolling_mean_5"] == pytest.approx((34 + 38 + 50) / 3)
    assert f["threes_rolling_mean_5"] == pytest.approx(5 / 3)
    assert f["minutes_rolling_mean_5"] == pytest.approx((29 + 35 + 39) / 3)
    assert f["points_season_games"] == 3.0


def test_twelve_games_windows_hand_computed(lebron: list[GameRow]) -> None:
    f = features_after(lebron)
    assert f["points_rolling_mean_5"] == pytest.approx((18 + 32 + 16 + 28 + 35) / 5)  # 25.8
    assert f["points_rolling_mean_10"] == pytest.approx(264 / 10)  # games 3..12
    assert f["points_games_in_window_10"] == 10.0
    assert f["points_season_mean"] == pytest.approx(306 / 12)
    assert f["points_season_games"] == 12.0
    last10 = [27, 19, 35, 24, 30, 18, 32, 16, 28, 35]
    mean = sum(last10) / 10
    sd = math.sqrt(sum((x - mean) ** 2 for x in last10) / 9)
    assert f["points_rolling_std_10"] == pytest.approx(sd)


def test_every_stat_has_every_feature(lebron: list[GameRow]) -> None:
    f = features_after(lebron)
    names = {
        f"{s}_{suffix}"
        for s in STATS
        for suffix in (
            "rolling_mean_5",
            "rolling_mean_10",
            "games_in_window_5",
            "games_in_window_10",
            "rolling_std_10",
            "season_mean",
            "season_games",
        )
    }
    assert set(f) == names


def test_one_game_has_no_spread(lebron: list[GameRow]) -> None:
    f = features_after(lebron[:1])
    assert f["points_rolling_mean_5"] == 21.0
    assert f["points_rolling_std_10"] is None


def test_windows_count_only_games_that_have_the_stat(game: Game) -> None:
    history = [
        game("2021-12-01", points=10, threes=2),
        game("2021-12-03", points=20, threes=None),
        game("2021-12-05", points=30, threes=4),
        game("2021-12-07", points=40, threes=None),
        game("2021-12-09", points=50, threes=3),
        game("2021-12-11", points=60, threes=None),
    ]
    f = features_after(history)
    # last five games: threes 2 is out of the window; present ones are 4 and 3
    assert f["threes_games_in_window_5"] == 2.0
    assert f["threes_rolling_mean_5"] == pytest.approx(3.5)
    assert f["threes_games_in_window_10"] == 3.0
    assert f["threes_rolling_mean_10"] == pytest.approx(3.0)
    assert f["threes_season_games"] == 3.0
    assert f["points_games_in_window_5"] == 5.0
    assert f["points_rolling_mean_5"] == pytest.approx(40.0)


def test_no_threes_at_all_gives_none_not_zero(game: Game) -> None:
    f = features_after(
        [game("2018-01-01", points=10, threes=None), game("2018-01-03", points=12, threes=None)]
    )
    assert f["threes_rolling_mean_5"] is None
    assert f["threes_rolling_std_10"] is None
    assert f["threes_season_mean"] is None
    assert f["threes_games_in_window_5"] == 0.0
    assert f["points_rolling_mean_5"] == 11.0


def test_season_mean_resets_at_a_new_season(game: Game) -> None:
    history = [
        game("2023-04-01", points=10, season="2022-23"),
        game("2023-04-05", points=20, season="2022-23"),
        game("2023-10-24", points=40, season="2023-24"),
    ]
    f = features_after(history)
    assert f["points_season_mean"] == 40.0
    assert f["points_season_games"] == 1.0
    assert f["points_rolling_mean_5"] == pytest.approx(70 / 3)  # windows span seasons
    assert features_after(history[:2])["points_season_mean"] == 15.0


def test_empty_history_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one game"):
        features_after([])


def test_vectors_as_of_is_the_day_after_each_game(lebron: list[GameRow]) -> None:
    vectors = vectors_from(player_id=2544, history=lebron, start=0)
    assert [v.as_of for v in vectors] == [g.game_date + dt.timedelta(days=1) for g in lebron]
    assert vectors[0].as_of == dt.date(2023, 10, 25)
    for i, v in enumerate(vectors):
        assert v.features == features_after(lebron[: i + 1])
        assert v.last_game.game_date == lebron[i].game_date
        assert (v.last_game.points, v.last_game.threes) == (lebron[i].points, lebron[i].threes)
        assert (v.player_id, v.team, v.season) == (2544, "LAL", "2023-24")
        assert v.feature_set_version == FEATURE_SET_VERSION


def test_vectors_from_start_gives_the_tail(lebron: list[GameRow]) -> None:
    tail = vectors_from(player_id=2544, history=lebron, start=9)
    assert [v.as_of for v in tail] == [
        dt.date(2023, 11, 15),
        dt.date(2023, 11, 16),
        dt.date(2023, 11, 18),
    ]
    full = vectors_from(player_id=2544, history=lebron, start=0)
    assert [v.event_id for v in tail] == [v.event_id for v in full[9:]]
    assert vectors_from(player_id=2544, history=lebron, start=len(lebron)) == []


def test_event_ids_are_deterministic_and_follow_the_features(lebron: list[GameRow]) -> None:
    a = vectors_from(player_id=2544, history=lebron, start=11)[0]
    b = vectors_from(player_id=2544, history=lebron, start=11)[0]
    assert a.event_id == b.event_id
    changed = [*lebron[:-1], dataclasses.replace(lebron[-1], points=36)]
    c = vectors_from(player_id=2544, history=changed, start=11)[0]
    assert c.event_id != a.event_id
    assert vectors_from(player_id=1, history=lebron, start=11)[0].event_id != a.event_id


def test_no_leakage_from_the_game_being_predicted(lebron: list[GameRow]) -> None:
    """Changing game i changes nothing in any vector whose as_of is on or before game i's date."""
    base = vectors_from(player_id=2544, history=lebron, start=0)
    for i, g in enumerate(lebron):
        altered = dataclasses.replace(
            g,
            points=g.points + 17,
            rebounds=0,
            assists=g.assists + 3,
            threes=None,
            minutes=g.minutes - 10,
        )
        history = [*lebron[:i], altered, *lebron[i + 1 :]]
        changed = vectors_from(player_id=2544, history=history, start=0)
        before = [(b, c) for b, c in zip(base, changed, strict=True) if b.as_of <= g.game_date]
        assert len(before) == i  # every vector for game i or earlier, from games before it
        for b, c in before:
            assert c.features == b.features
            assert c.event_id == b.event_id
        # and the game does enter the vector after it, so the check above can fail
        assert changed[i].features != base[i].features


@st.composite
def histories(draw: st.DrawFn) -> list[GameRow]:
    n = draw(st.integers(min_value=1, max_value=25))
    day = dt.date(2021, 10, 19)
    season_year = 2021
    out = []
    for _ in range(n):
        day += dt.timedelta(days=draw(st.integers(min_value=1, max_value=40)))
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            season_year += 1
        out.append(
            GameRow(
                game_date=day,
                game_key=f"{day.isoformat()}:X@LAL",
                season=f"{season_year}-{(season_year + 1) % 100:02d}",
                team="LAL",
                player_name="P",
                minutes=draw(st.floats(min_value=0, max_value=60, allow_nan=False)),
                points=draw(st.integers(min_value=0, max_value=70)),
                rebounds=draw(st.integers(min_value=0, max_value=30)),
                assists=draw(st.integers(min_value=0, max_value=25)),
                threes=draw(st.one_of(st.none(), st.integers(min_value=0, max_value=14))),
            )
        )
    return out


def same_features(a: dict[str, float | None], b: dict[str, float | None]) -> bool:
    if a.keys() != b.keys():
        return False
    for name in a:
        x, y = a[name], b[name]
        if (x is None) != (y is None):
            return False
        if x is not None and y is not None and abs(x - y) > 1e-9:
            return False
    return True


@settings(max_examples=80, deadline=None)
@given(history=histories())
def test_batch_equals_incremental(history: list[GameRow]) -> None:
    batch = vectors_from(player_id=7, history=history, start=0)
    incremental = []
    for n in range(1, len(history) + 1):
        [vector] = vectors_from(player_id=7, history=history[:n], start=n - 1)
        incremental.append(vector)
    assert len(batch) == len(incremental) == len(history)
    for b, i in zip(batch, incremental, strict=True):
        assert b.as_of == i.as_of
        assert same_features(b.features, i.features), (b.features, i.features)
        assert b.last_game == i.last_game
