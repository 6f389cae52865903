"""Stable pseudo-random draws: the same name and key give the same value on every run.

Market profiles (spreads, open interest, MM oracle modes, spot rates) are drawn from
the market's symbol, so a preset always starts the same without any global RNG state.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["Draws"]

T = TypeVar("T")
_SCALE = float(1 << 64)


class Draws:
    """Independent stable draws for one name (e.g. a market symbol), keyed by purpose."""

    def __init__(self, name: str) -> None:
        self.name = name

    def unit(self, key: str) -> float:
        """A number in [0, 1), fixed for (name, key)."""
        digest = hashlib.blake2b(f"{self.name}/{key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") / _SCALE

    def uniform(self, key: str, low: float, high: float) -> float:
        return low + (high - low) * self.unit(key)

    def log_uniform(self, key: str, low: float, high: float) -> float:
        """Uniform in log space between two positive bounds (magnitudes: volumes, sizes)."""
        return math.exp(self.uniform(key, math.log(low), math.log(high)))

    def integer(self, key: str, low: int, high: int) -> int:
        """An integer in [low, high], both included."""
        return low + min(int(self.unit(key) * (high - low + 1)), high - low)

    def chance(self, key: str, probability: float) -> bool:
        return self.unit(key) < probability

    def choice(self, key: str, options: Sequence[T]) -> T:
        return options[min(int(self.unit(key) * len(options)), len(options) - 1)]

    def weighted(self, key: str, options: Sequence[tuple[T, float]]) -> T:
        """One of `options` ((value, weight) pairs) with probability in proportion to weight."""
        total = sum(w for _, w in options)
        point = self.unit(key) * total
        for value, weight in options:
            point -= weight
            if point < 0:
                return value
        return options[-1][0]
