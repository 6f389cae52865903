"""Client-side pacing: stay under a provider's request limits instead of hitting them.

`Pacer` spaces requests at least 1/`rate` seconds apart overall and 1/`method_rate`
apart for each method. No bursts: a provider counting requests in a sliding window of
any length then never sees more than the rates allow. Every request is also held back
until a `Retry-After` the provider sent has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Pacer", "PacingConfig"]


@dataclass(frozen=True, slots=True)
class PacingConfig:
    """Requests per second, overall and per method (Solana's public RPC: 10 and 4;
    strict free tiers: 10 and 2 for the heavy reads). The defaults stay under both,
    with room for the jitter between our clock and the provider's window."""

    rate: float = 8.0
    method_rate: float = 1.5

    def __post_init__(self) -> None:
        if not (0 < self.rate <= 10_000 and 0 < self.method_rate <= 10_000):
            raise ValueError("pacing rates must be between 0 and 10000 per second")


class _Bucket:
    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = 1.0
        self.tokens = self.capacity
        self.at = now

    def wait_for(self, now: float) -> float:
        """Seconds until one token is there (0: there is one now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / self.rate


class Pacer:
    """Spaces requests under `PacingConfig`'s rates and a provider's Retry-After."""

    def __init__(
        self, config: PacingConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or PacingConfig()
        self._clock = clock
        self._all = _Bucket(self.config.rate, clock())
        self._methods: dict[str, _Bucket] = {}
        self._hold_until = 0.0
        self._lock = asyncio.Lock()
        self.waited_s = 0.0  # total time requests were held back

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (a provider's Retry-After)."""
        self._hold_until = max(self._hold_until, self._clock() + max(0.0, seconds))

    def delay(self, method: str) -> float:
        """Seconds to wait before a `method` request may go (0: now)."""
        now = self._clock()
        bucket = self._methods.get(method)
        if bucket is None:
            bucket = self._methods[method] = _Bucket(self.config.method_rate, now)
        held = self._hold_until - now
        return max(held if held > 1e-9 else 0.0, self._all.wait_for(now), bucket.wait_for(now))

    def take(self, method: str) -> None:
        """Spend one request of `method` (after `delay` said 0)."""
        self._all.tokens -= 1
        self._methods[method].tokens -= 1

    async def acquire(self, method: str) -> None:
        """Wait until a `method` request may go, and spend it. Requests go in order."""
        async with self._lock:
            while (wait := self.delay(method)) > 0:
                self.waited_s += wait
                await asyncio.sleep(wait)
            self.take(method)
