"""Fault injection: what /admin/faults can switch on, and the public-RPC rate limiter.

A fault request is a partial `FaultConfig`: the fields it names replace the current
ones, the others stay. `{"provider": NAME}` starts over from that provider profile
(`localnet.providers`) and then applies the fields named beside it; `{"clear": true}`
switches everything off; `drop_websockets` is an action (close every socket now), not
a state.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator

from localnet.providers import PROVIDERS

__all__ = [
    "FaultConfig",
    "FaultRequest",
    "GpaRefusal",
    "MethodError",
    "RateLimit",
    "RateLimiter",
    "provider_faults",
]

GpaRefusal = Literal["http-410", "method-not-found"]


class RateLimit(BaseModel):
    """At most `requests` JSON-RPC calls per `per_s` seconds (sliding window), at most
    `per_method` calls of any one method in the same window (public RPC: 100 and 40 per
    10 s), and at most `methods[name]` calls of a named method (in place of `per_method`
    for that one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(gt=0)
    per_s: float = Field(gt=0, le=3600)
    per_method: int | None = Field(default=None, gt=0)
    methods: dict[str, PositiveInt] = Field(default_factory=dict, max_length=100)

    def method_cap(self, method: str) -> int | None:
        """The most calls of `method` one window admits (None: only `requests` bounds it)."""
        return self.methods.get(method, self.per_method)


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
    """The faults in force; `provider` names the profile they started from, if any."""

    model_config = ConfigDict(extra="forbid")

    provider: str | None = None
    rate_limit: RateLimit | None = None
    max_connections: int | None = Field(default=None, ge=0)
    latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    refuse_connections: bool = False
    errors: dict[str, MethodError] = Field(default_factory=dict)
    corrupt_accounts: bool = False
    # provider refusals (localnet.refusals)
    gpa_refusal: GpaRefusal | None = None
    max_keys: int | None = Field(default=None, ge=1)
    ws_lifetime_s: float | None = Field(default=None, gt=0, le=86_400)
    max_subscriptions: int | None = Field(default=None, ge=0)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, name: str | None) -> str | None:
        if name is not None and name not in PROVIDERS:
            raise ValueError(f"unknown provider {name!r}: one of {', '.join(PROVIDERS)}")
        return name


def provider_faults(name: str) -> FaultConfig:
    """The faults of provider profile `name` (ValueError naming the choices if unknown)."""
    if name not in PROVIDERS:
        raise ValueError(f"unknown provider {name!r}: one of {', '.join(PROVIDERS)}")
    return FaultConfig.model_validate({**PROVIDERS[name], "provider": name})


class FaultRequest(FaultConfig):
    """A POST /admin/faults body: any subset of FaultConfig, plus the actions."""

    clear: bool = False
    drop_websockets: bool = False

    def merged_into(self, current: FaultConfig) -> FaultConfig:
        """The faults after this request: named fields over the profile, the cleared or
        the current faults (in that order of precedence for the base)."""
        if self.provider is not None:
            base = provider_faults(self.provider)
        else:
            base = FaultConfig() if self.clear else current
        named = self.model_fields_set & set(FaultConfig.model_fields) - {"provider"}
        return base.model_copy(update={name: getattr(self, name) for name in named})


class RateLimiter:
    """Sliding-window limiter over JSON-RPC calls, overall and per method."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._all: deque[float] = deque()
        self._by_method: dict[str, deque[float]] = {}

    def admit(self, methods: Iterable[str]) -> bool:
        """Admit a request carrying these calls (a batch is admitted whole or not at all)."""
        now = self._clock()
        calls = list(methods)
        if self._wait(calls, now) > 0:
            return False
        self._all.extend(now for _ in calls)
        for method in calls:
            if self.limit.method_cap(method) is not None:
                self._by_method.setdefault(method, deque()).append(now)
        return True

    def retry_after(self, methods: Iterable[str]) -> float:
        """Seconds from now until `admit(methods)` would succeed, if nothing else is
        admitted meanwhile: 0 if it would now, `math.inf` if never (more calls than a
        window holds)."""
        return self._wait(list(methods), self._clock())

    def _wait(self, calls: Sequence[str], now: float) -> float:
        waits = [self._window_wait(self._all, len(calls), self.limit.requests, now)]
        for method, n in Counter(calls).items():
            cap = self.limit.method_cap(method)
            if cap is not None:
                window = self._by_method.get(method, deque())
                waits.append(self._window_wait(window, n, cap, now))
        return max(waits)

    def _window_wait(self, window: deque[float], n: int, cap: int, now: float) -> float:
        """How long until `window` has room for `n` more calls."""
        per_s = self.limit.per_s
        while window and window[0] <= now - per_s:
            window.popleft()
        excess = len(window) + n - cap
        if excess <= 0:
            return 0.0
        if n > cap:
            return math.inf
        expires = window[excess - 1]  # the call that must leave the window first
        wait = max(expires + per_s - now, 0.0)
        # float rounding: make sure that at now + wait the trim above drops it
        while expires > (now + wait) - per_s:
            wait = math.nextafter(wait, math.inf)
        return wait
