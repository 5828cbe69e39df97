"""The gateway's runtime: everything its handlers, routes and middleware use, built once by
`app.build_runtime`."""

from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from faststream import Context
from faststream.kafka.publisher.usecase import DefaultPublisher
from redis.asyncio import Redis

from statmuse_gateway.ports import ApiKeys, ContextCache, PredictionCache, ReadModel
from statmuse_gateway.security.limiter import RateLimiter
from statmuse_gateway.service import PlayerNames
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.features import League
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.runtime import RUNTIME, ServiceRuntime


@dataclass(kw_only=True)
class GatewayRuntime(ServiceRuntime[GatewaySettings]):
    service: ClassVar[str] = "gateway"

    book: ModelBook  # the production models served
    league: League  # every team's ratings, from team box scores as they arrive
    read_model: ReadModel
    context_cache: ContextCache
    prediction_cache: PredictionCache
    api_keys: ApiKeys
    limiter: RateLimiter
    publish_model_commands: DefaultPublisher  # nba.models.commands.v1
    # The client the caches and the limiter share, closed with the app (None: all are fakes).
    redis: Redis | None = None
    names: PlayerNames = field(default_factory=PlayerNames)

    async def started(self) -> None:
        for game in await self.read_model.team_games():
            self.league.add(game)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


# What a handler declares to receive the runtime.
Runtime = Annotated[GatewayRuntime, Context(RUNTIME)]
