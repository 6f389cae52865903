"""Fault injection: what /admin/faults can switch on, and the public-RPC rate limiter.

A fault request is a partial `FaultConfig`: the fields it names replace the current
ones, the others stay. `{"clear": true}` switches everything off; `drop_websockets`
is an action (close every socket now), not a state.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FaultConfig", "FaultRequest", "MethodError", "RateLimit", "RateLimiter"]


class RateLimit(BaseModel):
    """At most `requests` JSON-RPC calls per `per_s` seconds (sliding window), and at
    most `per_method` calls of any one method in the same window (public RPC: 100 and
    40 per 10 s)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(gt=0)
    per_s: float = Field(gt=0, le=3600)
    per_method: int | None = Field(default=None, gt=0)


class MethodError(BaseModel):
    """Answer calls of a method with this JSON-RPC error (the next `count`, or all)."""

    model_config = ConfigDict(extra="forbid")

    code: int = -32603
    message: str = Field(default="Internal error", max_length=500)
    data: dict[str, Any] | None = None
    count: int | None = Field(default=None, gt=0)

    def error_data(self) -> dict[str, Any] | None:
        """Solana's -32005 (node behind) always carries numSlotsBehind; clients parse it."""
        if self.data is None and self.code == -32005:
            return {"numSlotsBehind": 42}
        return self.data


class FaultConfig(BaseModel):
    """The faults in force."""

    model_config = ConfigDict(extra="forbid")

    rate_limit: RateLimit | None = None
    max_connections: int | None = Field(default=None, ge=0)
    latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    refuse_connections: bool = False
    errors: dict[str, MethodError] = Field(default_factory=dict)
    corrupt_accounts: bool = False


class FaultRequest(FaultConfig):
    """A POST /admin/faults body: any subset of FaultConfig, plus the actions."""

    clear: bool = False
    drop_websockets: bool = False

    def merged_into(self, current: FaultConfig) -> FaultConfig:
        base = FaultConfig() if self.clear else current
        named = self.model_fields_set & set(FaultConfig.model_fields)
        return base.model_copy(update={name: getattr(self, name) for name in named})


class RateLimiter:
    """Sliding-window limiter over JSON-RPC calls, overall and per method."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._all: deque[float] = deque()
        self._by_method: dict[str, deque[float]] = {}

    def _trim(self, window: deque[float], now: float) -> None:
        while window and window[0] <= now - self.limit.per_s:
            window.popleft()

    def admit(self, methods: Iterable[str]) -> bool:
        """Admit a request carrying these calls (a batch is admitted whole or not at all)."""
        now = self._clock()
        calls = list(methods)
        self._trim(self._all, now)
        if len(self._all) + len(calls) > self.limit.requests:
            return False
        if self.limit.per_method is not None:
            wanted: dict[str, int] = {}
            for method in calls:
                wanted[method] = wanted.get(method, 0) + 1
            for method, n in wanted.items():
                window = self._by_method.setdefault(method, deque())
                self._trim(window, now)
                if len(window) + n > self.limit.per_method:
                    return False
            for method in calls:
                self._by_method[method].append(now)
        self._all.extend(now for _ in calls)
        return True
