"""Client-side pacing and retry timing for calls to a rate-limited upstream (stats.nba.com).

Retries are tenacity's: `RetryPolicy` is the configuration (attempts, base, cap, jitter) and
gives tenacity its `stop` and `wait`; the client (`nba_api_client`) runs the attempts.

Pacing stays a small token bucket of our own. The nba_api client is synchronous and runs in
worker threads (`asyncio.to_thread`), so it needs a blocking, thread-safe limiter:
- aiolimiter does not fit: its `acquire` is a coroutine on one event loop; a worker thread
  would have to hop back onto the loop for every call.
- pyrate-limiter (4.x) fits that model (a blocking `try_acquire`, thread-safe, a GCRA token
  bucket with a burst), but it sleeps with `time.sleep` imported into its own module (its
  clock can be injected, its sleep cannot: tests would sleep for real or patch the library's
  module globals), it starts a background "Leaker" daemon thread per limiter, a waiting caller
  sleeps outside its lock and then races for the slot (a later caller can take it, so it is
  not first come, first served), and an acquisition costs about ten times as much (8 µs
  against 0.8 µs here).
The bucket below is forty lines with its clock and sleep injected.

Both take their clock, sleep and randomness as arguments so tests run on fake time.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_exponential
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_random_exponential


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


class FullJitter(wait_random_exponential):
    """tenacity's full-jitter exponential backoff (`wait_random_exponential`: a uniform share
    of min(max, multiplier * 2**(n-1)) after failed attempt n) with the share drawn from
    `fraction` instead of the `random` module, so tests can fix it."""

    def __init__(self, *, multiplier: float, max: float, fraction: Callable[[], float]) -> None:
        super().__init__(multiplier=multiplier, max=max)
        self.fraction = fraction

    def __call__(self, retry_state: RetryCallState) -> float:
        ceiling = wait_exponential.__call__(self, retry_state)
        return ceiling * min(1.0, max(0.0, self.fraction()))


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

    @property
    def stop(self) -> stop_base:
        """tenacity's stop: after `attempts` tries."""
        return stop_after_attempt(self.attempts)

    @property
    def wait(self) -> wait_base:
        """tenacity's wait between tries."""
        return FullJitter(multiplier=self.base_s, max=self.cap_s, fraction=self.jitter)

    def ceiling(self, attempt: int) -> float:
        """The largest delay after failed attempt `attempt`."""
        return wait_exponential(multiplier=self.base_s, max=self.cap_s)(_after(attempt))

    def delay(self, attempt: int) -> float:
        """Seconds to sleep after failed attempt `attempt` before the next one."""
        return self.wait(_after(attempt))

    def should_retry(self, attempt: int) -> bool:
        """Whether another attempt follows failed attempt `attempt`."""
        return not self.stop(_after(attempt))


def _after(attempt: int) -> RetryCallState:
    """tenacity's view of a call whose attempt number `attempt` has just failed."""
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt!r}")
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    return state
