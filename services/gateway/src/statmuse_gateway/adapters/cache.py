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
PREDICTION_TTL_S = 3600


def digest(params: dict[str, Any]) -> str:
    """A short stable hash of a request's parameters (sorted, JSON; dates as strings)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:20]


class RedisCache:
    """JSON values under string keys; Redis errors become misses, counted as outcome "error"."""

    name = "cache"

    def __init__(self, redis: Redis | None) -> None:
        self.redis = redis

    async def _get(self, key: str) -> dict[str, Any] | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(key)
        except RedisError as exc:
            log.warning("redis unavailable, %s computed: %s", self.name, exc)
            metrics.CACHE.labels(self.name, "error").inc()
            return None
        metrics.CACHE.labels(self.name, "hit" if raw else "miss").inc()
        return None if raw is None else dict(json.loads(raw))


class ContextCache(RedisCache):
    name = "player_context"

    @staticmethod
    def key(params: dict[str, Any]) -> str:
        """By request (normalised name, date, opponent...): a hit needs no database trip."""
        return f"ctx:{digest(params)}"

    async def get(self, params: dict[str, Any]) -> dict[str, Any] | None:
        return await self._get(self.key(params))

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


class PredictionCache(RedisCache):
    """Predictions by every input and the model version that serves them.

    Keys also carry two generation counters: one for all predictions, bumped on every model
    the gateway applies, and one per player, bumped when the player gets a new feature vector.
    Bumping a counter is one O(1) command that orphans every older key (they expire by TTL);
    the model version in the key means that even a missed bump never serves another model's
    answer."""

    name = "prediction"
    GENERATION = "pred-gen"

    def __init__(self, redis: Redis | None, *, ttl_s: int = PREDICTION_TTL_S) -> None:
        super().__init__(redis)
        self.ttl_s = ttl_s

    def _player_generation(self, player_id: int) -> str:
        return f"{self.GENERATION}:{player_id}"

    async def key(self, *, player_id: int, params: dict[str, Any]) -> str | None:
        """The key for these inputs now, or None when Redis is unavailable (no caching)."""
        if self.redis is None:
            return None
        try:
            overall, player = await self.redis.mget(
                self.GENERATION, self._player_generation(player_id)
            )
        except RedisError as exc:
            log.warning("redis unavailable, prediction computed: %s", exc)
            metrics.CACHE.labels(self.name, "error").inc()
            return None
        generations = f"{int(overall or 0)}.{int(player or 0)}"
        return f"pred:{generations}:{player_id}:{digest(params)}"

    async def get(self, key: str | None) -> dict[str, Any] | None:
        return None if key is None else await self._get(key)

    async def put(self, key: str | None, value: dict[str, Any]) -> None:
        if self.redis is None or key is None:
            return
        try:
            await self.redis.set(key, json.dumps(value, default=str), ex=self.ttl_s)
        except RedisError as exc:
            log.warning("redis unavailable, prediction not cached: %s", exc)

    async def invalidate_all(self) -> bool:
        """Orphan every cached prediction (a model changed); False when Redis is unavailable."""
        if self.redis is None:
            return False
        try:
            await self.redis.incr(self.GENERATION)
        except RedisError as exc:
            # Keys carry the model version, so no other model's answer is served meanwhile.
            log.error("could not invalidate predictions: %s", exc)
            return False
        return True

    async def invalidate_players(self, player_ids: Iterable[int]) -> bool:
        """Orphan the cached predictions of these players (their features changed)."""
        ids = sorted(set(player_ids))
        if self.redis is None or not ids:
            return False
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                # No expiry: a counter that restarted at 0 could revive an old key. One small
                # key per player.
                for player_id in ids:
                    pipe.incr(self._player_generation(player_id))
                await pipe.execute()
        except RedisError as exc:
            log.error("could not invalidate player predictions: %s", exc)
            return False
        return True


def prediction_cache(state: dict[str, Any], *, ttl_s: int) -> PredictionCache:
    """The app's prediction cache: its own when the app made one, else one sharing the context
    cache's Redis client (the app opens a single client in its lifespan)."""
    cache = state.get("prediction_cache")
    if isinstance(cache, PredictionCache):
        return cache
    context: ContextCache = state["context_cache"]
    return PredictionCache(context.redis, ttl_s=ttl_s)
