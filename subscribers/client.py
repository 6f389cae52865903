"""The engine library: Drift market data from NATS, typed, async, without driftpy.

```python
async with DriftStreamClient("mainnet", name="funding-engine") as client:
    sol = await client.funding("SOL-PERP")          # local mirror: no round trip
    usdc = await client.spot("USDC")                # spot markets too
    async for update in client.watch_funding():     # last values first, then live
        ...
```

Entering registers the engine's presence (the streamer starts its DriftClient for the
first consumer) and starts one mirror per bucket (`subscribers.mirror`: the last values,
then the bucket's republished subject); every read is served from the mirror, and a
value that expired in KV is gone from the mirror too. A value that fails validation is
logged and skipped. Requests to the streamer's api are `request_*` (`subscribers.api`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import SlowConsumerError
from nats.js.kv import KeyValue

from schemas import (
    FundingRate,
    MarketList,
    MarketModel,
    MarketSnapshot,
    ReconnectResult,
    SpotMarketSnapshot,
    StreamerStatus,
    funding_wildcard,
    market_wildcard,
    markets_subject,
    spot_wildcard,
    validate_spot_symbol,
    validate_symbol,
)
from schemas.buckets import (
    CONSUMERS_BUCKET,
    FUNDING_BUCKET,
    MARKETS_BUCKET,
    PRICES_BUCKET,
    SPOT_BUCKET,
    bucket_specs,
)
from schemas.errors import SchemaError
from schemas.models.base import SchemaModel
from schemas.subjects import Endpoint, Network
from subscribers.api import ApiError, request
from subscribers.buckets import BucketUnavailableError, ensure_bucket
from subscribers.cache import CacheStats
from subscribers.connection import server_list
from subscribers.mirror import Mirror, MirrorCounts
from subscribers.presence import Presence

__all__ = ["ApiError", "ClientStats", "DriftStreamClient"]

log = logging.getLogger("drift_stream.client")
M = TypeVar("M", bound=SchemaModel)
W = TypeVar("W", bound=MarketModel)
_MAX_INDEX_DIGITS = 6  # market indexes are u16; int() refuses thousands of digits


@dataclass
class ClientStats:
    """Mirror hits and misses per bucket, updates received, values skipped."""

    cache: dict[str, CacheStats]
    updates: int
    invalid: int
    stale_epoch: int


class DriftStreamClient:
    """Drift funding, perp and spot market data for one network; an async context
    manager, used once."""

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
    ) -> None:
        self.network = network
        self.name = name
        self.consumer_id = (
            consumer_id or f"{name}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        )
        self._nats_url = nats_url
        self._nc = nc
        self._own_nc = nc is None
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
        """Connect, register presence, and load the last values into the mirror."""
        if self._opened:
            raise RuntimeError("a DriftStreamClient can be connected only once")
        self._opened = True
        if self._nc is None:
            self._nc = await nats.connect(
                server_list(self._nats_url),
                name=f"drift-stream {self.name}",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
        js = self._nc.jetstream()
        kvs = {
            name: await ensure_bucket(js, spec)
            for name, spec in self._specs.items()
            if name in (FUNDING_BUCKET, PRICES_BUCKET, MARKETS_BUCKET, CONSUMERS_BUCKET)
        }
        try:
            kvs[SPOT_BUCKET] = await ensure_bucket(js, self._specs[SPOT_BUCKET])
        except BucketUnavailableError as exc:  # a streamer older than spot markets
            log.warning("no spot markets: %s", exc, extra={"network": self.network})
        # A bucket that already exists keeps its creator's TTLs: heartbeat and expire
        # by what the buckets really do, not by what this client asked for.
        ttls = {name: await _bucket_ttl(kv, self._ttl(name)) for name, kv in kvs.items()}
        self._presence = Presence(
            kvs[CONSUMERS_BUCKET],
            self.network,
            self.consumer_id,
            self.name,
            ttl_s=ttls[CONSUMERS_BUCKET],
        )
        await self._presence.__aenter__()
        net, nc, counts = self.network, self._nc, self._counts
        self._funding = Mirror(
            kvs[FUNDING_BUCKET],
            nc,
            funding_wildcard(net),
            net,
            FundingRate,
            ttls[FUNDING_BUCKET],
            counts,
        )
        self._prices = Mirror(
            kvs[PRICES_BUCKET],
            nc,
            market_wildcard(net),
            net,
            MarketSnapshot,
            ttls[PRICES_BUCKET],
            counts,
        )
        self._markets = Mirror(
            kvs[MARKETS_BUCKET],
            nc,
            markets_subject(net),
            net,
            MarketList,
            ttls[MARKETS_BUCKET],
            counts,
        )
        if SPOT_BUCKET in kvs:
            self._spot = Mirror(
                kvs[SPOT_BUCKET],
                nc,
                spot_wildcard(net),
                net,
                SpotMarketSnapshot,
                ttls[SPOT_BUCKET],
                counts,
            )
        mirrors = self._mirrors()
        self._tasks = [
            asyncio.create_task(m.run(), name=f"mirror {m.model.__name__}") for m in mirrors
        ]
        # Last values first: wait (briefly) for the watches' initial values.
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
        log.warning("client %s: NATS disconnected", self.consumer_id)

    async def _on_reconnected(self) -> None:
        """Reload the last values: what changed while disconnected was not delivered."""
        log.info("client %s: NATS reconnected, reloading last values", self.consumer_id)
        self.reconnects += 1
        self._reload()

    def _mirrors(self) -> list[Mirror[Any]]:
        mirrors = (self._funding, self._prices, self._markets, self._spot)
        return [m for m in mirrors if m is not None]

    def _reload(self) -> None:
        for mirror in self._mirrors():
            mirror.reload.set()

    async def _on_error(self, exc: Exception) -> None:
        log.warning("client %s: NATS: %r", self.consumer_id, exc)
        if isinstance(exc, SlowConsumerError):  # messages were dropped: reload
            self._reload()

    def _ttl(self, bucket: str) -> float:
        ttl = self._specs[bucket].ttl_s
        assert ttl is not None
        return ttl

    async def close(self) -> None:
        """Release presence (the streamer may stop its DriftClient) and disconnect."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # bounded: a task stuck in a library must not hold up close
            await asyncio.wait(self._tasks, timeout=5)
        self._tasks = []
        if self._presence is not None:
            await self._presence.__aexit__(None, None, None)
            self._presence = None
        if self._own_nc and self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    # -- reads (from the mirror) ---------------------------------------------------
    def _key(self, symbol: str) -> str:
        return f"{self.network}.{validate_symbol(symbol)}"

    async def _symbol(self, market: str | int) -> str | None:
        if isinstance(market, int) or (isinstance(market, str) and market.isdigit()):
            listing = await self.markets()  # ("①".isdigit() holds: get() sorts it out)
            info = listing.get(market) if listing is not None else None
            return None if info is None else info.symbol
        try:
            return validate_symbol(market)
        except (SchemaError, ValueError):
            return None

    async def funding(self, market: str | int) -> FundingRate | None:
        """The last FundingRate of a market (symbol or index); None if unknown or expired."""
        assert self._funding is not None, "connect() first"
        symbol = await self._symbol(market)
        return None if symbol is None else await self._funding.cache.get(self._key(symbol))

    async def funding_all(self) -> dict[str, FundingRate]:
        """Every market's live FundingRate, by symbol."""
        assert self._funding is not None, "connect() first"
        return {v.symbol: v for v in (await self._funding.cache.values()).values()}

    async def market(self, market: str | int) -> MarketSnapshot | None:
        """The last MarketSnapshot of a market; None if unknown or expired."""
        assert self._prices is not None, "connect() first"
        symbol = await self._symbol(market)
        return None if symbol is None else await self._prices.cache.get(self._key(symbol))

    async def markets(self) -> MarketList | None:
        """The market list; None before the streamer published one (or if it expired)."""
        assert self._markets is not None, "connect() first"
        return await self._markets.cache.get(self.network)

    async def spot(self, market: str | int) -> SpotMarketSnapshot | None:
        """The last SpotMarketSnapshot of a spot market, by symbol in any case (`USDC`,
        `wbtc`) or index; None if unknown or expired."""
        mirror = self._spot_mirror()
        key = None if mirror is None else await self._spot_key(mirror, market)
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

    async def _spot_key(self, mirror: Mirror[SpotMarketSnapshot], market: str | int) -> str | None:
        """The mirror's key of a spot symbol (any case) or index; None if malformed."""
        if isinstance(market, str) and market.isascii() and market.isdigit():
            if len(market) > _MAX_INDEX_DIGITS:
                return None
            market = int(market)
        if isinstance(market, bool):
            return None
        if isinstance(market, int):
            values = (await mirror.cache.values()).items()
            return next((key for key, v in values if v.market_index == market), None)
        try:
            symbol = validate_spot_symbol(market)
        except (SchemaError, ValueError):
            return None
        return mirror.resolve(f"{self.network}.{symbol}")

    async def watch_funding(
        self, symbols: Iterable[str] | None = None
    ) -> AsyncGenerator[FundingRate, None]:
        """Last values first, then every update, without a gap (no extra NATS consumer:
        the mirror's one watch feeds every watcher in this process)."""
        assert self._funding is not None, "connect() first"
        wanted = None if symbols is None else {validate_symbol(s) for s in symbols}
        async for value in _watch(self._funding, lambda v: wanted is None or v.symbol in wanted):
            yield value

    async def watch_market(
        self, symbols: Iterable[str] | None = None
    ) -> AsyncGenerator[MarketSnapshot, None]:
        """MarketSnapshots as `watch_funding` gives funding: last values first, then every
        update."""
        assert self._prices is not None, "connect() first"
        wanted = None if symbols is None else {validate_symbol(s) for s in symbols}
        async for value in _watch(self._prices, lambda v: wanted is None or v.symbol in wanted):
            yield value

    async def watch_spot(
        self, symbols: Iterable[str] | None = None
    ) -> AsyncGenerator[SpotMarketSnapshot, None]:
        """Spot market snapshots as `watch_funding` gives funding: last values first, then
        every update; `symbols` match in any case. BucketUnavailableError if the streamer
        predates spot markets (no drift_spot bucket)."""
        mirror = self._spot_mirror()
        if mirror is None:
            raise BucketUnavailableError(f"bucket {SPOT_BUCKET} does not exist")
        wanted = None if symbols is None else {validate_spot_symbol(s).upper() for s in symbols}
        async for value in _watch(mirror, lambda v: wanted is None or v.symbol.upper() in wanted):
            yield value

    @property
    def stats(self) -> ClientStats:
        return ClientStats(
            cache={m.bucket: m.cache.stats for m in self._mirrors()},
            updates=self._counts.updates,
            invalid=self._counts.invalid,
            stale_epoch=self._counts.stale_epoch,
        )

    # -- api requests (to the streamer) --------------------------------------------
    async def _request(self, endpoint: Endpoint, model: type[M], payload: bytes = b"") -> M:
        assert self._nc is not None, "connect() first"
        return await request(
            self._nc, self.network, endpoint, model, payload, timeout_s=self._timeout
        )

    async def request_status(self) -> StreamerStatus:
        return await self._request("status", StreamerStatus)

    async def request_markets(self) -> MarketList:
        return await self._request("markets", MarketList)

    async def request_funding(self, market: str | int) -> FundingRate:
        return await self._request("funding", FundingRate, str(market).encode())

    async def request_spot(self, market: str | int) -> SpotMarketSnapshot:
        return await self._request("spot", SpotMarketSnapshot, str(market).encode())

    async def request_reconnect(self) -> ReconnectResult:
        return await self._request("reconnect", ReconnectResult)


async def _bucket_ttl(kv: KeyValue, default: float) -> float:
    try:
        ttl = (await kv.status()).ttl
    except Exception:  # status is best effort: fall back to the configured TTL
        return default
    return float(ttl) if ttl else default


async def _watch(mirror: Mirror[W], wanted: Callable[[W], bool]) -> AsyncGenerator[W, None]:
    """A mirror's wanted values: the live ones by market index, then every update."""
    queue: asyncio.Queue[W] = asyncio.Queue()
    mirror.listeners.add(queue)  # before the snapshot: nothing falls between
    try:
        for value in sorted((await mirror.cache.values()).values(), key=lambda v: v.market_index):
            if wanted(value):
                yield value
        while True:
            value = await queue.get()
            if wanted(value):
                yield value
    finally:
        mirror.listeners.discard(queue)
