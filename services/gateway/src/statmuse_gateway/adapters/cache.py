"""Redis caches for the gateway. A cache, never a store: any Redis error is a miss (or a
skipped write), so with Redis down every answer stays correct, only slower."""

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

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

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def _get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = await self.redis.get(key)
        except RedisError as exc:
            log.warning("redis unavailable, %s computed: %s", self.name, exc)
            metrics.CACHE.labels(self.name, "error").inc()
            return None
        metrics.CACHE.labels(self.name, "hit" if raw else "miss").inc()
        return None if raw is None else dict(json.loads(raw))


class RedisContextCache(RedisCache):
    name = "player_context"

    @staticmethod
    def key(params: dict[str, Any]) -> str:
        """By request (normalised name, date, opponent...): a hit needs no database trip."""
        return f"ctx:{digest(params)}"

    async def get(self, params: dict[str, Any]) -> dict[str, Any] | None:
        return await self._get(self.key(params))

    async def put(self, player_id: int, params: dict[str, Any], value: dict[str, Any]) -> None:
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


# One round trip for a whole lookup: both generation counters and the entries they name are
# read inside Redis (from here that was a MGET, then a GET per entry).
# KEYS: the overall counter, then each prediction's player counter. ARGV: each prediction's
# "<player_id>:<digest>". Returns the key and the entry (nil when absent) of each prediction.
# The entry keys are built in the script, so this needs a single Redis (not a cluster), as the
# gateway uses.
_LOOKUP = """
local overall = redis.call('GET', KEYS[1]) or '0'
local out = {}
for i = 2, #KEYS do
  local key = 'pred:' .. overall .. '.' .. (redis.call('GET', KEYS[i]) or '0') .. ':'
    .. ARGV[i - 1]
  out[#out + 1] = key
  out[#out + 1] = redis.call('GET', key) or false
end
return out
"""


class Script:
    """A Lua script run by its SHA1 (EVALSHA), sent whole (EVAL) only when Redis has not seen
    it yet (after a restart or SCRIPT FLUSH): one command, so one round trip."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()  # how Redis names a script

    async def __call__(self, redis: Redis, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await redis.eval(self.text, len(keys), *keys, *args)


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode()


class RedisPredictionCache(RedisCache):
    """Predictions by every input and the model version that serves them, stored as the JSON
    bytes sent to the client (a hit is sent as it is, neither parsed nor validated again).

    Keys also carry two generation counters: one for all predictions, bumped on every model
    the gateway applies, and one per player, bumped when the player gets a new feature vector.
    Bumping a counter is one O(1) command that orphans every older key (they expire by TTL);
    the model version in the key means that even a missed bump never serves another model's
    answer. Counters and entries are read together, in one round trip (`lookup`)."""

    name = "prediction"
    GENERATION = "pred-gen"
    _lookup = Script(_LOOKUP)

    def __init__(self, redis: Redis, *, ttl_s: int = PREDICTION_TTL_S) -> None:
        super().__init__(redis)
        self.ttl_s = ttl_s

    def _player_generation(self, player_id: int) -> str:
        return f"{self.GENERATION}:{player_id}"

    async def lookup(
        self, wanted: Sequence[tuple[int, dict[str, Any]]]
    ) -> list[tuple[str | None, bytes | None]]:
        """(key, cached JSON or None) for each (player_id, params): the key names the entry
        for these inputs now (under the current generations), for `put` after a miss. Keys
        are None when Redis is unavailable (nothing is cached then)."""
        if not wanted:
            return []
        keys = [self.GENERATION, *(self._player_generation(pid) for pid, _ in wanted)]
        args = [f"{pid}:{digest(params)}" for pid, params in wanted]
        try:
            found = await self._lookup(self.redis, keys, args)
        except (RedisError, OSError) as exc:
            log.warning("redis unavailable, prediction computed: %s", exc)
            metrics.CACHE.labels(self.name, "error").inc()
            return [(None, None)] * len(wanted)
        entries: list[tuple[str | None, bytes | None]] = [
            (_text(found[i]), found[i + 1]) for i in range(0, len(found), 2)
        ]
        hits = sum(raw is not None for _, raw in entries)
        if hits:
            metrics.CACHE.labels(self.name, "hit").inc(hits)
        if hits < len(entries):
            metrics.CACHE.labels(self.name, "miss").inc(len(entries) - hits)
        return entries

    async def put(self, entries: Sequence[tuple[str | None, bytes]]) -> None:
        """Store (key, JSON) pairs in one round trip; pairs without a key are skipped."""
        keyed = [(key, raw) for key, raw in entries if key is not None]
        if not keyed:
            return
        try:
            if len(keyed) == 1:
                await self.redis.set(keyed[0][0], keyed[0][1], ex=self.ttl_s)
                return
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, raw in keyed:
                    pipe.set(key, raw, ex=self.ttl_s)
                await pipe.execute()
        except RedisError as exc:
            log.warning("redis unavailable, prediction not cached: %s", exc)

    async def invalidate_all(self) -> bool:
        """Orphan every cached prediction (a model changed); False when Redis is unavailable."""
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
        if not ids:
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
