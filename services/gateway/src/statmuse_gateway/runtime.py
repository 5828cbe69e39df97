"""The gateway's runtime: everything its handlers, routes and middleware use, built once by
`app.build_runtime`."""

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from faststream import Context
from faststream.kafka.publisher.usecase import DefaultPublisher
from redis.asyncio import Redis

from statmuse_gateway.ports import ApiKeys, ContextCache, PredictionCache, ReadModel
from statmuse_gateway.security.limiter import RateLimiter
from statmuse_gateway.service import Outputs, PlayerNames, RecentVectors
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.features import League
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.runtime import RUNTIME, ServiceRuntime

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class GatewayRuntime(ServiceRuntime[GatewaySettings]):
    service: ClassVar[str] = "gateway"

    book: ModelBook  # the production models served
    # Every team's ratings, from the team box scores any instance stored (`sync_league`).
    league: League
    read_model: ReadModel
    context_cache: ContextCache
    prediction_cache: PredictionCache
    api_keys: ApiKeys
    limiter: RateLimiter
    publish_model_commands: DefaultPublisher  # nba.models.commands.v1
    # The client the caches and the limiter share, closed with the app (None: all are fakes).
    redis: Redis | None = None
    names: PlayerNames = field(default_factory=PlayerNames)
    outputs: Outputs = field(default_factory=Outputs)  # model outputs by (version, vector)
    vectors: RecentVectors = field(default_factory=RecentVectors)  # by cache generation, day
    # The read model's league version the league has caught up to, and when (monotonic).
    league_version: int = field(default=0, init=False)
    league_synced: float = field(default=float("-inf"), init=False)
    _league_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def started(self) -> None:
        await self.sync_league()

    async def sync_league(self, *, max_age_s: float = 0.0) -> None:
        """Fold into the league the team boxes stored since the last sync, by this instance
        or another one (the instances share the box scores' partitions, so each handler sees
        only some), unless the last sync is younger than `max_age_s`. Raises what the read
        model raises."""
        if time.monotonic() - self.league_synced < max_age_s:
            return
        async with self._league_lock:
            if time.monotonic() - self.league_synced < max_age_s:
                return  # another request synced meanwhile
            games, version = await self.read_model.team_games_since(self.league_version)
            for game in games:
                self.league.add(game)
            self.league_version = version
            self.league_synced = time.monotonic()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


# What a handler declares to receive the runtime.
Runtime = Annotated[GatewayRuntime, Context(RUNTIME)]
