"""How localnet refuses what a provider would: whole HTTP requests, single calls, and
subscriptions, as the faults in force (`FaultConfig`) say.

Whole requests (checked in this order, before the rate limiter, so a refused request
costs no budget): a `getMultipleAccounts` call with more than `max_keys` keys → HTTP 413;
a `getProgramAccounts` call under `gpa_refusal: "http-410"` → HTTP 410 (mainnet's body);
then the rate limiter → HTTP 429 with `Retry-After`. Single calls: `getProgramAccounts`
under `gpa_refusal: "method-not-found"` → JSON-RPC -32601 in an HTTP 200 answer.
Subscriptions: `programSubscribe` under any `gpa_refusal`, and a subscribe past
`max_subscriptions` on its connection → a JSON-RPC error; the socket stays open.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from localnet.errors import INTERNAL_ERROR, METHOD_NOT_FOUND, RpcError
from localnet.faults import FaultConfig

__all__ = [
    "GONE",
    "RATE_LIMITED",
    "RATE_LIMITED_BODY",
    "TOO_LARGE",
    "HttpReply",
    "call_refusal",
    "rate_limited",
    "request_refusal",
    "subscribe_refusal",
]

GPA = "getProgramAccounts"
GMA = "getMultipleAccounts"
GONE = 410
TOO_LARGE = 413
RATE_LIMITED = 429
# api.mainnet-beta.solana.com's answer to a disabled call (getProgramAccounts over a
# large program)
_DISABLED = "The RPC call or parameters have been disabled."
RATE_LIMITED_BODY: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": None,
    "error": {"code": RATE_LIMITED, "message": "Too many requests for a specific RPC call"},
}


class HttpReply(NamedTuple):
    """An HTTP answer: status, JSON body (a refusal's, or the answers) and extra headers."""

    status: int
    body: Any
    headers: dict[str, str]


def request_refusal(
    faults: FaultConfig, calls: Sequence[object], methods: Sequence[str]
) -> HttpReply | None:
    """413 or 410 for the whole request if one of its calls is refused so, else None."""
    if faults.max_keys is not None:
        for call, method in zip(calls, methods, strict=True):
            keys = _keys(call) if method == GMA else 0
            if keys > faults.max_keys:
                message = (
                    f"Request Entity Too Large: {GMA} takes at most {faults.max_keys} keys "
                    f"here, got {keys}"
                )
                return HttpReply(TOO_LARGE, _body(_id(call), TOO_LARGE, message), {})
    if faults.gpa_refusal == "http-410":
        for call, method in zip(calls, methods, strict=True):
            if method == GPA:
                return HttpReply(GONE, _body(_id(call), GONE, _DISABLED), {})
    return None


def rate_limited(retry_after_s: float, per_s: float) -> HttpReply:
    """HTTP 429; `Retry-After` in whole seconds, at least 1, rounded up (a request that
    can never pass, larger than a window, is told to wait one window)."""
    wait = per_s if math.isinf(retry_after_s) else retry_after_s
    seconds = max(1, math.ceil(wait))
    return HttpReply(RATE_LIMITED, RATE_LIMITED_BODY, {"Retry-After": str(seconds)})


def call_refusal(faults: FaultConfig, method: str) -> RpcError | None:
    """The JSON-RPC error refusing one call in an HTTP 200 answer, or None."""
    if method == GPA and faults.gpa_refusal == "method-not-found":
        return RpcError(METHOD_NOT_FOUND, "Method not found")
    return None


def subscribe_refusal(faults: FaultConfig, method: str, subscriptions: int) -> RpcError | None:
    """The JSON-RPC error refusing a subscribe on a connection holding `subscriptions`."""
    if method == "programSubscribe" and faults.gpa_refusal is not None:
        if faults.gpa_refusal == "method-not-found":
            return RpcError(METHOD_NOT_FOUND, "Method not found")
        return RpcError(GONE, _DISABLED)
    cap = faults.max_subscriptions
    if cap is not None and subscriptions >= cap:
        # the code and wording of a validator at its node-wide limit, here per connection
        refused = "Internal Error: Subscription refused."
        message = f"{refused} Subscription limit of {cap} per connection reached"
        return RpcError(INTERNAL_ERROR, message)
    return None


def _keys(call: object) -> int:
    if not isinstance(call, dict):
        return 0
    params = call.get("params")
    if isinstance(params, list) and params and isinstance(params[0], list):
        return len(params[0])
    return 0


def _id(call: object) -> object:
    return call.get("id") if isinstance(call, dict) else None


def _body(rid: object, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": rid}
