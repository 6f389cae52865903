"""The engine library: Drift market data from NATS, typed, async, without driftpy.

```python
async with DriftStreamClient("mainnet", name="funding-engine") as client:
    sol = await client.funding("SOL-PERP")          # local mirror: no round trip
    usdc = await client.spot("USDC")                # spot markets too
    async for update in client.watch_funding():     # last values first, then live
        ...
```

Entering registers the engine's presence (the streamer starts its DriftClient for the
first consumer) under its engine token, the connection's NATS user, else `name`
(`subscribers.identity`), and starts one mirror per data bucket: funding, prices, markets, spot
(`subscribers.mirror_set`; each a `subscribers.mirror`: the last values from a KV
snapshot, then the bucket's republished subject, reloaded after a reconnect or a
value the leader's beat says was missed, `subscribers.gaps`). Every read
is served from the mirrors, and a value that expired in KV is gone from the mirror too.
A value that fails validation is logged and skipped. Requests to the streamer's api are
`request_*` (`subscribers.api_requests`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from nats.aio.client import Client
from nats.aio.subscription import Subscription
from nats.errors import SlowConsumerError

from schemas import (
    FundingRate,
    MarketList,
    MarketSnapshot,
    SpotMarketSnapshot,
)
from schemas.buckets import CONSUMERS_BUCKET, bucket_specs
from schemas.subjects import Network
from subscribers.api import ApiError
from subscribers.api_requests import ApiRequests
from subscribers.cache import CacheStats
from subscribers.connection import ErrorLog, connect
from subscribers.gaps import GapWatch
from subscribers.identity import engine_of, presence_subject, register
from subscribers.mirror import Accepted, Mirror, MirrorCounts
from subscribers.mirror_set import build_mirrors, open_buckets, perp_key, spot_key
from subscribers.presence import Presence
from subscribers.watches import Watches

__all__ = ["Accepted", "ApiError", "ClientStats", "DriftStreamClient"]

log = logging.getLogger("drift_stream.client")


@dataclass
class ClientStats:
    """Mirror hits and misses per bucket, updates received, values skipped, and reloads
    of a mirror that missed a live value (`subscribers.gaps`)."""

    cache: dict[str, CacheStats]
    updates: int
    invalid: int
    stale_epoch: int
    gap_reloads: int = 0


class DriftStreamClient(ApiRequests, Watches):
    """Drift funding, perp and spot market data for one network; an async context
    manager, used once. `engine` is the token of its presence key once connected."""

    def __init__(
        self,
        network: Network = "mainnet",
        *,
        nats_url: str = "nats://127.0.0.1:4222",
        name: str = "engine",
        consumer_id: str | None = None,
        presence_ttl_s: float = 15.0,
        funding_ttl_s: float = 30.0,
        price_ttl_s: float = 10.0,
        markets_ttl_s: float = 60.0,
        spot_ttl_s: float = 30.0,
        request_timeout_s: float = 2.0,
        nc: Client | None = None,
        tap: Callable[[Accepted], None] | None = None,
    ) -> None:
        self.network = network
        self._first_tap = tap  # told of every value from the first load on
        self.name = name
        self.engine: str | None = None
        self.consumer_id = (
            consumer_id or f"{name}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        )
        self._nats_url = nats_url
        self._nc = nc
        self._own_nc = nc is None
        self._closing = False
        self._errors = ErrorLog(log, f"client {self.consumer_id}")
        self._specs = bucket_specs(
            funding_ttl=funding_ttl_s,
            price_ttl=price_ttl_s,
            markets_ttl=markets_ttl_s,
            spot_ttl=spot_ttl_s,
            presence_ttl=presence_ttl_s,
        )
        self._presence_ttl = presence_ttl_s
        self._timeout = request_timeout_s
        self._presence: Presence | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._funding: Mirror[FundingRate] | None = None
        self._prices: Mirror[MarketSnapshot] | None = None
        self._markets: Mirror[MarketList] | None = None
        self._spot: Mirror[SpotMarketSnapshot] | None = None  # None: no drift_spot bucket
        self._counts = MirrorCounts()
        self._gaps = GapWatch(network, self._mirrors, self._callers_reconnects)
        self._gap_sub: Subscription | None = None
        self.reconnects = 0
        self._opened = False

    # -- lifecycle -----------------------------------------------------------------
    async def __aenter__(self) -> DriftStreamClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self, *, initial_timeout_s: float = 5.0) -> None:
        """Connect, register presence, and load the last values into the mirrors.

        AuthenticationError if NATS refuses the credentials (not retried), its subclass
        EngineIdentityError if the NATS user may not write this engine's presence key;
        an unreachable NATS is retried until it answers. A failed connect closes what it
        opened."""
        if self._opened:
            raise RuntimeError("a DriftStreamClient can be connected only once")
        self._opened = True
        try:
            await self._connect(initial_timeout_s)
        except BaseException:
            await self.close()
            raise

    async def _connect(self, initial_timeout_s: float) -> None:
        if self._nc is None:
            self._nc = await connect(
                self._nats_url,
                name=f"drift-stream {self.name}",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                # a dead link (a partition: no error, only silence) is noticed in about
                # 12 s, not nats-py's 6 minutes, so the client moves to another node
                ping_interval=4,
                max_outstanding_pings=2,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
            self._errors.connected()
        kvs, ttls = await open_buckets(self._nc.jetstream(), self._specs, self.network)
        self.engine = engine_of(self._nc, self.name)
        presence = Presence(
            kvs[CONSUMERS_BUCKET],
            self.network,
            self.consumer_id,
            self.name,
            ttl_s=ttls[CONSUMERS_BUCKET],
            engine=self.engine,
        )
        refused = self._errors.refusal(presence_subject(presence))
        await register(self._nc, presence, refused)
        self._presence = presence
        self._funding, self._prices, self._markets, self._spot = build_mirrors(
            kvs, ttls, self._nc, self.network, self._counts
        )
        mirrors = self._mirrors()
        if self._first_tap is not None:
            for mirror in mirrors:
                mirror.taps.add(self._first_tap)
        self._tasks = [
            asyncio.create_task(m.run(), name=f"mirror {m.model.__name__}") for m in mirrors
        ]
        self._gap_sub = await self._gaps.subscribe(self._nc)
        # Last values first: wait (briefly) for the mirrors' first loads.
        await asyncio.wait(
            [asyncio.create_task(m.loaded.wait()) for m in mirrors], timeout=initial_timeout_s
        )
        log.info(
            "client %s connected to %s",
            self.consumer_id,
            self.network,
            extra={"network": self.network, "consumer_id": self.consumer_id},
        )

    async def _on_disconnected(self) -> None:
        level = logging.INFO if self._closing else logging.WARNING  # close(), or lost
        log.log(level, "client %s: NATS disconnected", self.consumer_id)

    async def _on_reconnected(self) -> None:
        """Reload the last values: what changed while disconnected was not delivered."""
        self._errors.connected()
        log.info("client %s: NATS reconnected, reloading last values", self.consumer_id)
        self.reconnects += 1
        self._reload()

    def _callers_reconnects(self) -> int:
        """Reconnects of a connection the caller gave (ours reload by callback)."""
        return 0 if self._own_nc or self._nc is None else int(self._nc.stats["reconnects"])

    def _mirrors(self) -> list[Mirror[Any]]:
        mirrors = (self._funding, self._prices, self._markets, self._spot)
        return [m for m in mirrors if m is not None]

    def _reload(self) -> None:
        for mirror in self._mirrors():
            mirror.reload.set()

    async def _on_error(self, exc: Exception) -> None:
        await self._errors(exc)  # a permissions violation once per subject, and so on
        if isinstance(exc, SlowConsumerError):  # messages were dropped: reload
            self._reload()

    async def close(self) -> None:
        """Release presence (the streamer may stop its DriftClient) and disconnect."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # bounded: a task stuck in a library must not hold up close
            await asyncio.wait(self._tasks, timeout=5)
        self._tasks = []
        if self._gap_sub is not None:
            with contextlib.suppress(Exception):
                await self._gap_sub.unsubscribe()
            self._gap_sub = None
        if self._presence is not None:
            await self._presence.__aexit__(None, None, None)
            self._presence = None
        if self._own_nc and self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    # -- reads (from the mirrors) --------------------------------------------------
    async def _perp_key(self, market: str | int) -> str | None:
        assert self._markets is not None, "connect() first"
        return await perp_key(self._markets, market)

    async def funding(self, market: str | int) -> FundingRate | None:
        """The last FundingRate of a market (symbol or index); None if unknown or expired."""
        assert self._funding is not None, "connect() first"
        key = await self._perp_key(market)
        return None if key is None else await self._funding.cache.get(key)

    async def funding_all(self) -> dict[str, FundingRate]:
        """Every market's live FundingRate, by symbol."""
        assert self._funding is not None, "connect() first"
        return {v.symbol: v for v in (await self._funding.cache.values()).values()}

    async def market(self, market: str | int) -> MarketSnapshot | None:
        """The last MarketSnapshot of a market; None if unknown or expired."""
        assert self._prices is not None, "connect() first"
        key = await self._perp_key(market)
        return None if key is None else await self._prices.cache.get(key)

    async def markets(self) -> MarketList | None:
        """The market list; None before the streamer published one (or if it expired)."""
        assert self._markets is not None, "connect() first"
        return await self._markets.cache.get(self.network)

    async def spot(self, market: str | int) -> SpotMarketSnapshot | None:
        """The last SpotMarketSnapshot of a spot market, by symbol in any case (`USDC`,
        `wbtc`) or index; None if unknown or expired."""
        mirror = self._spot_mirror()
        key = None if mirror is None else await spot_key(mirror, market)
        return None if mirror is None or key is None else await mirror.cache.get(key)

    async def spots(self) -> dict[str, SpotMarketSnapshot]:
        """Every spot market's live snapshot, by symbol (case as on chain)."""
        mirror = self._spot_mirror()
        if mirror is None:
            return {}
        return {v.symbol: v for v in (await mirror.cache.values()).values()}

    def _spot_mirror(self) -> Mirror[SpotMarketSnapshot] | None:
        assert self._funding is not None, "connect() first"
        return self._spot

    @property
    def stats(self) -> ClientStats:
        return ClientStats(
            cache={m.bucket: m.cache.stats for m in self._mirrors()},
            updates=self._counts.updates,
            invalid=self._counts.invalid,
            stale_epoch=self._counts.stale_epoch,
            gap_reloads=self._gaps.reloads,
        )
