"""What the streamer depends on from the Drift side: `MarketSource` and its values.

`streamer.source.DriftSource` implements it over any Solana RPC provider (our own
transport; our decoder or driftpy's, `DecoderName`); `streamer.driftpy_source.DriftpySource`
over a driftpy `DriftClient` (the adapter's legacy path). Unit tests may use a fake.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Literal, Protocol

from streamer.state import MarketState, SpotState

__all__ = ["DecoderName", "MarketSource", "SourceHealth", "SourceMode", "SourceSnapshot"]

DecoderName = Literal["own", "anchorpy"]
"""Which decoder turns market account bytes into values (`streamer.decoders`)."""


class SourceMode(enum.StrEnum):
    WEBSOCKET = "websocket"
    POLLING = "polling"


@dataclass(frozen=True, slots=True)
class SourceHealth:
    running: bool
    last_slot: int | None
    slot_age_s: float | None
    polling_alive: bool | None
    markets: int
    ws_reconnects: int  # times a websocket had to reconnect (an outage, a recycled socket)
    skipped: tuple[str, ...] = ()  # markets State counts that are missing on chain
    unpriced: tuple[str, ...] = ()  # markets published without prices: oracle missing
    problem: str | None = None  # a configuration error (unknown names in DRIFT_MARKETS)
    rpc_requests: int = 0  # HTTP requests sent to the RPC
    rpc_rate_limited: int = 0  # HTTP 429 answers received


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    slot: int
    markets: tuple[MarketState, ...]
    spots: tuple[SpotState, ...] = ()


class MarketSource(Protocol):
    """What the streamer needs from the Drift side."""

    changed: asyncio.Event  # set when an account update arrived (may never be set)

    async def prepare(self) -> None:
        """Read ahead what makes `start` fast, subscribing to nothing (a standby's warm
        feed); SourceError on failure. A source may do nothing here."""
        ...

    async def start(self) -> None:
        """Subscribe (one attempt); SourceError on failure, leaving nothing open."""
        ...

    async def stop(self) -> None:
        """Unsubscribe and close the RPC client and every websocket; never raises."""
        ...

    async def refetch(self) -> None:
        """Read every account again (driftpy refetches nothing after a ws outage)."""
        ...

    async def snapshot(self, now: int) -> SourceSnapshot:
        """Every perp market, decoded; NotReadyError before start()."""
        ...

    def health(self) -> SourceHealth: ...

    def check(self) -> None:
        """SourceStaleError if the feed went quiet or driftpy's polling loop died."""
        ...
