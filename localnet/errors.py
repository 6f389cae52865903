"""Errors raised by localnet.

LocalnetError
 ├── RpcError          a JSON-RPC call that gets an error answer (bad params, unknown method)
 ├── EncodingError     an account could not be encoded so that driftpy decodes it exactly
 ├── AdminError        an /admin/ request that cannot be applied (unknown market, bad field)
 └── SnapshotError     a snapshot folder that cannot be served (the message names the file)
"""

from __future__ import annotations

__all__ = ["AdminError", "EncodingError", "LocalnetError", "RpcError", "SnapshotError"]

# JSON-RPC 2.0 error codes, as a Solana node uses them.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
MIN_CONTEXT_SLOT_NOT_REACHED = -32016


class LocalnetError(Exception):
    """Base class of every localnet error."""


class RpcError(LocalnetError):
    """A JSON-RPC error answer: carries the code and message sent to the client."""

    def __init__(self, code: int, message: str, data: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


class EncodingError(LocalnetError):
    """An account value that cannot be encoded faithfully."""


class AdminError(LocalnetError):
    """An admin request that names an unknown market or an invalid field."""


class SnapshotError(LocalnetError):
    """A snapshot folder that cannot be served: missing, malformed or inconsistent.

    The message names the file and the problem; nothing of the folder is loaded.
    """
