"""Errors raised by the engine library.

DriftStreamError
 ├── AuthenticationError     NATS refused the credentials at connect (not retried)
 │    └── EngineIdentityError   the connection's NATS user may not write this engine's
 │                              presence keys (`subscribers.identity`)
 ├── ApiError                an error reply from the streamer's api (400, 404, 503)
 └── BucketUnavailableError  a bucket is missing and this connection may not create it
                             (also a RuntimeError, as it always was)

nats-py's errors are converted where they enter (`subscribers.connection.connect`),
with `raise ... from exc`.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BucketUnavailableError",
    "DriftStreamError",
    "EngineIdentityError",
]


class DriftStreamError(Exception):
    """Base class of every engine-library error."""


class AuthenticationError(DriftStreamError):
    """NATS refused the user or password (or token) of `url`; `url` has its secrets
    hidden. Retrying cannot help: the credentials must change."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"NATS at {url} refused the credentials: {reason}")
        self.url = url
        self.reason = reason


class EngineIdentityError(AuthenticationError):
    """The connection's NATS user may not write this engine's presence keys (NATS
    refused the key, or the user's name cannot be a key token). Raised by `connect()`;
    retrying cannot help: connect as the engine's own user. `url` has its secrets hidden."""

    def __init__(self, url: str, message: str) -> None:
        DriftStreamError.__init__(self, message)
        self.url = url
        self.reason = message


class ApiError(DriftStreamError):
    """An error reply from the streamer's api (400, 404, 503)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class BucketUnavailableError(DriftStreamError, RuntimeError):
    """A bucket is missing and this connection may not create it."""
