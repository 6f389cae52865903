"""A JSON-RPC client that gets along with any Solana RPC provider.

Every request is paced (`streamer.feed.pacing`) under the provider's limits. An HTTP
429 holds all requests back for its `Retry-After` (or a capped, jittered backoff when
it names none) and is retried; so are timeouts, connection failures, 5xx and "node
behind" answers, up to `max_attempts`. A wait longer than `max_wait_s` is not waited
inline but raised, for the caller's own backoff (the streamer's supervisor).
`getMultipleAccounts` is sent in chunks of at most `max_keys` keys; a provider that
answers HTTP 413 teaches the client its cap: the limit its answer states, else half
the chunk, until a chunk passes; later calls use that size. A method the provider
refuses (HTTP 410, JSON-RPC -32601) raises `RpcRefused` at once. Errors are
`SourceError`s with a kind; the URL is only ever shown redacted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from streamer.backoff import Backoff
from streamer.errors import SourceError
from streamer.feed.answers import (
    RawAccount,
    Retry,
    RpcRefused,
    TooLarge,
    account,
    cap_hint,
    context,
    retry_after,
    rpc_error,
    text,
)
from streamer.feed.pacing import Pacer, PacingConfig

__all__ = ["RawAccount", "RpcClient", "RpcRefused", "RpcStats"]

log = logging.getLogger("drift_stream.rpc")
_REFUSED_STATUS = {401, 403, 404, 405, 410}


@dataclass(slots=True)
class RpcStats:
    requests: int = 0  # HTTP requests sent
    retries: int = 0
    rate_limited: int = 0  # HTTP 429 answers
    too_large: int = 0  # HTTP 413 answers


class RpcClient:
    """Paced, retrying JSON-RPC over one HTTP connection pool; an async context manager."""

    def __init__(
        self,
        url: str,
        *,
        pacing: PacingConfig | None = None,
        max_keys: int = 100,
        timeout_s: float = 15.0,
        max_attempts: int = 6,
        backoff_cap_s: float = 30.0,
        max_wait_s: float = 10.0,
    ) -> None:
        if not 1 <= max_keys <= 1000:
            raise ValueError("max_keys must be between 1 and 1000")
        self.url = url
        self.pacer = Pacer(pacing)
        self.max_keys = max_keys
        self.stats = RpcStats()
        self._max_attempts = max(1, max_attempts)
        self._backoff_cap = backoff_cap_s
        self._max_wait = max_wait_s
        self._http = httpx.AsyncClient(timeout=timeout_s, limits=httpx.Limits(max_connections=4))
        self._id = 0

    async def __aenter__(self) -> RpcClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # -- one call ----------------------------------------------------------------------
    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        """The call's `result`; SourceError (or RpcRefused) once retries are spent."""
        backoff = Backoff(base=0.25, cap=self._backoff_cap)
        last: SourceError | None = None
        for attempt in range(self._max_attempts):
            if attempt:
                self.stats.retries += 1
            try:
                return await self._once(method, params or [])
            except Retry as retry:
                last = retry.error
                wait = retry.after if retry.after is not None else backoff.next_delay()
                self.pacer.hold(wait)
                if wait > self._max_wait:  # the caller's own backoff takes it from here
                    raise SourceError(
                        f"{retry.error} (retry after {wait:.0f} s)", kind=retry.error.kind
                    ) from None
                log.info(
                    "%s: %s; retrying in %.2f s (attempt %d of %d)",
                    method,
                    retry.error,
                    wait,
                    attempt + 1,
                    self._max_attempts,
                    extra={"method": method, "kind": retry.error.kind},
                )
        assert last is not None
        raise last

    async def _once(self, method: str, params: list[Any]) -> Any:
        await self.pacer.acquire(method)
        self._id += 1
        body = {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}
        self.stats.requests += 1
        try:
            response = await self._http.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise Retry(SourceError(f"{method} timed out", kind="timeout")) from exc
        except httpx.TransportError as exc:
            error = SourceError(f"RPC connection failed: {type(exc).__name__}", kind="rpc")
            raise Retry(error) from exc
        status = response.status_code
        if status == 429:
            self.stats.rate_limited += 1
            error = SourceError("RPC answered HTTP 429", kind="rpc_429")
            raise Retry(error, retry_after(response.headers.get("retry-after")))
        if status == 413:
            self.stats.too_large += 1
            raise TooLarge(response.text[:500])
        if status in _REFUSED_STATUS:
            raise RpcRefused(f"{method} refused: HTTP {status} {text(response)}")
        if status >= 500:
            raise Retry(SourceError(f"RPC answered HTTP {status}", kind="rpc"))
        if status != 200:
            raise SourceError(f"{method}: HTTP {status} {text(response)}", kind="rpc")
        try:
            answer = response.json()
        except ValueError as exc:
            raise Retry(SourceError(f"{method}: the answer is not JSON", kind="rpc")) from exc
        if not isinstance(answer, dict):
            raise SourceError(f"{method}: the answer is not a JSON-RPC object", kind="rpc")
        failure = answer.get("error")
        if failure is not None:
            raise rpc_error(method, failure)
        if "result" not in answer:
            raise SourceError(f"{method}: the answer has no result", kind="rpc")
        return answer["result"]

    # -- accounts ----------------------------------------------------------------------
    async def get_slot(self) -> int:
        slot = await self.call("getSlot", [{"commitment": "confirmed"}])
        if not isinstance(slot, int):
            raise SourceError(f"getSlot returned {slot!r}", kind="rpc")
        return slot

    async def get_multiple(
        self, keys: Sequence[str], *, min_context_slot: int | None = None
    ) -> dict[str, tuple[RawAccount | None, int]]:
        """Every key's account (None where none exists) and the context slot it was
        read at. Batches after the first ask for `minContextSlot` = the newest slot
        seen so far, so no batch is read from an older state than one before it."""
        accounts: dict[str, tuple[RawAccount | None, int]] = {}
        floor = min_context_slot
        pending = list(dict.fromkeys(keys))
        while pending:
            chunk = pending[: self.max_keys]
            config: dict[str, Any] = {"encoding": "base64", "commitment": "confirmed"}
            if floor is not None:
                config["minContextSlot"] = floor
            try:
                result = await self.call("getMultipleAccounts", [chunk, config])
            except TooLarge as refused:
                if len(chunk) == 1:
                    raise SourceError("getMultipleAccounts of one key was too large") from None
                self.max_keys = cap_hint(refused.text, len(chunk)) or max(1, len(chunk) // 2)
                log.warning(
                    "the RPC caps getMultipleAccounts below %d keys: now %d a call",
                    len(chunk),
                    self.max_keys,
                    extra={"max_keys": self.max_keys},
                )
                continue
            slot, values = context(result, "getMultipleAccounts")
            if not isinstance(values, list) or len(values) != len(chunk):
                raise SourceError("getMultipleAccounts answered the wrong number of accounts")
            for key, value in zip(chunk, values, strict=True):
                accounts[key] = (account(value), slot)
            floor = slot if floor is None else max(floor, slot)
            pending = pending[len(chunk) :]
        return accounts

    async def get_account(self, key: str) -> tuple[RawAccount | None, int]:
        result = await self.call("getAccountInfo", [key, {"encoding": "base64"}])
        slot, value = context(result, "getAccountInfo")
        return account(value), slot
