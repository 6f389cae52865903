"""Exponential backoff with full jitter, capped (30 s by default).

Full jitter (a uniform draw below the exponential bound) spreads the retries of many
processes that failed together, as after a 429 storm, instead of retrying in step.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """`next_delay()` returns uniform(0, min(cap, base * factor**attempt)), then counts up."""

    def __init__(
        self,
        base: float = 0.5,
        factor: float = 2.0,
        cap: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if base <= 0 or cap <= 0 or factor < 1:
            raise ValueError("backoff needs base > 0, cap > 0 and factor >= 1")
        self.base, self.factor, self.cap = base, factor, cap
        self._rng = rng or random.Random()
        self.attempt = 0

    def bound(self) -> float:
        """The largest delay the next draw can give."""
        # min() before the power would overflow for a large attempt count
        exponent = min(self.attempt, 64)
        return float(min(self.cap, self.base * self.factor**exponent))

    def next_delay(self) -> float:
        delay = self._rng.uniform(0.0, self.bound())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
