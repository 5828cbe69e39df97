"""The rate limiter's counters in Redis (`WindowCounter`): one command per count, shared by
every gateway process that uses the same Redis. (Why a script of ours and not the `limits`
package: see `security.limiter`.)"""

from redis.asyncio import Redis
from redis.exceptions import RedisError

from statmuse_gateway.adapters.cache import Script
from statmuse_gateway.ports import CounterUnavailableError

# INCR and, for a new window, EXPIRE, atomically in one command (a MULTI/EXEC pipeline took
# four commands to say the same).
_COUNT = Script(
    """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
)


class RedisWindowCounter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def count(self, key: str, expire_s: int) -> int:
        try:
            return int(await _COUNT(self.redis, [key], [expire_s]))
        except (RedisError, OSError) as exc:
            raise CounterUnavailableError(str(exc)) from exc
