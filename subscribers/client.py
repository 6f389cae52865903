"""The engine library: Drift market data from NATS, typed, async, without driftpy.

```python
async with DriftStreamClient("mainnet", name="funding-engine") as client:
    sol = await client.funding("SOL-PERP")          # local mirror: no round trip
    async for update in client.watch_funding():     # last values first, then live
        ...
```

Entering registers the engine's presence (the streamer starts its DriftClient for the
first consumer) and starts one wildcard KV watch per bucket, which feeds a local
last-value mirror; every read is served from the mirror, and a value that expired in
KV is gone from the mirror too. A value that fails validation is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

import nats
from nats.aio.client import Client
from nats.js.kv import KeyValue

from schemas import (
    ErrorReply,
    FundingRate,
    MarketList,
    MarketSnapshot,
    ReconnectResult,
    StreamerStatus,
    api_subject,
    decode,
    validate_symbol,
)
from schemas.buckets import (
    CONSUMERS_BUCKET,
    FUNDING_BUCKET,
    MARKETS_BUCKET,
    PRICES_BUCKET,
    bucket_specs,
)
from schemas.errors import SchemaError
from schemas.models.base import SchemaModel
from schemas.subjects import Endpoint, Network
from subscribers.buckets import ensure_bucket
from subscribers.cache import CacheManager, CacheStats
from subscribers.connection import server_list
from subscribers.presence import Presence

__all__ = ["ApiError", "ClientStats", "DriftStreamClient"]

log = logging.getLogger("drift_stream.client")
M = TypeVar("M", bound=SchemaModel)


class ApiError(Exception):
    """An error reply from the streamer's api (400, 404, 503)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class ClientStats:
    """Mirror hits and misses per bucket, updates received, values skipped."""

    cache: dict[str, CacheStats]
    updates: int
    invalid: int
    stale_epoch: int


class _Mirror(Generic[M]):
    """One bucket's wildcard watch into a CacheManager, with listeners for live updates."""

    def __init__(
        self, kv: KeyValue, network: Network, model: type[M], ttl_s: float, owner: DriftStreamClient
    ) -> None:
        self.kv, self.network, self.model = kv, network, model
        self.cache: CacheManager[M] = CacheManager(ttl_s)
        self.listeners: set[asyncio.Queue[M]] = set()
        self.loaded = asyncio.Event()
        self.rewatch = asyncio.Event()
        self._owner = owner
        self._epochs: dict[str, int] = {}

    async def run(self) -> None:
        """Watch until cancelled; a new watch after a NATS reconnect (`rewatch`), since
        nats-py notices a lost ordered consumer only after missed heartbeats, if ever."""
        pattern = f"{self.network}.*" if self.model is not MarketList else self.network
        while True:
            self.rewatch.clear()
            try:
                watcher = await self.kv.watch(pattern)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS down: try again shortly
                log.warning("KV watch on %s failed, re-creating: %r", self.kv._name, exc)
                await asyncio.sleep(0.5)
                continue
            consume = asyncio.create_task(self._consume(watcher))
            rewatch = asyncio.create_task(self.rewatch.wait())
            try:
                await asyncio.wait({consume, rewatch}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (consume, rewatch):
                    task.cancel()
                await asyncio.gather(consume, rewatch, return_exceptions=True)
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await watcher.stop()  # type: ignore[no-untyped-call]
            if consume.done() and not consume.cancelled() and consume.exception() is not None:
                log.warning(
                    "KV watch on %s failed, re-creating: %r", self.kv._name, consume.exception()
                )
                await asyncio.sleep(0.5)

    async def _consume(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is None:  # the initial values are all in
                self.loaded.set()
                continue
            await self._apply(entry)

    async def _apply(self, entry: KeyValue.Entry) -> None:
        key = entry.key
        if entry.operation in ("DEL", "PURGE") or not entry.value:
            await self.cache.delete(key)
            return
        try:
            value = decode(self.model, entry.value)
        except SchemaError as exc:
            self._owner._invalid += 1
            log.warning("skipped an invalid %s at %s: %s", self.model.__name__, key, exc)
            return
        epoch = getattr(value, "epoch", 0)
        if epoch < self._epochs.get(key, 0):  # a deposed leader's late write
            self._owner._stale_epoch += 1
            return
        self._epochs[key] = epoch
        await self.cache.set(key, value, written_at=_seconds(entry.created))
        self._owner._updates += 1
        for queue in list(self.listeners):
            queue.put_nowait(value)


def _seconds(created: object) -> float | None:
    """A KV entry's server timestamp as unix seconds (nats-py gives a float or a datetime)."""
    if created is None:
        return None
    if hasattr(created, "timestamp"):
        return float(created.timestamp())
    value = float(created)  # type: ignore[arg-type]
    return value / 1e9 if value > 1e12 else value


class DriftStreamClient:
    """Drift funding and market data for one network; an async context manager, used once."""

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
            presence_ttl=presence_ttl_s,
        )
        self._presence_ttl = presence_ttl_s
        self._timeout = request_timeout_s
        self._presence: Presence | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._funding: _Mirror[FundingRate] | None = None
        self._prices: _Mirror[MarketSnapshot] | None = None
        self._markets: _Mirror[MarketList] | None = None
        self._updates = self._invalid = self._stale_epoch = 0
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
                error_cb=_log_nats_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
        js = self._nc.jetstream()
        kvs = {
            name: await ensure_bucket(js, spec)
            for name, spec in self._specs.items()
            if name in (FUNDING_BUCKET, PRICES_BUCKET, MARKETS_BUCKET, CONSUMERS_BUCKET)
        }
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
        self._funding = _Mirror(
            kvs[FUNDING_BUCKET], self.network, FundingRate, ttls[FUNDING_BUCKET], self
        )
        self._prices = _Mirror(
            kvs[PRICES_BUCKET], self.network, MarketSnapshot, ttls[PRICES_BUCKET], self
        )
        self._markets = _Mirror(
            kvs[MARKETS_BUCKET], self.network, MarketList, ttls[MARKETS_BUCKET], self
        )
        mirrors = (self._funding, self._prices, self._markets)
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
        """Re-create the watches: the server may have restarted and lost their consumers
        (values that changed meanwhile arrive with the new watch's last values)."""
        log.info("client %s: NATS reconnected, re-creating KV watches", self.consumer_id)
        self.reconnects += 1
        for mirror in (self._funding, self._prices, self._markets):
            if mirror is not None:
                mirror.rewatch.set()

    def _ttl(self, bucket: str) -> float:
        ttl = self._specs[bucket].ttl_s
        assert ttl is not None
        return ttl

    async def close(self) -> None:
        """Release presence (the streamer may stop its DriftClient) and disconnect."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
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
            listing = await self.markets()
            info = listing.get(int(market)) if listing is not None else None
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

    async def watch_funding(
        self, symbols: Iterable[str] | None = None
    ) -> AsyncGenerator[FundingRate, None]:
        """Last values first, then every update, without a gap (no extra NATS consumer:
        the mirror's one watch feeds every watcher in this process)."""
        assert self._funding is not None, "connect() first"
        wanted = None if symbols is None else {validate_symbol(s) for s in symbols}
        queue: asyncio.Queue[FundingRate] = asyncio.Queue()
        self._funding.listeners.add(queue)  # before the snapshot: nothing falls between
        try:
            for value in sorted(
                (await self._funding.cache.values()).values(), key=lambda f: f.market_index
            ):
                if wanted is None or value.symbol in wanted:
                    yield value
            while True:
                value = await queue.get()
                if wanted is None or value.symbol in wanted:
                    yield value
        finally:
            self._funding.listeners.discard(queue)

    @property
    def stats(self) -> ClientStats:
        mirrors = {
            m.kv._name: m.cache.stats
            for m in (self._funding, self._prices, self._markets)
            if m is not None
        }
        return ClientStats(
            cache=mirrors,
            updates=self._updates,
            invalid=self._invalid,
            stale_epoch=self._stale_epoch,
        )

    # -- api requests (to the streamer) --------------------------------------------
    async def _request(self, endpoint: Endpoint, model: type[M], payload: bytes = b"") -> M:
        assert self._nc is not None, "connect() first"
        subject = api_subject(self.network, endpoint)
        msg = await self._nc.request(subject, payload, timeout=self._timeout)
        if msg.headers and msg.headers.get("Nats-Service-Error-Code"):
            try:
                reply = decode(ErrorReply, msg.data)
                raise ApiError(reply.code, reply.error)
            except SchemaError:
                raise ApiError(
                    int(msg.headers["Nats-Service-Error-Code"]),
                    msg.headers.get("Nats-Service-Error", ""),
                ) from None
        return decode(model, msg.data)

    async def request_status(self) -> StreamerStatus:
        return await self._request("status", StreamerStatus)

    async def request_markets(self) -> MarketList:
        return await self._request("markets", MarketList)

    async def request_funding(self, market: str | int) -> FundingRate:
        return await self._request("funding", FundingRate, str(market).encode())

    async def request_reconnect(self) -> ReconnectResult:
        return await self._request("reconnect", ReconnectResult)


async def _bucket_ttl(kv: KeyValue, default: float) -> float:
    try:
        ttl = (await kv.status()).ttl
    except Exception:  # status is best effort: fall back to the configured TTL
        return default
    return float(ttl) if ttl else default


async def _log_nats_error(exc: Exception) -> None:
    log.warning("NATS: %r", exc)
