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
from datetime import UTC, datetime
from types import TracebackType
from typing import Generic, TypeVar

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import SlowConsumerError
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
    funding_wildcard,
    market_wildcard,
    markets_subject,
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
from subscribers.buckets import ensure_bucket, last_entries
from subscribers.cache import CacheManager, CacheStats
from subscribers.connection import server_list
from subscribers.presence import Presence
from subscribers.waits import raise_if_cancelled

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
    """One bucket mirrored into a CacheManager, with listeners for live updates.

    Live values come on a plain subscription to the bucket's republished subject (no
    JetStream consumer while running: a thousand engines cost the server a thousand
    subscriptions, and a stream leader failover costs them nothing). The last values
    are read (`last_entries`, a short pull consumer) at start and again after every
    reconnect or slow-consumer drop (`reload`). Both carry the stream sequence, so an
    older value never replaces a newer one whatever the order they arrive in.
    """

    def __init__(
        self,
        kv: KeyValue,
        nc: Client,
        subject: str,
        network: Network,
        model: type[M],
        ttl_s: float,
        owner: DriftStreamClient,
    ) -> None:
        self.kv, self.network, self.model = kv, network, model
        self.cache: CacheManager[M] = CacheManager(ttl_s)
        self.listeners: set[asyncio.Queue[M]] = set()
        self.loaded = asyncio.Event()
        self.reload = asyncio.Event()
        self._nc, self._subject = nc, subject
        self._prefix = f"$KV.{kv._name}."
        self._owner = owner
        self._epochs: dict[str, int] = {}
        self._seqs: dict[str, int] = {}

    async def run(self) -> None:
        """Subscribe (live first: nothing falls between), then load; reload on demand."""
        pattern = f"{self.network}.*" if self.model is not MarketList else self.network
        sub = await self._nc.subscribe(self._subject, cb=self._on_message)
        try:
            while True:
                raise_if_cancelled()
                self.reload.clear()
                # The load is the truth: a nats-server killed before it wrote its last
                # messages restarts with lower sequences, which must not look old to us.
                self._seqs.clear()
                try:
                    async with asyncio.timeout(_LOAD_TIMEOUT_S):
                        await self._load(pattern)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # NATS down or a stalled watch: again shortly
                    raise_if_cancelled()  # nats-py turns a cancellation into its timeout
                    log.warning("loading %s failed, retrying: %r", self.kv._name, exc)
                    await asyncio.sleep(0.5)
                    continue
                await self.reload.wait()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _load(self, pattern: str) -> None:
        for entry in await last_entries(self.kv, pattern):
            await self._apply(entry)
        self.loaded.set()

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers or {}
        subject = headers.get("Nats-Subject", "")
        try:
            seq = int(headers.get("Nats-Sequence", ""))
        except ValueError:
            seq = -1
        if not subject.startswith(self._prefix) or seq < 0:
            self._owner._invalid += 1
            log.warning("skipped a message on %s without KV headers", msg.subject)
            return
        await self._apply_raw(
            subject[len(self._prefix) :],
            seq,
            headers.get("KV-Operation"),
            msg.data,
            _timestamp(headers.get("Nats-Time-Stamp")),
        )

    async def _apply(self, entry: KeyValue.Entry) -> None:
        await self._apply_raw(
            entry.key, entry.revision or 0, entry.operation, entry.value, _seconds(entry.created)
        )

    async def _apply_raw(
        self,
        key: str,
        seq: int,
        operation: str | None,
        data: bytes | None,
        written_at: float | None,
    ) -> None:
        if seq and seq <= self._seqs.get(key, 0):  # already have this or a newer one
            return
        if seq:
            self._seqs[key] = seq
        if operation in ("DEL", "PURGE") or not data:
            await self.cache.delete(key)
            return
        try:
            value = decode(self.model, data)
        except SchemaError as exc:
            self._owner._invalid += 1
            log.warning("skipped an invalid %s at %s: %s", self.model.__name__, key, exc)
            return
        epoch = getattr(value, "epoch", 0)
        if epoch < self._epochs.get(key, 0):  # a deposed leader's late write
            self._owner._stale_epoch += 1
            return
        self._epochs[key] = epoch
        await self.cache.set(key, value, written_at=written_at)
        self._owner._updates += 1
        for queue in list(self.listeners):
            queue.put_nowait(value)


_LOAD_TIMEOUT_S = 10.0


def _seconds(created: object) -> float | None:
    """A KV entry's server timestamp as unix seconds (nats-py gives a float or a datetime)."""
    if created is None:
        return None
    if hasattr(created, "timestamp"):
        return float(created.timestamp())
    value = float(created)  # type: ignore[arg-type]
    return value / 1e9 if value > 1e12 else value


def _timestamp(text: str | None) -> float | None:
    """`Nats-Time-Stamp` (RFC 3339, nanoseconds, Z) as unix seconds; None if unreadable."""
    if not text:
        return None
    head, dot, frac = text.rstrip("Z").partition(".")
    try:
        whole = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
        return whole + (float(f"0.{frac}") if dot and frac.isdigit() else 0.0)
    except ValueError:
        return None


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
        net, nc = self.network, self._nc
        self._funding = _Mirror(
            kvs[FUNDING_BUCKET],
            nc,
            funding_wildcard(net),
            net,
            FundingRate,
            ttls[FUNDING_BUCKET],
            self,
        )
        self._prices = _Mirror(
            kvs[PRICES_BUCKET],
            nc,
            market_wildcard(net),
            net,
            MarketSnapshot,
            ttls[PRICES_BUCKET],
            self,
        )
        self._markets = _Mirror(
            kvs[MARKETS_BUCKET],
            nc,
            markets_subject(net),
            net,
            MarketList,
            ttls[MARKETS_BUCKET],
            self,
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
        """Reload the last values: what changed while disconnected was not delivered."""
        log.info("client %s: NATS reconnected, reloading last values", self.consumer_id)
        self.reconnects += 1
        self._reload()

    def _reload(self) -> None:
        for mirror in (self._funding, self._prices, self._markets):
            if mirror is not None:
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
