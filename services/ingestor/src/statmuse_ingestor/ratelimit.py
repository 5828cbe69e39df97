"""Client-side pacing and retry timing for calls to a rate-limited upstream (stats.nba.com).

Both take their clock, sleep and randomness as arguments so tests run on fake time.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Past this the delay is capped anyway; it keeps 2**n from overflowing a float.
_MAX_EXPONENT = 62


class TokenBucket:
    """Allows `rate_per_s` acquisitions per second on average, `burst` at once.

    Thread-safe and first come, first served: each caller reserves the next free slot under the
    lock (the bucket may go into debt), then sleeps outside it until that slot arrives.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate_per_s > 0:
            raise ValueError(f"rate_per_s must be > 0, got {rate_per_s!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.rate_per_s = float(rate_per_s)
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    @classmethod
    def every(
        cls,
        interval_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> "TokenBucket":
        """One acquisition per `interval_s` seconds, no burst."""
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        return cls(1.0 / interval_s, 1, clock=clock, sleep=sleep)

    def acquire(self) -> float:
        """Block until a token is available and take it; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._updated = now
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate_per_s
        if wait > 0:
            self._sleep(wait)
        return wait


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: after failed attempt n (1-based) wait a uniform
    fraction of min(cap_s, base_s * 2**(n-1)). `attempts` counts the first try."""

    attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 30.0
    jitter: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts!r}")
        if self.base_s < 0 or self.cap_s < 0:
            raise ValueError("base_s and cap_s must be >= 0")

    def ceiling(self, attempt: int) -> float:
        """The largest delay after failed attempt `attempt`."""
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, got {attempt!r}")
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt - 1, _MAX_EXPONENT))

    def delay(self, attempt: int) -> float:
        """Seconds to sleep after failed attempt `attempt` before the next one."""
        fraction = min(1.0, max(0.0, self.jitter()))
        return self.ceiling(attempt) * fraction

    def should_retry(self, attempt: int) -> bool:
        """Whether another attempt follows failed attempt `attempt`."""
        return attempt < self.attempts
