"""Errors raised by the streamer.

StreamerError
 ├── SourceError         the Drift side failed (RPC error, 429, subscribe failed, feed died)
 │    └── SourceStaleError   the feed went quiet (no slot progress) or driftpy's loop died
 ├── LeaseLostError      this instance is no longer the leader for its network
 └── NotReadyError       asked for data before the DriftClient has any (api 503)

Foreign errors (solana, driftpy, nats) are converted where they enter, with
`raise ... from exc`, so callers handle one tree.
"""

from __future__ import annotations

__all__ = ["LeaseLostError", "NotReadyError", "SourceError", "SourceStaleError", "StreamerError"]


class StreamerError(Exception):
    """Base class of every streamer error."""


class SourceError(StreamerError):
    """The Drift side failed; `kind` names the failure for metrics (rpc_429, rpc, ws, ...)."""

    def __init__(self, message: str, *, kind: str = "rpc") -> None:
        super().__init__(message)
        self.kind = kind


class SourceStaleError(SourceError):
    """The feed stopped moving: no new slot within the watchdog's window."""


class LeaseLostError(StreamerError):
    """The leader lease was lost (expired, or taken by another instance)."""


class NotReadyError(StreamerError):
    """No data yet: the DriftClient is starting or has no value for the market."""
