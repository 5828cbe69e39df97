"""The features engine's decisions, pure: data in, data out; no database, no broker, no event
loop. `engine.Engine` is the shell that reads through the repository, calls these and applies
what they return (docs/FEATURES.md, "Several instances").

- Ownership (`Assignment`): which raw-topic partitions, so which players, an instance
  computes, and which player states a rebalance drops.
- A batch (`plan_batch`): which games to compute (new, or stored before without a vector), the
  progress to record per partition and season, which states missed a game another instance
  stored, and per player whether the state advances (the fast path) or the player is rebuilt
  from the stored history.
- The league (`plan_refresh`): which revisions bringing it up to date reads, and whether the
  own partitions' vectors are checked against it.
- Reconcile (`plan_heal`, `heal_days`, `players_to_heal`, `healed`): per season and first stale
  day, which partitions' players are recomputed, and which stale marks that clears.
- Vectors: advancing states (`advance`), rebuilding players from their histories (`rebuild`,
  `build_chunk` for the batch build's worker processes), one per (player, as_of) to store
  (`latest_per_key`).
- Games to come (`next_games`, `pregame`): each team's next scheduled game after the last day
  played, and for each player last seen with that team this season, the vector of that game,
  computed as the game's vector will be once it is played (the same state, the same context).

Why a stale vector is stale (a team box of a day before the partition's latest computed day,
of a league revision above the one the partition was checked against) is the repository's
rule (`FeatureRepository.mark_stale`): it runs where the marks are, in one statement, so that
instances sharing the marks never race on them.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from statmuse_features.ports import GameKey, History, Progress, StaleRange
from statmuse_features.service import message, partition_of, player_game, vectors_and_state
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    GameScheduled,
    PlayerGameIngested,
)
from statmuse_shared.features import (
    GameContext,
    League,
    PlayerGame,
    PlayerState,
    context_of,
    pack,
)


@dataclass
class Known:
    """A player's running state, in memory, with the name it publishes under."""

    name: str
    state: PlayerState


# --- ownership ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assignment:
    """The raw-topic partitions this instance computes. `owned` None: every player (standalone:
    the batch build, tests without a consumer group); a group member starts with none and
    learns its share from the rebalance listener. `partitions`: the topic's partition count,
    once known. `lost`: partitions that left since the states were last pruned; `pending`: a
    new assignment the states have not been pruned for yet."""

    owned: frozenset[int] | None = None
    partitions: int | None = None
    lost: frozenset[int] = frozenset()
    pending: bool = False

    def reassigned(self, owned: Iterable[int], *, partitions: int) -> "Assignment":
        """The group's new assignment, applied to the states later (`applied`). A partition
        that leaves stays lost even if it comes back before then: another instance may have
        processed its games meanwhile."""
        new = frozenset(owned)
        before = self.owned if self.owned is not None else frozenset(range(partitions))
        return Assignment(new, partitions, self.lost | (before - new), pending=True)

    def partition(self, player_id: int) -> int:
        """The raw-topic partition of a player's games (0 while the count is unknown)."""
        return 0 if self.partitions is None else partition_of(player_id, self.partitions)

    @property
    def checked(self) -> list[int] | None:
        """The partitions whose progress and stale ranges are this instance's (None: all)."""
        return None if self.owned is None else sorted(self.owned)

    def applied(self, players: Iterable[int]) -> tuple["Assignment", list[int]]:
        """A pending assignment applied to the player states held: the assignment with nothing
        pending, and the players whose states go (of a partition lost, or not owned)."""
        if not self.pending:
            return self, []
        drop = [
            p
            for p in players
            if (part := self.partition(p)) in self.lost
            or (self.owned is not None and part not in self.owned)
        ]
        return replace(self, lost=frozenset(), pending=False), drop


# --- the league --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refresh:
    """Bringing the league up to the latest revision: `read_after` (not None) reads the team
    boxes of the revisions after it; `check` checks the own partitions against the league."""

    read_after: int | None
    check: bool


def plan_refresh(*, head: int, revision: int, check_all: bool) -> Refresh:
    """New revisions are read and checked against the own partitions' vectors; without any,
    the partitions are checked only when asked to (`check_all`: at start, where a previous
    process may have stopped before checking, and after a rebalance)."""
    if head > revision:
        return Refresh(read_after=revision, check=True)
    return Refresh(read_after=None, check=check_all)


def stale_seasons(ranges: Iterable[StaleRange]) -> dict[str, dt.date]:
    """Season -> the first stale day of any of the partitions."""
    stale: dict[str, dt.date] = {}
    for r in ranges:
        stale[r.season] = min(stale.get(r.season, r.since), r.since)
    return stale


# --- a batch -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Advance:
    """The fast path: `games` (in date order) all come after what `known` has seen."""

    player_id: int
    name: str
    known: Known
    games: list[PlayerGameIngested]


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a stored batch needs: `progress` to record (with the league's revision), the
    states to `drop` (they missed a game stored by an instance that had the partition before:
    the player is rebuilt on his next game), the players to `advance` and to `rebuild` from
    their stored history, (player, first day to recompute)."""

    fresh: list[PlayerGameIngested]
    progress: Progress
    drop: list[int]
    advance: list[Advance]
    rebuild: list[tuple[int, dt.date]]


def key(game: PlayerGameIngested) -> GameKey:
    return (game.player_id, game.game_key)


def plan_batch(
    games: Sequence[PlayerGameIngested],
    *,
    computed: set[GameKey],
    players: Mapping[int, Known],
    partition: Callable[[int], int],
) -> BatchPlan:
    """`computed`: the batch's games to compute, those new or changed, or stored before and
    never given a vector (a crash between the two commits, last time)."""
    fresh = [g for g in games if key(g) in computed]
    progress: Progress = {}
    for g in fresh:
        at = (partition(g.player_id), g.season)
        progress[at] = max(progress.get(at, g.game_date), g.game_date)
    drop: dict[int, None] = {}
    for g in games:
        known = None if g.player_id in drop else players.get(g.player_id)
        last = known.state.last if known else None
        if key(g) not in computed and last is not None and g.game_date > last.game_date:
            drop[g.player_id] = None
    by_player: dict[int, list[PlayerGameIngested]] = defaultdict(list)
    for g in fresh:
        by_player[g.player_id].append(g)
    advance: list[Advance] = []
    rebuild: list[tuple[int, dt.date]] = []
    for player_id, events in by_player.items():
        events.sort(key=lambda e: e.game_date)
        known = None if player_id in drop else players.get(player_id)
        last = known.state.last if known else None
        if known is None or (last is not None and events[0].game_date <= last.game_date):
            rebuild.append((player_id, events[0].game_date))
        else:
            advance.append(Advance(player_id, events[-1].player_name, known, events))
    return BatchPlan(fresh, progress, list(drop), advance, rebuild)


# --- reconcile ---------------------------------------------------------------------------------


def plan_heal(ranges: Iterable[StaleRange]) -> list[tuple[str, dict[int, dt.date]]]:
    """Per season (in order): partition -> the first day whose vectors are recomputed."""
    by_season: dict[str, dict[int, dt.date]] = defaultdict(dict)
    for r in ranges:
        by_season[r.season][r.partition] = r.since
    return sorted(by_season.items())


def heal_days(since: Mapping[int, dt.date]) -> list[tuple[dt.date, set[int]]]:
    """Each distinct first stale day (in order) with the partitions stale from it."""
    return [(day, {p for p, d in since.items() if d == day}) for day in sorted(set(since.values()))]


def players_to_heal(
    found: Iterable[int], *, day: dt.date, partitions: set[int], partition: Callable[[int], int]
) -> list[tuple[int, dt.date]]:
    """Of the players with games on or after `day`, those of these partitions."""
    return [(p, day) for p in found if partition(p) in partitions]


def healed(ranges: Iterable[StaleRange]) -> list[tuple[int, str, int]]:
    """The marks a reconcile that recomputed `ranges` clears: exactly those it read."""
    return [(r.partition, r.season, r.version) for r in ranges]


# --- vectors -----------------------------------------------------------------------------------


def advance(work: Sequence[Advance], league: League) -> list[FeaturesComputed]:
    """The fast path, for every player of `work`: each new game's vector, then the next-game
    vector. Advances the states in place."""
    return [v for w in work for v in _advance(w, league)]


def _advance(work: Advance, league: League) -> list[FeaturesComputed]:
    known = work.known
    known.name = work.name
    out = []
    for e in work.games:
        game = player_game(e)
        features = known.state.vector(context_of(game), league=league)
        out.append(
            message(
                player_id=work.player_id,
                player_name=work.name,
                kind="game",
                game=game,
                last=known.state.last,
                features=features,
                team=game.team,
                season=game.season,
            )
        )
        rank = league.rank(game.opponent, game.season, game.game_date)
        known.state.add(game, opponent_rank=rank)
    last = known.state.last
    assert last is not None
    out.append(
        message(
            player_id=work.player_id,
            player_name=work.name,
            kind="next",
            game=None,
            last=last,
            features=known.state.vector(None, league=league),
            team=last.team,
            season=last.season,
        )
    )
    return out


def rebuild(
    histories: Mapping[int, History], *, since: Mapping[int, dt.date | None], league: League
) -> tuple[list[FeaturesComputed], dict[int, Known]]:
    """The slow path: each player's vectors from `since` on (all, without a day) and state,
    from the whole history."""
    out: list[FeaturesComputed] = []
    states: dict[int, Known] = {}
    for player_id, (name, history) in histories.items():
        vectors, state = vectors_and_state(
            player_id=player_id,
            player_name=name,
            history=history,
            league=league,
            since=since.get(player_id),
        )
        out.extend(vectors)
        states[player_id] = Known(name, state)
    return out, states


def build_chunk(
    part: list[tuple[int, str, list[PlayerGame]]], league: League
) -> tuple[list[FeaturesComputed], list[bytes], dict[int, Known]]:
    """A worker process's share of the batch build: vectors, their stored form (packed there,
    not on the event loop) and the final states."""
    histories = {player_id: History(name, games) for player_id, name, games in part}
    vectors, states = rebuild(histories, since={}, league=league)
    return vectors, [v.packed() or pack(v.features) for v in vectors], states


def latest_per_key(vectors: Sequence[FeaturesComputed]) -> list[int]:
    """The positions of the vectors to store: one per (player, as_of), the later superseding
    the earlier."""
    latest = {(v.player_id, v.as_of): i for i, v in enumerate(vectors)}
    return sorted(latest.values())


# --- games to come -----------------------------------------------------------------------------


def next_games(
    schedule: Iterable[GameScheduled], *, after: dt.date | None
) -> dict[str, GameScheduled]:
    """Each team's next game on the schedule after `after` (the last day played; None: all),
    of those still to be played on their date (status 'scheduled')."""
    out: dict[str, GameScheduled] = {}
    for game in schedule:
        if game.status != "scheduled" or (after is not None and game.game_date <= after):
            continue
        for team in (game.home, game.away):
            known = out.get(team)
            if known is None or (game.game_date, game.game_id) < (known.game_date, known.game_id):
                out[team] = game
    return out


def pregame(
    players: Mapping[int, Known], games: Mapping[str, GameScheduled], league: League
) -> list[FeaturesComputed]:
    """The vector of each player's team's next game (`games`, by team), for the players last
    seen with that team in the game's season and before its day: kind 'game', no outcome.
    Players are read, not advanced."""
    out = []
    for player_id, known in players.items():
        last = known.state.last
        game = None if last is None else games.get(last.team)
        if last is None or game is None:
            continue
        if game.season != last.season or game.game_date <= last.game_date:
            continue
        is_home = game.home == last.team
        context = GameContext(
            game.game_date,
            game.season,
            game.season_type,
            last.team,
            game.away if is_home else game.home,
            is_home,
        )
        out.append(
            message(
                player_id=player_id,
                player_name=known.name,
                kind="game",
                game=None,
                last=last,
                features=known.state.vector(context, league=league),
                team=last.team,
                season=game.season,
                scheduled=context,
            )
        )
    return out
