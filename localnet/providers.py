"""RPC provider profiles: named presets of fault fields, as /admin/faults takes them.

`{"provider": "capped"}` starts the faults over from that profile (every other field
off); fields named in the same request override the profile's. Each profile resembles
a kind of provider, not one provider's exact numbers (except `public`, whose limits
Solana publishes); docs/LOCALNET.md "Provider profiles" says which.

This module is data only (no localnet imports): `localnet.faults` validates a profile
into a `FaultConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["PROVIDERS"]

_PROFILES: dict[str, dict[str, Any]] = {
    # api.mainnet-beta.solana.com: 100 requests / 10 s per IP, 40 / 10 s for any one
    # method, 40 concurrent connections (localnet counts websockets only).
    "public": {
        "rate_limit": {"requests": 100, "per_s": 10, "per_method": 40},
        "max_connections": 40,
    },
    # getProgramAccounts disabled (HTTP 410, or -32601 with "method-not-found");
    # programSubscribe refused on the websocket.
    "no-gpa": {"gpa_refusal": "http-410"},
    # getMultipleAccounts with more than `max_keys` keys: HTTP 413 for the request.
    "capped": {"max_keys": 5},
    # A free tier: 10 requests/s, 2/s each for the two heavy account methods; 429
    # answers carry Retry-After.
    "strict-429": {
        "rate_limit": {
            "requests": 10,
            "per_s": 1,
            "methods": {"getProgramAccounts": 2, "getMultipleAccounts": 2},
        }
    },
    # Websockets recycled after `ws_lifetime_s`; at most `max_subscriptions` each.
    "ws-churn": {"ws_lifetime_s": 60, "max_subscriptions": 100},
}

PROVIDERS: Mapping[str, Mapping[str, Any]] = MappingProxyType(_PROFILES)
