"""Counters that /admin/stats reports: what the RPC was asked and how it answered."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stats"]


@dataclass
class Stats:
    """Request, status and websocket counters since start (or the last reset)."""

    started: float = field(default_factory=time.monotonic)
    http_requests: int = 0
    rpc_calls: Counter[str] = field(default_factory=Counter)  # batch elements each count
    ws_calls: Counter[str] = field(default_factory=Counter)
    http_status: Counter[int] = field(default_factory=Counter)
    rpc_errors: Counter[int] = field(default_factory=Counter)  # JSON-RPC error codes sent
    notifications: Counter[str] = field(default_factory=Counter)
    ws_connections_total: int = 0
    ws_refused: int = 0
    ws_closed_lifetime: int = 0  # closed by the server at ws_lifetime_s
    subscriptions_refused: Counter[str] = field(default_factory=Counter)  # by method

    def reset(self) -> None:
        fresh = Stats()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def to_json(self, *, open_ws: int, subscriptions: dict[str, int], slot: int) -> dict[str, Any]:
        return {
            "uptime_s": round(time.monotonic() - self.started, 3),
            "slot": slot,
            "http_requests": self.http_requests,
            "requests_per_method": dict(self.rpc_calls),
            "rpc_calls": sum(self.rpc_calls.values()),
            "ws_requests_per_method": dict(self.ws_calls),
            "http_status": {str(k): v for k, v in sorted(self.http_status.items())},
            "rate_limited": self.http_status[429],
            "rpc_errors": {str(k): v for k, v in sorted(self.rpc_errors.items())},
            "notifications": dict(self.notifications),
            "ws_connections_open": open_ws,
            "ws_connections_total": self.ws_connections_total,
            "ws_refused": self.ws_refused,
            "ws_closed_lifetime": self.ws_closed_lifetime,
            "subscriptions_refused": dict(self.subscriptions_refused),
            "subscriptions": subscriptions,
            "subscriptions_active": sum(subscriptions.values()),
        }
