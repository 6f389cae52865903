"""JSON-RPC over HTTP: one request body in, (status, body, headers) out, under the
faults in force (refusals first, then the rate limiter, then each call)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from localnet.errors import INVALID_REQUEST, PARSE_ERROR, RpcError
from localnet.faults import FaultConfig, RateLimiter
from localnet.refusals import HttpReply, call_refusal, rate_limited, request_refusal
from localnet.rpc import RpcMethods
from localnet.stats import Stats

__all__ = ["HttpRpc"]

_MAX_BATCH = 1_000


class HttpRpc:
    """Answers JSON-RPC request bodies (single calls and batches), counting in `stats`."""

    def __init__(
        self, rpc: RpcMethods, stats: Stats, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rpc = rpc
        self._stats = stats
        self._clock = clock
        self.faults = FaultConfig()
        self.limiter: RateLimiter | None = None

    def set_faults(self, faults: FaultConfig) -> None:
        """Answer under `faults` from now; the limiter's windows survive an unchanged limit."""
        self.faults = faults
        limit = faults.rate_limit
        if limit is None:
            self.limiter = None
        elif self.limiter is None or self.limiter.limit != limit:
            self.limiter = RateLimiter(limit, clock=self._clock)

    def answer(self, raw: bytes) -> HttpReply:
        """A refusal of the whole request (413, 410, 429; see localnet.refusals) or 200
        with the answers."""
        try:
            body = json.loads(raw)
        except ValueError:
            self._stats.rpc_errors[PARSE_ERROR] += 1
            return _ok(_error(None, RpcError(PARSE_ERROR, "Parse error: body is not JSON")))
        calls = body if isinstance(body, list) else [body]
        if not calls or len(calls) > _MAX_BATCH:
            self._stats.rpc_errors[INVALID_REQUEST] += 1
            return _ok(_error(None, RpcError(INVALID_REQUEST, f"batch of {len(calls)} calls")))
        methods = [str(c.get("method")) if isinstance(c, dict) else "?" for c in calls]
        refusal = request_refusal(self.faults, calls, methods)
        if refusal is not None:
            return refusal
        if self.limiter is not None and not self.limiter.admit(methods):
            return rate_limited(self.limiter.retry_after(methods), self.limiter.limit.per_s)
        answers = [self._answer_one(c, m) for c, m in zip(calls, methods, strict=True)]
        return _ok(answers if isinstance(body, list) else answers[0])

    def _answer_one(self, call: object, method: str) -> dict[str, Any]:
        rid = call.get("id") if isinstance(call, dict) else None
        self._stats.rpc_calls[method] += 1
        try:
            if not isinstance(call, dict):
                raise RpcError(INVALID_REQUEST, "Invalid request: each call must be an object")
            refused = call_refusal(self.faults, method)
            if refused is not None:
                raise refused
            injected = self.faults.errors.get(method)
            if injected is not None:
                self._consume_injected(method)
                raise RpcError(injected.code, injected.message, injected.error_data())
            return {
                "jsonrpc": "2.0",
                "result": self._rpc.call(call.get("method"), call.get("params")),
                "id": rid,
            }
        except RpcError as exc:
            self._stats.rpc_errors[exc.code] += 1
            return _error(rid, exc)

    def _consume_injected(self, method: str) -> None:
        injected = self.faults.errors[method]
        if injected.count is not None:
            if injected.count <= 1:
                self.faults.errors.pop(method)
            else:
                injected.count -= 1


def _error(rid: object, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": exc.to_json()}


def _ok(body: Any) -> HttpReply:
    return HttpReply(200, body, {})
