"""Foreign errors of the Drift side (httpx, solana-py, websockets, driftpy's bare
ValueErrors) converted into `SourceError`s with a kind, where they enter."""

from __future__ import annotations

import httpx
from solana.exceptions import SolanaRpcException
from solana.rpc.core import RPCException

from streamer.errors import SourceError

__all__ = ["classify"]


def classify(exc: BaseException) -> SourceError:
    """A foreign error as a SourceError with its kind (the cause is kept by the caller)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, httpx.HTTPStatusError):
            status = cause.response.status_code
            kind = "rpc_429" if status == 429 else "rpc"
            return SourceError(f"RPC answered HTTP {status}", kind=kind)
        if isinstance(cause, TimeoutError | httpx.TimeoutException):
            return SourceError("RPC timed out", kind="timeout")
        if isinstance(cause, RPCException):
            return SourceError(f"RPC error: {str(cause)[:200]}", kind="rpc")
        if isinstance(cause, httpx.TransportError | ConnectionError | OSError):
            return SourceError(f"RPC connection failed: {type(cause).__name__}", kind="rpc")
        cause = cause.__cause__ or cause.__context__
    # driftpy reports failed RPC reads as a bare ValueError carrying the RPC's message
    text = str(exc)
    if "429" in text or "too many requests" in text.lower():
        return SourceError(f"RPC rate limit: {text[:200]}", kind="rpc_429")
    if text.startswith("Error fetching"):
        return SourceError(f"RPC error: {text[:200]}", kind="rpc")
    if isinstance(exc, SolanaRpcException):
        return SourceError(exc.error_msg[:200], kind="rpc")
    if type(exc).__module__.startswith("websockets"):
        return SourceError(f"websocket failed: {type(exc).__name__}", kind="ws")
    if isinstance(exc, KeyError | ValueError | AttributeError | TypeError | IndexError):
        return SourceError(
            f"could not decode an account: {type(exc).__name__}: {exc}"[:200], kind="decode"
        )
    return SourceError(f"{type(exc).__name__}: {str(exc)[:200]}", kind="rpc")
