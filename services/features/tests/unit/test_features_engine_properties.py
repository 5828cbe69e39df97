"""Replay and arrival order, as a consumer group delivers them (hypothesis), over the engine
with the repository in memory.

A random season of small synthetic games (season.py) goes onto a three-partition raw topic as
the ingestor publishes it (players by id, each team box on every partition), in an arrival
order where team boxes come early, late or interleaved and some player games come late. Two
engines share the store as two instances of one group. Between random steps (a batch of a
random size per partition, committed, processed but not committed, delivered twice, or failing
at a random repository operation, possibly killing its instance, and delivered again before
anything else; a rebalance to a random split; a reconcile, possibly failing; an instance
restarted with nothing in memory), everything is delivered, and each engine reconciles once
(group.py). Who is out for some of the games (season.py's `reports`, lists sent again changed)
comes between those steps, to either instance, in batches that may fail, be delivered twice or
not be committed.
Then:

- the stored vectors equal, field for field, those of a batch build over the same tables
  (`vectors_and_state` per player with the whole league); the only other rows are earlier
  next-game vectors, which a batch build does not give;
- a second reconcile finds nothing, and no engine has a stale season left;
- a replay of the whole topic (onto the same engines or restarted ones, cut into other
  batches) changes nothing and publishes nothing.

A backlog in the ingestor's own order (by day, each team box on every partition), delivered in
random batches to either instance, is computed once: nothing is stale at its end, each game
vector is published exactly once and they are the batch build's.
"""

import collections

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statmuse_shared.features import FEATURE_SET_VERSION

from .fakes import Faulty, InMemoryFeatures, batch_build, differing, stored
from .group import play, player_games, reconcile_again, replay, start, start_in_order
from .season import RawEvent, reports, seasons


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(events=seasons(), data=st.data())
async def test_any_arrival_and_delivery_gives_the_batch_builds_vectors_and_a_replay_nothing(
    events: list[RawEvent], data: st.DataObject
) -> None:
    features = InMemoryFeatures()
    group = await start(Faulty(features), events, data, data.draw(reports(events)))
    await play(group, data)

    assert {version for _, _, version in features.vectors} <= {FEATURE_SET_VERSION}
    batch = await batch_build(features)
    assert {k for k, v in batch.items() if v.kind == "game"} == player_games(events)
    differ = differing(features, batch)
    assert not differ, f"{len(differ)} of {len(batch)} vectors differ from a batch build"
    assert all(v.kind == "next" for k, v in stored(features).items() if k not in batch)

    assert await reconcile_again(group) == [], "nothing is left to reconcile"

    snapshot = dict(features.vectors)
    assert await replay(group, data) == [], "a replay publishes nothing"
    assert features.vectors == snapshot, "a replay stores nothing"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(events=seasons(), data=st.data())
async def test_a_backlog_in_the_ingestors_order_is_computed_once_and_leaves_nothing_stale(
    events: list[RawEvent], data: st.DataObject
) -> None:
    features = InMemoryFeatures()
    group = await start_in_order(Faulty(features), events, data)
    await group.deliver_everything(data)

    # Every partition had each team box before its later games: no vector was computed
    # without one, so there is nothing to reconcile (with a team box on one partition only,
    # the partitions' different paces leave whole seasons to recompute).
    assert await features.stale_ranges(partitions=None) == []
    assert [engine.stale for engine in group.engines] == [{}] * len(group.engines)
    published = collections.Counter(
        (v.player_id, v.as_of) for v in group.published if v.kind == "game"
    )
    assert set(published) == player_games(events)
    assert set(published.values()) <= {1}, "each game vector published once"
    batch = await batch_build(features)
    differ = differing(features, batch)
    assert not differ, f"{len(differ)} of {len(batch)} vectors differ from a batch build"
