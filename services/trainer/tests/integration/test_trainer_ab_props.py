"""The A/B test's priced lines in PostgreSQL: each (player, stat, game, line, test) kept as
last priced, an older pricing arriving late changes nothing, and they read back by stat and
game date."""

import dataclasses
import datetime as dt

import pytest

from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate
from statmuse_trainer.adapters.monitoring import PostgresMonitor
from statmuse_trainer.monitoring.performance import BookProp

pytestmark = pytest.mark.integration
DAY = dt.date(2024, 3, 20)
AT = dt.datetime(2024, 3, 20, 15, tzinfo=dt.UTC)


async def test_the_latest_pricing_of_each_line_is_kept(database_url):
    await migrate(database_url, schemas=["registry"])
    pool = await create_pool(database_url)
    try:
        monitor = PostgresMonitor(Database.of(pool))
        first = BookProp(7, Stat.POINTS, DAY, 20.5, "v1", "v2", 0.55, 0.5, 0.52, AT)
        later = dataclasses.replace(
            first, production_over=0.6, priced_at=AT + dt.timedelta(hours=2)
        )
        other_line = dataclasses.replace(first, line=21.5)
        assert await monitor.store_ab_props([first, other_line]) == 2
        assert await monitor.store_ab_props([later]) == 1
        assert await monitor.store_ab_props([first]) == 0  # older: changes nothing
        stored = await monitor.ab_props(stat=Stat.POINTS, first=DAY, last=DAY)
        assert sorted(stored, key=lambda p: p.line) == [later, other_line]
        assert await monitor.ab_props(stat=Stat.REBOUNDS, first=DAY, last=DAY) == []
        assert await monitor.ab_props(stat=Stat.POINTS, first=DAY + dt.timedelta(days=1),
                                      last=DAY + dt.timedelta(days=2)) == []  # fmt: skip
    finally:
        await pool.close()
