"""Redis caches for the gateway. A cache, never a store: any Redis error is a miss (or a
skipped write), so with Redis down every answer stays correct, only slower."""

import hashlib
import json
import logging
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from statmuse_gateway import metrics

log = logging.getLogger(__name__)
PLAYER_CONTEXT_TTL_S = 6 * 3600


class ContextCache:
    def __init__(self, redis: Redis | None) -> None:
        self.redis = redis

    @staticmethod
    def key(params: dict[str, Any]) -> str:
        """By request (normalised name, date, opponent...): a hit needs no database trip."""
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:20]
        return f"ctx:{digest}"

    async def get(self, params: dict[str, Any]) -> dict[str, Any] | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(self.key(params))
        except RedisError as exc:
            log.warning("redis unavailable, computing context: %s", exc)
            metrics.CACHE.labels("player_context", "error").inc()
            return None
        metrics.CACHE.labels("player_context", "hit" if raw else "miss").inc()
        return None if raw is None else dict(json.loads(raw))

    async def put(self, player_id: int, params: dict[str, Any], value: dict[str, Any]) -> None:
        if self.redis is None:
            return
        key = self.key(params)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(key, json.dumps(value), ex=PLAYER_CONTEXT_TTL_S)
                # The player's index of cached keys, so a new game drops exactly these.
                pipe.sadd(f"ctx-keys:{player_id}", key)
                pipe.expire(f"ctx-keys:{player_id}", PLAYER_CONTEXT_TTL_S)
                await pipe.execute()
        except RedisError as exc:
            log.warning("redis unavailable, context not cached: %s", exc)

    async def invalidate(self, player_ids: Iterable[int]) -> int:
        """Drop the cached context of exactly these players; returns keys removed."""
        if self.redis is None:
            return 0
        removed = 0
        try:
            for player_id in player_ids:
                index = f"ctx-keys:{player_id}"
                keys = await self.redis.smembers(index)
                if keys:
                    removed += await self.redis.delete(*keys, index)
        except RedisError as exc:
            # Stale entries then live until their TTL; say so loudly.
            log.error("could not invalidate player context: %s", exc)
        return removed
