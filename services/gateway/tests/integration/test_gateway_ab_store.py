"""The A/B reports in PostgreSQL: the newest per stat is kept, an older one arriving late
changes nothing, and what comes back is the report that went in."""

import datetime as dt
from typing import Any

import pytest

from statmuse_gateway.adapters.postgres import PostgresReadModel
from statmuse_shared.contract.messages import AbTestReported
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

from ..unit.test_gateway_ab_tests import DAY, report

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> Any:
    await migrate(database_url, schemas=["gateway"])
    p = await create_pool(database_url)
    yield p
    await p.close()


async def test_the_newest_report_per_stat_is_kept(pool: Any) -> None:
    rm = PostgresReadModel(Database.of(pool))
    later = DAY + dt.timedelta(days=2)
    newer = report(Stat.POINTS, later, "challenger worse")
    await rm.store_ab_tests([newer, report(Stat.ASSISTS, DAY)])
    await rm.store_ab_tests([report(Stat.POINTS, DAY)])  # late and older: ignored
    stored = [AbTestReported.model_validate_json(p) for p in await rm.ab_tests()]
    assert [r.stat for r in stored] == [Stat.ASSISTS, Stat.POINTS]
    assert stored[1] == newer
