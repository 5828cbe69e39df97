"""The features service's pure glue (statmuse_features.service): engine vectors as
FeaturesComputed messages, on LeBron James' real games (data/nba, gzip CSV read here), and
those messages in their packed form on the wire.

One module, over 400 lines: every test here is of `service.py`'s message glue on the same
real games.
"""

import csv
import dataclasses
import datetime as dt
import functools
import gzip
import struct
from pathlib import Path

import pytest

from statmuse_features.service import NAMES, digest, message, player_game, stat_line, vectors_for
from statmuse_shared.contract import vectors
from statmuse_shared.contract.messages import FeaturesComputed, GameRef, PlayerGameIngested
from statmuse_shared.features import (
    FEATURE_SET_VERSION,
    Features,
    League,
    PlayerGame,
    TeamGame,
    feature_names,
    pack,
    possessions,
    walk,
)

DATA = Path(__file__).resolve().parents[4] / "data" / "nba"
LEBRON = 2544
CONTEXT_KEYS = (
    "is_home",
    "is_playoffs",
    "days_rest",
    "back_to_back",
    "games_last_7_days",
    "tz_shift_hours",
    "at_altitude",
    "vs_opp_games",
    "opp_def_rating",
    "opp_pace",
    "opp_def_rank",
    "opp_team_games",
)


# --- real data --------------------------------------------------------------------------------


def _read(kind: str, season: str) -> list[dict[str, str]]:
    with gzip.open(DATA / kind / f"{season}.csv.gz", "rt", newline="") as f:
        return list(csv.DictReader(f))


@functools.cache
def lebron_rows() -> tuple[dict[str, str], ...]:
    """His last four 2022-23 playoff games (no FG3M in that log) and first 15 of 2023-24."""
    rows = []
    for season, pick in (("2022-23", slice(-4, None)), ("2023-24", slice(None, 15))):
        mine = [r for r in _read("player_game_logs", season) if r["PLAYER_ID"] == str(LEBRON)]
        rows += sorted(mine, key=lambda r: r["GAME_DATE"])[pick]
    return tuple(rows)


def ingested(row: dict[str, str]) -> PlayerGameIngested:
    is_home = " vs. " in row["MATCHUP"]
    opponent = row["MATCHUP"].split(" vs. " if is_home else " @ ")[1]
    away, home = (
        (opponent, row["TEAM_ABBREVIATION"]) if is_home else (row["TEAM_ABBREVIATION"], opponent)
    )
    return PlayerGameIngested(
        event_id=f"test-{row['PLAYER_ID']}-{row['GAME_DATE']}",
        source="files",
        season=row["SEASON"],
        season_type=row["SEASON_TYPE"],
        game_key=f"{row['GAME_DATE']}:{away}@{home}",
        game_date=dt.date.fromisoformat(row["GAME_DATE"]),
        player_id=int(row["PLAYER_ID"]),
        player_name=row["PLAYER_NAME"],
        team=row["TEAM_ABBREVIATION"],
        opponent=opponent,
        is_home=is_home,
        minutes=float(row["MIN"]),
        points=int(row["PTS"]),
        rebounds=int(row["REB"]),
        assists=int(row["AST"]),
        fg3m=int(row["FG3M"]) if row["FG3M"] else None,
    )


def lebron() -> list[PlayerGame]:
    return [player_game(ingested(r)) for r in lebron_rows()]


@functools.cache
def _team_games() -> tuple[TeamGame, ...]:
    out = []
    for season in ("2022-23", "2023-24"):
        by_game: dict[str, list[dict[str, str]]] = {}
        for row in _read("team_game_logs", season):
            by_game.setdefault(row["GAME_ID"], []).append(row)
        for pair in by_game.values():
            for row, other in (pair, pair[::-1]):
                poss = possessions(
                    fga=int(row["FGA"]),
                    oreb=int(row["OREB"]),
                    tov=int(row["TOV"]),
                    fta=int(row["FTA"]),
                )
                out.append(
                    TeamGame(
                        dt.date.fromisoformat(row["GAME_DATE"]),
                        row["SEASON"],
                        row["TEAM_ABBREVIATION"],
                        int(other["PTS"]),
                        poss,
                        float(row["MIN"]),
                    )
                )
    return tuple(sorted(out, key=lambda g: (g.game_date, g.team)))


def real_league() -> League:
    league = League()
    for g in _team_games():
        league.add(g)
    return league


@pytest.fixture(scope="module")
def league() -> League:
    return real_league()


@pytest.fixture(scope="module")
def history() -> list[PlayerGame]:
    return lebron()


@pytest.fixture(scope="module")
def messages(history: list[PlayerGame], league: League) -> list[FeaturesComputed]:
    return vectors_for(player_id=LEBRON, player_name="LeBron James", history=history, league=league)


def assert_exact(on_wire: dict[str, float | None], engine: Features) -> None:
    """The message carries the engine's values as they are, every name of the catalogue."""
    assert set(on_wire) == set(engine) == set(NAMES)
    assert on_wire == engine


# --- player_game and NAMES --------------------------------------------------------------------


def test_names_are_the_engines_feature_names() -> None:
    assert tuple(feature_names()) == NAMES


def test_player_game_from_a_real_event() -> None:
    rows = lebron_rows()
    g = player_game(ingested(rows[4]))  # 2023-10-24 LAL @ DEN: 29 min, 21/8/5, 1 three
    assert g == PlayerGame(
        dt.date(2023, 10, 24), "2023-24", "Regular Season", "LAL", "DEN", False, 29.0, 21, 8, 5, 1
    )
    assert g.home_team == "DEN"
    playoff = player_game(ingested(rows[3]))  # 2023-05-22 vs DEN, FG3M missing in that log
    assert playoff.threes is None
    assert playoff.is_home
    assert playoff.season_type == "Playoffs"
    assert (playoff.points, playoff.rebounds, playoff.assists, playoff.minutes) == (40, 10, 9, 48)


# --- vectors_for ------------------------------------------------------------------------------


def test_one_game_vector_per_game_then_the_next_vector(
    history: list[PlayerGame], league: League, messages: list[FeaturesComputed]
) -> None:
    assert len(messages) == len(history) + 1 == 20
    assert [m.kind for m in messages] == ["game"] * 19 + ["next"]
    walked, state = walk(history, league=real_league())
    for i, (m, game) in enumerate(zip(messages, history, strict=False)):
        assert m.as_of == game.game_date
        assert m.game == GameRef(
            game_date=game.game_date,
            season_type=game.season_type,
            opponent=game.opponent,
            is_home=game.is_home,
        )
        assert m.outcome == stat_line(game)
        assert m.outcome is not None
        assert m.outcome.points == game.points
        assert m.last_game == (None if i == 0 else stat_line(history[i - 1]))
        assert (m.team, m.season) == (game.team, game.season)
        assert (m.player_id, m.player_name) == (LEBRON, "LeBron James")
        assert m.feature_set_version == FEATURE_SET_VERSION
        assert_exact(m.features, walked[i][1])
    assert messages[0].last_game is None
    assert messages[3].outcome is not None
    assert messages[3].outcome.threes is None
    assert messages[4].outcome is not None
    assert messages[4].outcome.threes == 1
    assert messages[4].features["points_season_n"] == 0  # first game of 2023-24
    assert messages[14].features["points_sma_10"] == pytest.approx(24.3)


def test_the_next_vector(
    history: list[PlayerGame], league: League, messages: list[FeaturesComputed]
) -> None:
    nxt, last = messages[-1], history[-1]
    assert last.game_date == dt.date(2023, 11, 22)
    assert nxt.kind == "next"
    assert nxt.as_of == dt.date(2023, 11, 23)
    assert nxt.game is None
    assert nxt.outcome is None
    assert nxt.last_game == stat_line(last)
    assert (nxt.team, nxt.season) == ("LAL", "2023-24")
    for name in CONTEXT_KEYS:
        assert nxt.features[name] is None, name
    for name in NAMES:
        if name.endswith(("_vs_opp_avg", "_vs_opp_last")):
            assert nxt.features[name] is None, name
    _, state = walk(history, league=league)
    assert_exact(nxt.features, state.vector(None, league=league))
    assert nxt.features["points_sma_3"] == pytest.approx((17 + 26 + 37) / 3)
    assert nxt.features["career_games"] == 19
    assert nxt.features["season_games"] == 15


def test_since_keeps_game_vectors_on_or_after_it_and_the_next(
    history: list[PlayerGame], league: League, messages: list[FeaturesComputed]
) -> None:
    def since(day: dt.date) -> list[FeaturesComputed]:
        return vectors_for(
            player_id=LEBRON, player_name="LeBron James", history=history, league=league, since=day
        )

    on_a_game_day = since(history[10].game_date)
    assert [m.as_of for m in on_a_game_day[:-1]] == [g.game_date for g in history[10:]]
    assert on_a_game_day[-1].kind == "next"
    assert len(on_a_game_day) == 10
    assert [m.event_id for m in on_a_game_day] == [m.event_id for m in messages[10:]]
    assert on_a_game_day[0].last_game == stat_line(history[9])  # history before `since` counts
    assert_exact(on_a_game_day[0].features, walk(history, league=league)[0][10][1])

    between = since(history[10].game_date + dt.timedelta(days=1))
    assert [m.as_of for m in between[:-1]] == [g.game_date for g in history[11:]]

    after_all = since(dt.date(2024, 1, 1))
    assert len(after_all) == 1
    assert after_all[0].kind == "next"
    assert after_all[0].event_id == messages[-1].event_id

    assert [m.event_id for m in since(dt.date(2000, 1, 1))] == [m.event_id for m in messages]


def test_no_history_no_vectors(league: League) -> None:
    assert (
        vectors_for(player_id=LEBRON, player_name="LeBron James", history=[], league=league) == []
    )


# --- event ids and digest ---------------------------------------------------------------------


def test_event_ids_are_deterministic_and_distinct(
    history: list[PlayerGame], messages: list[FeaturesComputed]
) -> None:
    again = vectors_for(
        player_id=LEBRON, player_name="LeBron James", history=history, league=real_league()
    )
    assert [m.event_id for m in again] == [m.event_id for m in messages]
    assert len({m.event_id for m in messages}) == len(messages)
    other = vectors_for(
        player_id=LEBRON + 1, player_name="LeBron James", history=history, league=real_league()
    )
    assert not {m.event_id for m in other} & {m.event_id for m in messages}


def test_an_event_id_changes_when_any_feature_changes(history: list[PlayerGame]) -> None:
    walked, _ = walk(history, league=real_league())
    game, features = walked[14]
    kwargs = {
        "player_id": LEBRON,
        "player_name": "LeBron James",
        "kind": "game",
        "game": game,
        "last": history[13],
        "team": game.team,
        "season": game.season,
    }
    base = message(features=features, **kwargs).event_id  # type: ignore[arg-type]
    assert message(features=dict(features), **kwargs).event_id == base  # type: ignore[arg-type]
    assert message(features=dict(reversed(features.items())), **kwargs).event_id == base  # type: ignore[arg-type]
    seen = {base}
    for name in NAMES:
        value = features[name]
        for changed in (0.0,) if value is None else (value + 0.5, None):
            m = message(features={**features, name: changed}, **kwargs)  # type: ignore[arg-type]
            assert m.event_id not in seen or changed is None, name
            assert m.event_id != base, (name, changed)
            seen.add(m.event_id)


def digest_of(features: Features) -> str:
    return digest(pack(features))


def test_digest_is_stable_and_sees_none() -> None:
    features: Features = dict.fromkeys(NAMES, 1.5)
    d = digest_of(features)
    assert len(d) == 16
    assert int(d, 16) >= 0
    assert digest_of(dict(features)) == d
    assert digest_of({**features, NAMES[0]: None}) != d
    assert digest_of({**features, NAMES[0]: 0.0}) != digest_of({**features, NAMES[0]: None})
    assert digest_of({**features, NAMES[-1]: 1.5 + 1e-9}) != d


def test_digest_is_the_one_event_ids_always_had() -> None:
    """The digest (part of every vector's event id) is a hash of the stored form: a replay
    after an upgrade must make the same ids. Pinned to the value the service computed before
    it packed through `statmuse_shared.features.pack`, re-pinned when feature set fs-3 added
    its 22 features, fs-4 its 4, fs-5 its 5 and fs-6 its 54 (a new feature set is a new stored
    form: its ids are new anyway)."""
    features: Features = {n: (i * 0.37 if i % 5 else None) for i, n in enumerate(NAMES)}
    assert digest_of(features) == "413d393260188c0d"


def test_a_vector_is_packed_once_and_those_bytes_are_stored_and_sent(
    history: list[PlayerGame],
) -> None:
    """The event id hashes the packed values; the message keeps those bytes, and the wire form
    and the store take them (not packed again). A copy with other features does not reuse
    them, and whether they are kept changes no equality."""
    [*_, last] = vectors_for(player_id=1, player_name="P1", history=history, league=League())
    packed = last.packed()
    assert packed is not None
    assert packed == pack(last.features)
    assert vectors.encode(last).endswith(packed)
    rebuilt = FeaturesComputed.model_validate(last.model_dump())
    assert rebuilt.packed() is None
    assert rebuilt == last
    other = last.model_copy(update={"features": {**last.features, NAMES[0]: -1.0}})
    assert other.packed() is None
    assert vectors.decode(vectors.encode(other)).features[NAMES[0]] == -1.0


# --- exact values, packed on the wire ---------------------------------------------------------


def test_values_are_the_engines_to_the_bit(history: list[PlayerGame]) -> None:
    """No rounding: the packed wire form carries float64, so the message keeps every bit (the
    JSON of v1 kept ten significant digits)."""
    features: Features = {**dict.fromkeys(NAMES, 1.0), NAMES[0]: 1 / 3, NAMES[1]: -200 / 3}
    m = message(
        player_id=LEBRON,
        player_name="LeBron James",
        kind="next",
        game=None,
        last=history[-1],
        features=features,
        team="LAL",
        season="2023-24",
    )
    assert m.features == features
    assert m.features is not features  # a copy: the engine's dict may change after
    assert struct.pack("<d", m.features[NAMES[0]] or 0.0) == struct.pack("<d", 1 / 3)


def test_every_real_message_round_trips_through_its_packed_form(
    messages: list[FeaturesComputed],
) -> None:
    for m in messages:
        back = vectors.decode(vectors.encode(m))
        assert back == m
        assert [struct.pack("<d", v) for v in back.features.values() if v is not None] == [
            struct.pack("<d", v) for v in m.features.values() if v is not None
        ]


def test_a_real_vector_packs_to_well_under_half_its_json(
    messages: list[FeaturesComputed],
) -> None:
    """The point of the packed form (docs/ARCHITECTURE.md): a real vector, its JSON (exact,
    as the message would serialise now) against its packed bytes."""
    for m in (messages[14], messages[-1]):  # a played game's vector with its outcome; a next
        packed, as_json = len(vectors.encode(m)), len(m.model_dump_json())
        assert packed < 0.45 * as_json, (m.kind, packed, as_json)


def _corrected(history: list[PlayerGame]) -> list[FeaturesComputed]:
    """The same history after a box-score correction: 2023-11-15 vs SAC, 28 -> 70 points."""
    changed = history[:14] + [dataclasses.replace(history[14], points=70)] + history[15:]
    return vectors_for(
        player_id=LEBRON, player_name="LeBron James", history=changed, league=real_league()
    )


def test_a_game_vector_never_sees_its_own_game(
    history: list[PlayerGame], messages: list[FeaturesComputed]
) -> None:
    """Changing a game's stats changes its outcome and the later vectors, not its features."""
    other = _corrected(history)
    assert other[14].features == messages[14].features
    assert other[14].outcome is not None
    assert other[14].outcome.points == 70
    assert other[15].features != messages[15].features
    assert other[15].event_id != messages[15].event_id
    assert other[15].last_game is not None
    assert other[15].last_game.points == 70


def test_a_corrected_outcome_gets_a_new_event_id(
    history: list[PlayerGame], messages: list[FeaturesComputed]
) -> None:
    other = _corrected(history)
    assert other[14].outcome != messages[14].outcome
    assert other[14].event_id != messages[14].event_id


def test_as_of_is_a_unique_key_per_player(messages: list[FeaturesComputed]) -> None:
    """(player_id, as_of, feature_set_version) is the storage key: no two vectors share it."""
    days = [m.as_of for m in messages]
    assert days == sorted(days)
    assert len(set(days)) == len(days)
