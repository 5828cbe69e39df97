"""The posted lines and pre-game vectors in PostgreSQL: the latest prices per book, the slate
of games to come, and a played game leaving it."""

import datetime as dt
import zlib
from typing import Any

import pytest

from statmuse_predictor.adapters.postgres import PostgresPredictions
from statmuse_shared.contract.messages import FeaturesComputed, GameRef, StatLine
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

from ..unit.fakes import posted

pytestmark = pytest.mark.integration
DAY = dt.date(2024, 3, 18)


@pytest.fixture
async def pool(database_url: str) -> Any:
    await migrate(database_url, schemas=["predictions"])
    p = await create_pool(database_url)
    yield p
    await p.close()


def vector(pid: int, *, played: bool = False) -> FeaturesComputed:
    line = StatLine(game_date=DAY, minutes=30, points=20, rebounds=5, assists=5)
    return FeaturesComputed(
        event_id=f"pg-{pid}-{played}",
        player_id=pid,
        player_name=f"Player {pid}",
        team="LAL",
        season="2023-24",
        as_of=DAY,
        kind="game",
        game=GameRef(game_date=DAY, season_type="Regular Season", opponent="ATL", is_home=True),
        feature_set_version="fs-0.1",
        features={"points_sma_10": 20.0},
        last_game=line.model_copy(update={"game_date": DAY - dt.timedelta(days=2)}),
        outcome=line if played else None,
    )


async def test_lines_and_pregame_vectors_make_the_slate(pool: Any, unique: str) -> None:
    repo = PostgresPredictions(Database.of(pool))
    a, b = (1_000_000 + zlib.crc32(f"{unique}{i}".encode()) % 1_000_000 for i in (1, 2))
    assert await repo.store_lines([posted(None, "draftkings", -110, day=DAY)]) == []
    games = await repo.store_lines(
        [
            posted(a, "draftkings", -110, day=DAY),
            posted(a, "fanduel", -105, day=DAY),
            posted(b, "fanduel", 100, day=DAY),
        ]
    )
    assert sorted(games) == sorted([(a, DAY), (b, DAY)])
    assert await repo.slate([(a, DAY)]) == []  # no pre-game vector yet
    assert await repo.keep_pregame([vector(a), vector(b)]) == [(a, DAY), (b, DAY)]
    # The same book again: its latest prices replace the earlier ones.
    await repo.store_lines([posted(a, "draftkings", -125, day=DAY, line=20.5)])
    [(pregame, lines)] = await repo.slate([(a, DAY)])
    assert (pregame.player_id, pregame.opponent, pregame.is_home) == (a, "ATL", True)
    assert pregame.data_as_of == DAY - dt.timedelta(days=2)
    assert pregame.features == {"points_sma_10": 20.0}
    assert [(x.book, x.line, x.over_price) for x in lines] == [
        ("draftkings", 20.5, -125),
        ("fanduel", 19.5, -105),
    ]
    everything = {v.player_id for v, _ in await repo.slate()}
    assert {a, b} <= everything
    # a's game is played: it leaves the slate; b's stays.
    assert await repo.keep_pregame([vector(a, played=True)]) == []
    assert await repo.slate([(a, DAY), (b, DAY)]) != []
    assert {v.player_id for v, _ in await repo.slate([(a, DAY), (b, DAY)])} == {b}
