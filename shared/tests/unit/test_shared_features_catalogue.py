"""The feature catalogue (statmuse_shared.features.catalogue): its recorded fingerprint, its
families, the packing order and the stored form. That the catalogue declares exactly what
PlayerState computes is checked in test_shared_features_player.py, beside the real histories;
the document generated from it in test_shared_features_document.py."""

import dataclasses
import datetime as dt
import json
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statmuse_shared.features import (
    CATALOGUE,
    FEATURE_SET_VERSION,
    Features,
    GameContext,
    League,
    PlayerGame,
    PlayerState,
    TeamGame,
    feature_names,
    features_json,
    pack,
    unpack,
    walk,
)
from statmuse_shared.features.catalogue import (
    FAMILIES,
    FINGERPRINT,
    STALE_FINGERPRINT,
    VERSION,
    Family,
    fingerprint,
)


def test_the_recorded_fingerprint_is_the_catalogues() -> None:
    assert fingerprint() == FINGERPRINT, (
        f"{STALE_FINGERPRINT}: it is {fingerprint()!r}, recorded {FINGERPRINT!r} for {VERSION!r}"
    )
    assert FEATURE_SET_VERSION == VERSION


def test_the_fingerprint_sees_names_types_windows_and_order_but_not_wording() -> None:
    first = CATALOGUE[0]
    changes = [
        dataclasses.replace(first, name=first.name + "_x"),
        dataclasses.replace(first, dtype="float" if first.dtype != "float" else "count"),
        dataclasses.replace(first, window="season" if first.window != "season" else 3),
    ]
    for changed in changes:
        assert fingerprint((changed, *CATALOGUE[1:])) != FINGERPRINT, changed
    assert fingerprint(CATALOGUE[::-1]) != FINGERPRINT
    reworded = dataclasses.replace(first, description="something else")
    assert fingerprint((reworded, *CATALOGUE[1:])) == FINGERPRINT


def test_names_are_the_packing_order_sorted_and_unique() -> None:
    names = feature_names()
    assert names == [f.name for f in CATALOGUE]
    assert names == sorted(names)
    assert len(set(names)) == len(names) == 303
    assert feature_names() is not names  # a fresh list: a caller may change its own


def test_families_expand_over_their_stats_and_windows() -> None:
    for family in FAMILIES:
        members = [f for f in CATALOGUE if f.family == family.template]
        assert len(members) == max(len(family.stats), 1) * len(family.windows), family.template
        assert {(f.stat, f.window) for f in members} == {
            (stat, w) for stat in family.stats or (None,) for w in family.windows
        }
    assert sum(max(len(f.stats), 1) * len(f.windows) for f in FAMILIES) == len(CATALOGUE)
    sma = {f.name: f for f in CATALOGUE if f.family == "{stat}_sma_{w}"}
    assert sma["points_sma_5"].window == 5
    assert sma["points_sma_5"].description == "Mean of the last 5 values. None with no values."
    assert sma["points_sma_5"].stat == "points"
    momentum = next(f for f in CATALOGUE if f.name == "threes_momentum")
    assert momentum.description == "Last value − `threes_sma_5`. None with no values."
    assert "minutes_per_min_10" not in feature_names()
    days_rest = next(f for f in CATALOGUE if f.name == "days_rest")
    assert (days_rest.stat, days_rest.dtype, days_rest.on_next) == (None, "count", False)
    assert "30" in days_rest.description  # the cap, from player.MAX_REST_DAYS


def test_a_family_refuses_a_shape_it_cannot_expand() -> None:
    with pytest.raises(ValueError, match="stats"):
        Family("{stat}_x", "float", (None,), "no stats")
    with pytest.raises(ValueError, match="stats"):
        Family("x", "float", (None,), "stats without a template", stats=("points",))
    with pytest.raises(ValueError, match="one window"):
        Family("x", "float", (3, 5), "two windows, no {w}")


# --- the stored form -------------------------------------------------------------------------


START = dt.date(2023, 11, 1)
TEAMS = ("BOS", "DEN", "LAL", "MIA", "NYK", "PHX")


def _history() -> tuple[list[PlayerGame], League]:
    """Twelve LAL games (threes missing in every fourth) in a league of six rated teams."""
    league = League()
    for day in range(0, 40, 2):
        for i, team in enumerate(TEAMS):
            date = START + dt.timedelta(days=day)
            league.add(TeamGame(date, "2023-24", team, 100 + 3 * i + day % 7, 98.5, 240.0))
    games = [
        PlayerGame(
            START + dt.timedelta(days=3 * k + 1),
            "2023-24",
            "Regular Season",
            "LAL",
            "BOS" if TEAMS[k % 6] == "LAL" else TEAMS[k % 6],
            k % 2 == 0,
            30.0 + k % 5,
            20 + k % 9,
            7 + k % 4,
            5 + k % 3,
            None if k % 4 == 0 else k % 5,
        )
        for k in range(12)
    ]
    return games, league


def _vectors() -> list[Features]:
    """Game vectors with their context and the league, `next` vectors, an empty one."""
    games, league = _history()
    walked, state = walk(games, league=league)
    ahead = GameContext(
        games[-1].game_date + dt.timedelta(days=2), "2023-24", "Playoffs", "LAL", "DEN", False
    )
    return [v for _, v in walked] + [
        state.vector(None, league=league),
        state.vector(ahead, league=league),
        PlayerState().vector(None, league=None),
    ]


def test_pack_lays_out_float64_little_endian_in_packing_order_nan_for_none() -> None:
    names = feature_names()
    for v in _vectors():
        blob = pack(v)
        assert len(blob) == 8 * len(names)
        for i, name in enumerate(names):
            (x,) = struct.unpack_from("<d", blob, 8 * i)
            assert math.isnan(x) if v[name] is None else x == v[name], name


def test_unpack_gives_back_what_was_packed() -> None:
    for v in _vectors():
        assert unpack(pack(v)) == v


@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=False)), min_size=303, max_size=303))
def test_pack_and_unpack_round_trip_any_values(values: list[float | None]) -> None:
    v = dict(zip(feature_names(), values, strict=True))
    assert unpack(pack(v)) == v


@given(
    st.lists(
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
        min_size=303,
        max_size=303,
    )
)
def test_features_json_reads_back_as_the_same_values(values: list[float | None]) -> None:
    """The JSON the services store a vector as (JSONB) keeps every float to the bit."""
    v = dict(zip(feature_names(), values, strict=True))
    text = features_json(v)
    assert json.loads(text) == v
    assert all(
        math.copysign(1, a) == math.copysign(1, b)
        for a, b in zip(json.loads(text).values(), values, strict=True)
        if a is not None and b is not None
    )
