"""The store behind each of the client's mirrors (`subscribers.mirror`): entries that
expire with the KV value they copy.

A value written to KV at time `t` with TTL `ttl` is gone from KV at `t + ttl`; the
cache keeps the copy until exactly then, never longer. Reads count hits and misses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["CacheManager", "CacheStats"]

T = TypeVar("T")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    expired: int = 0  # misses because the entry had outlived its TTL


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    value: T
    expires_at: float


class CacheManager(Generic[T]):
    """get / set / delete / values behind an asyncio lock, and is_expired; time from
    `clock` (wall seconds, the same clock as the KV write times)."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.time) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, _Entry[T]] = {}
        self._lock = asyncio.Lock()
        self.stats = CacheStats()

    async def set(self, key: str, value: T, *, written_at: float | None = None) -> None:
        """Store `value`, written to KV at `written_at` (default: now)."""
        written = self._clock() if written_at is None else min(written_at, self._clock())
        async with self._lock:
            self._entries[key] = _Entry(value, written + self.ttl_s)

    async def delete(self, key: str) -> None:
        async with self._lock:
            self._entries.pop(key, None)

    def is_expired(self, key: str, now: float | None = None) -> bool:
        """True if there is no live entry for `key` (absent counts as expired)."""
        entry = self._entries.get(key)
        return entry is None or (self._clock() if now is None else now) >= entry.expires_at

    async def get(self, key: str) -> T | None:
        """The live value, or None (absent or expired: never a stale value)."""
        async with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.stats.misses += 1
                return None
            if self._clock() >= entry.expires_at:
                del self._entries[key]
                self.stats.misses += 1
                self.stats.expired += 1
                return None
            self.stats.hits += 1
            return entry.value

    async def values(self) -> dict[str, T]:
        """Every live entry (no hit/miss counting)."""
        now = self._clock()
        async with self._lock:
            return {k: e.value for k, e in self._entries.items() if now < e.expires_at}
