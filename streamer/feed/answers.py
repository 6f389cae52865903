"""What a Solana RPC answers, read strictly: accounts, context slots, JSON-RPC errors,
Retry-After and 413 hints, each as a value or a `SourceError` with a kind."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import httpx

from streamer.errors import SourceError

__all__ = [
    "RawAccount",
    "Retry",
    "RpcRefused",
    "TooLarge",
    "account",
    "cap_hint",
    "context",
    "retry_after",
    "rpc_error",
    "text",
]

_RETRIED_CODES = {-32005, -32016, -32004, -32014}  # node behind, minContextSlot, slot skipped


class RpcRefused(SourceError):
    """The provider does not serve this method or these parameters (410, -32601)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="refused")


class TooLarge(Exception):
    """HTTP 413 for a request: the caller splits it. `text` is the answer's body."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


_CAP_HINT = re.compile(r"(?:at most|max(?:imum)?|limit(?: is)?|up to)\D{0,20}(\d+)", re.I)


def cap_hint(text: str, sent: int) -> int | None:
    """A key limit the 413's text states ("at most 5 keys"), when below what was sent."""
    match = _CAP_HINT.search(text)
    if match is None:
        return None
    cap = int(match.group(1))
    return cap if 1 <= cap < sent else None


@dataclass(frozen=True, slots=True)
class RawAccount:
    """An account as the RPC returned it."""

    data: bytes
    owner: str
    lamports: int
    executable: bool
    rent_epoch: int
    space: int


def account(value: Any) -> RawAccount | None:
    if value is None:
        return None
    try:
        encoded, encoding = value["data"]
        if encoding != "base64":
            raise ValueError(f"encoding {encoding!r}")
        data = base64.b64decode(encoded, validate=True)
        return RawAccount(
            data=data,
            owner=str(value["owner"]),
            lamports=int(value["lamports"]),
            executable=bool(value["executable"]),
            rent_epoch=int(value.get("rentEpoch", 0)),
            space=int(value.get("space", len(data))),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        message = f"RPC returned a malformed account: {exc!r}"[:200]
        raise SourceError(message, kind="decode") from exc


class Retry(Exception):
    def __init__(self, error: SourceError, after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.after = after


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds; dates are not used by RPCs)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), 300.0)


def text(response: httpx.Response) -> str:
    return response.text[:120].replace("\n", " ")


def rpc_error(method: str, error: Any) -> Exception:
    code = error.get("code") if isinstance(error, dict) else None
    message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
    text = f"{method}: JSON-RPC error {code}: {message[:160]}"
    if code == -32601 or code == 410:
        return RpcRefused(text)
    if code == 429 or "too many requests" in message.lower():
        return Retry(SourceError(text, kind="rpc_429"))
    if code in _RETRIED_CODES:
        return Retry(SourceError(text, kind="rpc"))
    return SourceError(text, kind="rpc")


def context(result: Any, method: str) -> tuple[int, Any]:
    try:
        slot = result["context"]["slot"]
        value = result["value"]
    except (KeyError, TypeError) as exc:
        raise SourceError(f"{method} answered without context and value", kind="rpc") from exc
    if not isinstance(slot, int):
        raise SourceError(f"{method} answered a non-integer slot", kind="rpc")
    return slot, value
