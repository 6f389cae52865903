"""Models of the streamer's control side: status, presence, service replies."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated

from pydantic import Field, StrictBool

from schemas.models.base import Envelope, SchemaModel, WireModel
from schemas.models.fields import U64, ConsumerId, NonNegFloat
from schemas.subjects import Network

__all__ = [
    "ConsumerPresence",
    "ErrorCode",
    "ErrorReply",
    "ReconnectResult",
    "StreamerState",
    "StreamerStatus",
]


class StreamerState(StrEnum):
    """Lifecycle state of one streamer instance."""

    STANDBY = "standby"
    """Not the leader: another instance holds the lease."""
    IDLE = "idle"
    """Leader with no consumers: no DriftClient."""
    STARTING = "starting"
    """Leader, DriftClient subscribing."""
    RUNNING = "running"
    """Leader, feed live."""
    DEGRADED = "degraded"
    """Leader, feed stale or failing; retrying."""
    STOPPING = "stopping"
    """Closing the DriftClient (grace period over, or shutdown)."""


class StreamerStatus(WireModel):
    """Health of a streamer instance, on `drift.<net>.status` and `drift.<net>.api.status`."""

    state: StreamerState
    instance_id: str
    leader: str | None = None
    """Instance id of the current leader, if known."""
    epoch: U64
    """Lease revision held by the leader."""
    consumers: U64
    """Live consumer presence keys for this network."""
    markets: U64
    """Perp markets being streamed."""
    spot_markets: U64 = 0
    """Spot markets being streamed."""
    feed_age_s: NonNegFloat | None = None
    """Seconds since the last account update from the RPC feed; None before any."""
    last_slot: U64 | None = None
    """Latest slot seen on the feed; None before any."""
    reconnects: U64 = 0
    rpc_errors: U64 = 0
    last_error: str | None = None
    markets_skipped: list[str] = Field(default_factory=list)
    """Markets State counts that are missing on chain (e.g. `perp 5`), not streamed."""
    unpriced_markets: list[str] = Field(default_factory=list)
    """Markets published without prices: their oracle account is missing."""
    config_error: str | None = None
    """A configuration problem, e.g. DRIFT_MARKETS names that match no market."""
    rpc_requests: U64 = 0
    """HTTP requests sent to the RPC by the running feed."""
    rpc_rate_limited: U64 = 0
    """HTTP 429 answers the running feed received (each honoured, then retried)."""
    version: str


class ConsumerPresence(SchemaModel):
    """A consumer's heartbeat value under `drift_consumers.<net>.<engine>.<consumer_id>`
    (engines of the previous release: `<net>.<consumer_id>`).

    Only `consumer_id` and `name` are required (the design's minimum); the streamer counts
    keys without parsing values, so a value it cannot parse still counts.
    """

    v: Annotated[int, Field(strict=True, ge=1)] = 1
    consumer_id: ConsumerId
    name: str
    network: Network | None = None
    pid: U64 | None = None
    host: str | None = None
    started_ts: NonNegFloat | None = None
    """Unix seconds when the consumer registered."""
    ts: NonNegFloat | None = None
    """Unix seconds of this heartbeat."""


class ReconnectResult(Envelope):
    """Reply of `drift.<net>.api.reconnect`: whether the DriftClient came back, and how fast."""

    ok: StrictBool
    took_ms: NonNegFloat
    error: str | None = None


class ErrorCode(IntEnum):
    """Error codes of the service (micro convention, HTTP-like)."""

    BAD_REQUEST = 400
    NOT_FOUND = 404
    """Unknown market."""
    NOT_READY = 503
    """No DriftClient or no data yet, or not the leader."""


class ErrorReply(SchemaModel):
    """Body of an error reply: `{"code": ..., "error": ...}` (headers carry the same)."""

    code: Annotated[int, Field(strict=True, ge=100, le=999)]
    error: str
