"""The gateway's dependencies fail under it: PostgreSQL stops (it must answer 503 with
Retry-After within a second, and recover by itself when PostgreSQL is back), Redis dies (the
answers stay the same, only slower, and the cache is used again once Redis is back).

One live `statmuse-gateway serve` process for the module, on a PostgreSQL, a Redis and a broker
of its own, fed through the broker like in production: the shipped models, the real box scores
of 2023-24 up to 30 Nov (ingested by the real ingest path) and its players' feature vectors."""

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from statmuse_features.service import player_game, vectors_and_state
from statmuse_ingestor.app import connected
from statmuse_ingestor.backfill import backfill
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import FileSource
from statmuse_ops.infra import Started, start_broker, start_postgres, start_redis, stop
from statmuse_shared.contract import ids, topics
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    ModelMetrics,
    ModelPublished,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.contract.vectors import PACKED
from statmuse_shared.features import League, TeamGame, possessions_of
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.count import CountModel
from statmuse_shared.platform.broker import make_broker, publish_many
from statmuse_shared.platform.migrations import migrate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

UNTIL = dt.date(2023, 11, 30)
PLAYERS = ("LeBron James", "Stephen Curry")
PREDICT = {"player": "LeBron James", "stat": "points", "line": 25.5}
CONTEXT = {"player_name": "LeBron James", "stat_type": "points", "opponent": "DEN"}
ANSWER_S = 1.0  # the slowest acceptable answer, with or without the dependency
log = logging.getLogger(__name__)


@dataclass
class Stack:
    root: Path
    postgres: Started
    redis: Started
    broker: Started
    gateway: Any  # conftest.Service
    services: Any  # conftest.Services
    url: str = ""
    seen: list[str] = field(default_factory=list)


def models(store: LocalArtifactStore, kit: Any) -> list[ModelPublished]:
    """models/*.npz as production versions, as `statmuse-trainer import-model --promote`
    announces them."""
    out = []
    for path in sorted(kit.models.glob("*.npz")):
        data = path.read_bytes()
        header = CountModel.from_bytes(data).header
        uri, checksum = store.put(f"{header.stat.value}/{path.name}", data)
        version = f"v-reliability-{header.name}"
        out.append(
            ModelPublished(
                event_id=ids.event_id("model", version, "production"),
                name=header.name,
                version=version,
                stat=header.stat,
                alias="production",
                model_type="count_model",
                artifact_uri=uri,
                checksum=checksum,
                feature_set_version=header.feature_set_version,
                metrics=ModelMetrics(),
            )
        )
    return out


async def vectors(pool: asyncpg.Pool) -> list[FeaturesComputed]:
    """PLAYERS' vectors for their next game, from the ingested rows (what features sends)."""
    league = League()
    for r in await pool.fetch("SELECT payload::text AS p FROM ingest.team_game_stats"):
        g = TeamGameIngested.model_validate_json(r["p"])
        possessions = possessions_of(g)
        # What a rating can use (as features.team_games does): complete boxes only.
        if g.opponent_points is not None and possessions is not None and g.minutes:
            league.add(
                TeamGame(g.game_date, g.season, g.team, g.opponent_points, possessions, g.minutes)
            )
    out = []
    for name in PLAYERS:
        rows = await pool.fetch(
            "SELECT payload::text AS p FROM ingest.player_game_stats "
            "WHERE payload->>'player_name' = $1 ORDER BY game_date",
            name,
        )
        games = [PlayerGameIngested.model_validate_json(r["p"]) for r in rows]
        found, _ = vectors_and_state(
            player_id=games[0].player_id,
            player_name=name,
            history=[player_game(g) for g in games],
            league=league,
        )
        out.append(found[-1])
    return out


async def seed(stack: Stack, kit: Any) -> None:
    await migrate(stack.postgres.url, schemas=["ingest", "gateway"])
    pool = await asyncpg.create_pool(stack.postgres.url, min_size=1, max_size=2)
    broker = make_broker(stack.broker.url, client_id="test-seed")
    await broker.connect()
    try:
        settings = IngestorSettings(
            database_url=stack.postgres.url, kafka_bootstrap_servers=stack.broker.url
        )
        async with connected(settings) as rt:
            await backfill(
                rt,
                source=FileSource(kit.data),
                seasons=[kit.season],
                date_from=dt.date(2023, 10, 24),
                date_to=UNTIL,
            )
        announced = models(LocalArtifactStore(stack.root / "artifacts"), kit)
        await publish_many(
            broker, [(m.stat.value.encode(), m) for m in announced], topic=topics.MODELS_PUBLISHED
        )
        await publish_many(
            broker,
            [(topics.player_key(v.player_id), v) for v in await vectors(pool)],
            topic=topics.FEATURES,
            encoding=PACKED,
        )
    finally:
        await broker.stop()
        await pool.close()


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory, kit: Any) -> AsyncIterator[Stack]:
    root = tmp_path_factory.mktemp("gateway-stack")
    services = kit.Services(root)
    s: Stack | None = None
    with contextlib.ExitStack() as servers:
        started = []
        for name, start in (
            ("postgres", start_postgres),
            ("redis", start_redis),
            ("broker", start_broker),
        ):
            started.append(
                servers.enter_context(kit.owned(lambda s=start, n=name: s(root / n, port=None)))
            )
        try:
            postgres, redis, broker = started
            await kit.create_topics(broker.url)
            services.env.update(
                DATABASE_URL=postgres.url,
                REDIS_URL=redis.url,
                KAFKA_BOOTSTRAP_SERVERS=broker.url,
                ARTIFACT_STORE_URL=(root / "artifacts").as_uri(),
                GATEWAY_RATE_LIMIT_PER_MINUTE="1000000",
                GATEWAY_GROUP_ID="gateway-reliability",
            )
            gateway = services.start("gateway")
            s = Stack(root, postgres, redis, broker, gateway, services, url=gateway.url)
            await seed(s, kit)
            await services.ready(gateway)
            conn = await asyncpg.connect(postgres.url)
            try:
                ingested = await conn.fetchval(
                    "SELECT (SELECT count(*) FROM ingest.player_game_stats"
                    "        WHERE published_at IS NOT NULL)"
                    "     + (SELECT count(*) FROM ingest.team_game_stats"
                    "        WHERE published_at IS NOT NULL)"
                )
            finally:
                await conn.close()
            async with httpx.AsyncClient(base_url=s.url, timeout=10) as client:

                async def serving() -> bool:
                    # Every box score folded in first: an answer read before the league is
                    # complete would differ from one read after (the tests compare answers).
                    games = await kit.metric(s.url, "statmuse_gateway_games_total")
                    if games < ingested:
                        return False
                    models = await client.get("/api/models")
                    if models.status_code != 200 or len(models.json()) < 5:
                        return False
                    context = await client.get("/api/player_context", params=CONTEXT)
                    answer = await client.post("/api/predict", json=PREDICT)
                    return answer.status_code == 200 and context.status_code == 200

                await kit.eventually("the gateway serving", serving, deadline_s=60, interval_s=0.2)
            yield s
        finally:
            services.close()
            # The tests restart PostgreSQL and Redis: stop the ones running now (the first
            # ones, if still up, are stopped by `owned`).
            for current in (s.postgres, s.redis) if s is not None else ():
                stop(current, timeout_s=10)


@dataclass
class Answer:
    sent: float  # monotonic
    what: str
    status: int  # 0: no answer (transport error)
    seconds: float
    retry_after: str | None
    body: str


async def ask(client: httpx.AsyncClient, what: str, n: int = 0) -> Answer:
    """One request; for `predict`, the n-th distinct prop (a cache miss when n is new)."""
    sent = time.monotonic()
    prop = {**PREDICT, "line": (n % 301) * 0.5, "odds_over": -110 - n // 301} if n else PREDICT
    try:
        if what == "predict":
            r = await client.post("/api/predict", json=prop)
        elif what == "unknown":  # a name the gateway never saw: only the database can say
            r = await client.post("/api/predict", json={**PREDICT, "player": f"Nobody {n}"})
        elif what == "context":
            r = await client.get("/api/player_context", params=CONTEXT)
        else:
            r = await client.get(f"/{what}" if what == "ready" else f"/api/{what}")
    except httpx.HTTPError as exc:
        return Answer(sent, what, 0, time.monotonic() - sent, None, repr(exc))
    return Answer(
        sent, what, r.status_code, time.monotonic() - sent, r.headers.get("retry-after"), r.text
    )


@dataclass
class Outage:
    """What the gateway answered while PostgreSQL stopped, stayed down and started again."""

    answers: list[Answer]
    stopping: float  # pg_ctl stop began
    down: float  # ... returned: no server
    starting: float  # pg_ctl start began
    up: float  # ... returned: accepting connections
    same_process: bool

    @property
    def while_down(self) -> list[Answer]:
        return [
            a for a in self.answers if self.down < a.sent and a.sent + a.seconds < self.starting
        ]

    def summary(self) -> str:
        down = self.while_down
        first_503 = min(a.sent + a.seconds for a in self.answers if a.status == 503)
        back = min(a.sent + a.seconds for a in self.answers if a.sent > self.up and a.status == 200)
        return (
            f"stop took {self.down - self.stopping:.2f}s, first 503 "
            f"{first_503 - self.stopping:+.2f}s after it began; {len(down)} answers while "
            f"down, the slowest {max(a.seconds for a in down):.3f}s; 200 again "
            f"{back - self.up:.2f}s after PostgreSQL was back; statuses seen: "
            f"{sorted({a.status for a in self.answers})}"
        )


# What each request loop gets with PostgreSQL up: an unknown player is a 404 (with suggestions).
UP = {"predict": 200, "models": 200, "ready": 200, "unknown": 404}


@pytest.fixture(scope="module")
async def postgres_outage(stack: Stack, kit: Any) -> Outage:
    """Requests keep coming, four at a time (each predict asks a line never asked, so it is
    never a cache hit; it needs PostgreSQL unless the gateway read the player's vector lately,
    under his current cache generation; each "unknown" asks for a name never seen, which only
    the database can look up), while PostgreSQL is stopped (pg_ctl stop -m fast), stays down,
    and is started again on the same data directory and port. The gateway process is never
    touched."""
    answers: list[Answer] = []
    stop_load = asyncio.Event()

    async def load(client: httpx.AsyncClient, what: str) -> None:
        n = 0
        while not stop_load.is_set():
            n += 1
            answers.append(await ask(client, what, n))

    pid = stack.gateway.proc.pid
    data_dir = Path(stack.postgres.data_dir or "").parent
    async with httpx.AsyncClient(base_url=stack.url, timeout=5) as client:
        loads = [asyncio.create_task(load(client, what)) for what in UP]
        try:
            await kit.eventually(
                "answers before the fault", lambda: len(answers) > 10, deadline_s=10
            )
            stopping = time.monotonic()
            # In a thread: the requests go on during the stop and the start.
            assert await asyncio.to_thread(stop, stack.postgres, timeout_s=10), "it was running"
            down = time.monotonic()
            await kit.eventually(
                "answers while PostgreSQL is down",
                lambda: sum(a.sent > down for a in answers) > 30,
                deadline_s=10,
            )
            starting = time.monotonic()
            stack.postgres = await asyncio.to_thread(
                start_postgres, data_dir, port=stack.postgres.port
            )
            up = time.monotonic()

            def recovered() -> bool:
                after = [a for a in answers if a.sent > up]
                return {a.what for a in after if a.status == UP[a.what]} == set(UP)

            try:
                await kit.eventually("200 again", recovered, deadline_s=20)
            except TimeoutError:
                late = {(a.what, a.status, a.body[:100]) for a in answers if a.sent > up}
                raise AssertionError(f"no recovery in 20 s: {sorted(late)[:8]}") from None
        finally:
            stop_load.set()
            await asyncio.gather(*loads)
            if not stack.postgres.is_running():  # leave the stack as it was
                stack.postgres = start_postgres(data_dir, port=stack.postgres.port)
    same = stack.gateway.proc.pid == pid and stack.gateway.alive()
    return Outage(answers, stopping, down, starting, up, same)


async def test_postgres_down_503_within_a_second_and_recovers_by_itself(postgres_outage):
    outage = postgres_outage
    summary = outage.summary()
    log.info("PostgreSQL outage: %s", summary)
    down = outage.while_down
    assert down, summary
    # What needs PostgreSQL is a 503. A prediction of a player whose vector the gateway read
    # lately needs nothing of it (his vector is in memory, fresh by the cache generation):
    # that is answered, as it would be with PostgreSQL up.
    answered = [a for a in down if a.status == 200]
    assert all(a.what == "predict" for a in answered), summary
    unanswered = [a for a in down if a.status != 200]
    # A prediction for a name the gateway never saw needs the database: a 503, not a 404.
    assert {a.what for a in unanswered} == {"models", "ready", "unknown"}, summary
    assert all(a.status == 503 for a in unanswered), (
        summary,
        [(a.what, a.status, a.body[:120]) for a in unanswered if a.status != 503][:5],
    )
    assert all(a.retry_after for a in unanswered), "every 503 says when to retry"
    assert all(a.seconds < ANSWER_S for a in down), summary
    first_503 = min(
        a.sent + a.seconds for a in outage.answers if a.sent > outage.down and a.status == 503
    )
    assert first_503 - outage.down < ANSWER_S, summary
    assert outage.same_process, "the same gateway process recovered by itself"


async def test_postgres_stopping_and_starting_never_gives_a_500(postgres_outage):
    """Nothing but the answer with PostgreSQL up (200, or 404 for an unknown player) and 503 at
    any time, while PostgreSQL stops and starts included."""
    outage = postgres_outage
    odd = [
        (a.what, a.status, round(a.sent - outage.stopping, 3), a.body[:160])
        for a in outage.answers
        if a.status not in (UP[a.what], 503)
    ]
    assert not odd, (outage.summary(), odd[:8])


async def test_redis_down_same_answers_only_slower(stack, kit):
    """Redis is killed (SIGKILL), asked without it, then started again on the same port."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=5) as client:
        before = [await ask(client, w) for w in ("predict", "context", "predict", "context")]
        assert all(a.status == 200 for a in before), [(a.status, a.body[:200]) for a in before]
        errors = await kit.metric(stack.url, "statmuse_gateway_cache_total", outcome="error")

        os.kill(stack.redis.pid, signal.SIGKILL)
        await kit.eventually("Redis gone", lambda: not stack.redis.is_running(), deadline_s=5)
        try:
            during = [await ask(client, w) for w in ("predict", "context") * 5]
            failed = await kit.metric(stack.url, "statmuse_gateway_cache_total", outcome="error")
        finally:
            stack.redis = start_redis(stack.root / "redis", port=stack.redis.port)

        for a in during:
            assert a.status == 200, (a.what, a.status, a.body[:200])
            same = next(b for b in before if b.what == a.what)
            assert a.body == same.body, f"{a.what}: the answer changed without Redis"
        assert failed > errors, "the gateway did try Redis (and counted the failures)"
        assert max(a.seconds for a in during) < ANSWER_S

        # Back: same answers, and the cache fills again without a gateway restart.
        redis = Redis.from_url(stack.redis.url)
        try:

            async def cached_again() -> bool:
                answer = await ask(client, "predict")
                assert answer.status == 200
                assert answer.body == before[0].body
                return await redis.dbsize() > 0

            await kit.eventually(
                "the cache used again", cached_again, deadline_s=20, interval_s=0.2
            )
        finally:
            await redis.aclose()
    up = statistics.median(a.seconds for a in before[2:])
    down = statistics.median(a.seconds for a in during)
    log.info("median answer with Redis %.1f ms, without %.1f ms", up * 1000, down * 1000)
