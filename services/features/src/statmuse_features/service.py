"""Pure glue between messages and the shared feature engine (statmuse_shared.features):
events -> engine records, engine vectors -> FeaturesComputed. No broker, no database."""

import datetime as dt
import hashlib
from typing import Literal

from aiokafka.partitioner import murmur2

from statmuse_shared.contract import ids, topics
from statmuse_shared.contract.messages import (
    SCHEMA_VERSION,
    AvailabilityReported,
    FeaturesComputed,
    GameRef,
    PlayerGameIngested,
    StatLine,
)
from statmuse_shared.features import (
    FEATURE_SET_VERSION,
    Absent,
    Features,
    GameContext,
    League,
    PlayerGame,
    PlayerState,
    TeamReport,
    context_of,
    feature_names,
    in_order,
    pack,
    walk,
)

NAMES = tuple(feature_names())


def partition_of(player_id: int, partitions: int) -> int:
    """The raw-topic partition of a player's games: Kafka's default partitioner, murmur2 of
    the key (the ingestor's producer and the Java client pick partitions this way)."""
    return int(murmur2(topics.player_key(player_id)) & 0x7FFFFFFF) % partitions


def player_game(e: PlayerGameIngested) -> PlayerGame:
    return PlayerGame(
        e.game_date,
        e.season,
        e.season_type,
        e.team,
        e.opponent,
        e.is_home,
        e.minutes,
        e.points,
        e.rebounds,
        e.assists,
        e.fg3m,
        steals=e.steals,
        blocks=e.blocks,
        fga=e.fga,
        fta=e.fta,
        turnovers=e.turnovers,
    )


def team_report(r: AvailabilityReported) -> TeamReport:
    """Who is out for the team's game: the players the report says are out (not the doubtful
    or questionable ones, who may play), with their recent means where it gives them."""
    absent = tuple(
        Absent(a.player_id, None, None, None, None)
        if a.recent is None
        else Absent(
            a.player_id, a.recent.minutes, a.recent.points, a.recent.rebounds, a.recent.assists
        )
        for a in r.absences
        if a.status == "out"
    )
    return TeamReport(r.game_date, r.season, r.team, absent)


def stat_line(g: PlayerGame) -> StatLine:
    return StatLine(
        game_date=g.game_date,
        minutes=g.minutes,
        points=g.points,
        rebounds=g.rebounds,
        assists=g.assists,
        threes=g.threes,
        steals=g.steals,
        blocks=g.blocks,
        turnovers=g.turnovers,
    )


def digest(packed: bytes) -> str:
    """A short hash of the vector's values (their stored form), part of its event id."""
    return hashlib.sha256(packed).hexdigest()[:16]


def message(
    *,
    player_id: int,
    player_name: str,
    kind: Literal["next", "game"],
    game: PlayerGame | None,
    last: PlayerGame | None,
    features: Features,
    team: str,
    season: str,
    scheduled: GameContext | None = None,
) -> FeaturesComputed:
    """A vector as a message. kind 'game': `game` is the game (played: outcome attached), or
    `scheduled` is a game not played yet (no outcome); kind 'next': `last` is the game just
    played."""
    # Exact values, the catalogue's names only: the packed wire form carries float64 as is.
    # Packed once, here: the event id hashes these bytes, the store and the topic take them.
    values = in_order(features)
    packed = pack(values)
    if kind == "game":
        context = scheduled if game is None else context_of(game)
        assert context is not None
        as_of = context.game_date
        ref = GameRef(
            game_date=context.game_date,
            season_type=context.season_type,
            opponent=context.opponent,
            is_home=context.is_home,
        )
    else:
        assert last is not None
        as_of, ref = last.game_date + dt.timedelta(days=1), None
    outcome = stat_line(game) if kind == "game" and game is not None else None
    # Built from trusted, already-typed values: skip validation (a large share of the cost).
    vector = FeaturesComputed.model_construct(
        event_id=ids.event_id(
            "features",
            player_id,
            as_of,
            kind,
            FEATURE_SET_VERSION,
            digest(packed),
            outcome.model_dump_json() if outcome else None,
        ),
        player_id=player_id,
        player_name=player_name,
        team=team,
        season=season,
        as_of=as_of,
        kind=kind,
        game=ref,
        feature_set_version=FEATURE_SET_VERSION,
        features=values,
        last_game=stat_line(last) if last is not None else None,
        outcome=outcome,
        occurred_at=dt.datetime.now(dt.UTC),
        schema_version=SCHEMA_VERSION,
    )
    vector.remember_packed(packed)
    return vector


def vectors_and_state(
    *,
    player_id: int,
    player_name: str,
    history: list[PlayerGame],
    league: League,
    since: dt.date | None = None,
) -> tuple[list[FeaturesComputed], PlayerState]:
    """The game vectors of every game on or after `since` (all when None), then the vector
    for the player's next game, and the state after the history. One walk: the batch path."""
    walked, state = walk(history, league=league, since=since)
    if not history:
        return [], state
    # The game before each game (its vector's last game), by day: a player plays once a day.
    previous = {g.game_date: before for before, g in zip(history, history[1:], strict=False)}
    out = [
        message(
            player_id=player_id,
            player_name=player_name,
            kind="game",
            game=game,
            last=previous.get(game.game_date),
            features=features,
            team=game.team,
            season=game.season,
        )
        for game, features in walked
    ]
    last = history[-1]
    out.append(
        message(
            player_id=player_id,
            player_name=player_name,
            kind="next",
            game=None,
            last=last,
            features=state.vector(None, league=league),
            team=last.team,
            season=last.season,
        )
    )
    return out, state


def vectors_for(
    *,
    player_id: int,
    player_name: str,
    history: list[PlayerGame],
    league: League,
    since: dt.date | None = None,
) -> list[FeaturesComputed]:
    """`vectors_and_state` without the state."""
    return vectors_and_state(
        player_id=player_id, player_name=player_name, history=history, league=league, since=since
    )[0]
