"""`DriftExchange`: Drift funding through CCXT's unified funding API, ccxt.pro style.

Reads through a `DriftStreamClient` (its mirrors: no round trip per call), never the
RPC. Methods validate symbols against the streamer's market list (waiting up to
`timeout` ms for it, as CCXT's methods load markets first); values are the client's
live ones: an expired value is never returned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from types import TracebackType
from typing import ClassVar

from schemas import FundingRate
from schemas.subjects import Network
from subscribers.ccxt.errors import ExchangeNotAvailable
from subscribers.ccxt.history import settled
from subscribers.ccxt.structures import (
    CcxtFundingRate,
    CcxtFundingRateHistory,
    check_limit,
    filter_since_limit,
    funding_rate,
    funding_rate_history,
)
from subscribers.ccxt.symbols import ccxt_symbol, resolve_symbol
from subscribers.ccxt.watch import Updates
from subscribers.client import DriftStreamClient
from subscribers.connection import public_url

__all__ = ["DriftExchange"]

_POLL_S = 0.05  # the market list has no watch of its own: checked this often while absent
_DEFAULT_PERIOD_S = 3600


class DriftExchange:
    """Drift's perp funding as a ccxt.pro exchange (like `ccxt.pro.binance()`): async,
    an async context manager, `close()` when done.

    Give a connected `client` (yours to close), or `network` and `nats_url` to have the
    exchange make its own client, connected on first use or on `async with`, closed by
    `close()`. `timeout` is CCXT's: milliseconds a call may wait for NATS, the market
    list or a first value before ExchangeNotAvailable. Symbols are CCXT's
    (`SOL/USDC:USDC`) or Drift's (`SOL-PERP`, any case); results use CCXT's.
    """

    id: ClassVar[str] = "drift"
    has: ClassVar[dict[str, bool]] = {
        "fetchFundingRate": True,
        "fetchFundingRates": True,
        "fetchFundingRateHistory": True,
        "watchFundingRate": True,
        "watchFundingRates": True,
    }

    def __init__(
        self,
        client: DriftStreamClient | None = None,
        *,
        network: Network = "mainnet",
        nats_url: str = "nats://127.0.0.1:4222",
        name: str = "ccxt",
        timeout: int = 10_000,
    ) -> None:
        self.timeout = timeout
        self._own = client is None
        self._network = network if client is None else client.network
        self._nats_url, self._name = nats_url, name
        self._client = client if client is not None else self._new_client()
        self._connected = client is not None
        self._closed = False
        self._lock = asyncio.Lock()
        self._watches: dict[tuple[str, frozenset[str] | None], Updates] = {}

    def _new_client(self) -> DriftStreamClient:
        return DriftStreamClient(self._network, nats_url=self._nats_url, name=self._name)

    @property
    def network(self) -> Network:
        """The Drift network read: `mainnet`, `devnet` or `local`."""
        return self._network

    # -- lifecycle -----------------------------------------------------------------
    async def __aenter__(self) -> DriftExchange:
        await self._ready()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop every watch and close the client if it is the exchange's own; once."""
        if self._closed:
            return
        self._closed = True
        for updates in self._watches.values():
            await updates.aclose()
        self._watches.clear()
        if self._own and self._connected:
            await self._client.close()

    async def _ready(self) -> DriftStreamClient:
        """The client, connected (the own one within `timeout`: else ExchangeNotAvailable,
        and the next call tries again with a new client)."""
        if self._closed:
            raise RuntimeError("this DriftExchange is closed")
        async with self._lock:
            if not self._connected:
                await self._connect()
        return self._client

    async def _connect(self) -> None:
        task = asyncio.ensure_future(self._client.connect())
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout / 1000)
        except BaseException:  # this call was cancelled: so is the connect
            await self._discard(task)
            raise
        if not done or task.cancelled() or task.exception() is not None:
            await self._discard(task)
            if done and not task.cancelled():
                task.result()  # its own error (refused credentials...) as it is
            raise ExchangeNotAvailable(
                f"drift: no NATS connection to {public_url(self._nats_url)}"
                f" within {self.timeout} ms"
            )
        self._connected = True

    async def _discard(self, connecting: asyncio.Future[None]) -> None:
        """Stop a failed connect and close its client; the next call gets a new one (a
        DriftStreamClient connects once)."""
        connecting.cancel()
        await asyncio.wait({connecting})
        failed, self._client = self._client, self._new_client()
        await failed.close()

    # -- markets and values --------------------------------------------------------
    async def _market_symbols(self) -> set[str]:
        """The Drift names of the streamer's market list, waiting up to `timeout` for it
        (a streamer starts Drift with its first consumer: a moment after connecting)."""
        client = await self._ready()
        deadline = time.monotonic() + self.timeout / 1000
        while (listing := await client.markets()) is None:
            if time.monotonic() >= deadline:
                raise ExchangeNotAvailable(
                    f"drift: no market list from the {self._network} streamer within"
                    f" {self.timeout} ms (is it running?)"
                )
            await asyncio.sleep(_POLL_S)
        return set(listing.by_symbol())

    async def _resolve(self, symbol: str) -> str:
        return resolve_symbol(symbol, await self._market_symbols())

    async def _rate(self, drift: str) -> CcxtFundingRate | None:
        """The unified FundingRate of a market from its live values; None if expired."""
        funding = await self._client.funding(drift)
        if funding is None:
            return None
        return funding_rate(funding, await self._client.market(drift))

    def _updates(self, kind: str, symbols: frozenset[str] | None) -> Updates:
        key = (kind, symbols)
        if key not in self._watches:
            self._watches[key] = Updates(self._client, symbols)
        return self._watches[key]

    # -- the unified API -----------------------------------------------------------
    async def fetch_funding_rate(self, symbol: str) -> CcxtFundingRate:
        """The market's funding now. A listed market without a live value is waited for
        up to `timeout` ms (a starting streamer), then ExchangeNotAvailable; BadSymbol
        for a symbol that is malformed or not listed."""
        drift = await self._resolve(symbol)
        rate = await self._rate(drift)
        if rate is None:
            updates = Updates(self._client, [drift])
            try:
                await updates.updated(self.timeout / 1000)
            finally:
                await updates.aclose()
            rate = await self._rate(drift)
        if rate is None:
            raise ExchangeNotAvailable(
                f"drift: no live funding for {ccxt_symbol(drift)} within {self.timeout} ms"
            )
        return rate

    async def fetch_funding_rates(
        self, symbols: Iterable[str] | None = None
    ) -> dict[str, CcxtFundingRate]:
        """Every listed market's funding now (or those of `symbols`), keyed by CCXT
        symbol in market index order; markets without a live value are left out, as an
        exchange leaves out what it does not return. BadSymbol for an unknown symbol."""
        known = await self._market_symbols()
        wanted = None if symbols is None else {resolve_symbol(s, known) for s in symbols}
        client = self._client
        values = sorted((await client.funding_all()).values(), key=lambda f: f.market_index)
        rates: dict[str, CcxtFundingRate] = {}
        for funding in values:
            if funding.symbol in known and (wanted is None or funding.symbol in wanted):
                rate = funding_rate(funding, await client.market(funding.symbol))
                rates[rate["symbol"]] = rate
        return rates

    async def watch_funding_rate(self, symbol: str) -> CcxtFundingRate:
        """The market's next funding update, as ccxt.pro gives it: the first call returns
        the current value (or waits for one), each later call a newer value than the
        last it returned: at once if one came meanwhile (the newest), else when it
        comes."""
        drift = await self._resolve(symbol)
        updates = self._updates("one", frozenset({drift}))
        while True:
            rates = await self._handed_over(updates)
            if rates:
                return next(iter(rates.values()))

    async def watch_funding_rates(
        self, symbols: Iterable[str] | None = None
    ) -> dict[str, CcxtFundingRate]:
        """The markets (of `symbols`; None: all) updated since the last call, keyed by
        CCXT symbol, as ccxt.pro gives them: the first call returns the current values,
        each later call those that changed since, each at its newest."""
        known = await self._market_symbols()
        wanted = None if symbols is None else frozenset(resolve_symbol(s, known) for s in symbols)
        updates = self._updates("many", wanted)
        while True:
            rates = await self._handed_over(updates)
            if rates:
                return rates

    async def _handed_over(self, updates: Updates) -> dict[str, CcxtFundingRate]:
        """The updated markets' live values not handed over yet (may be none)."""
        rates: dict[str, CcxtFundingRate] = {}
        for drift in await updates.updated():
            funding = await self._client.funding(drift)
            if funding is not None and updates.is_new(drift, funding):
                rate = funding_rate(funding, await self._client.market(drift))
                rates[rate["symbol"]] = rate
        return rates

    async def fetch_funding_rate_history(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[CcxtFundingRateHistory]:
        """The market's settled fundings, oldest first, one per settlement; `since` (ms)
        keeps those settled at or after it, `limit` then keeps at most that many: the
        oldest from `since` on if given, else the newest (CCXT's and Binance's rule).
        ExchangeNotAvailable without a history stream."""
        check_limit(limit)  # before any read
        drift = await self._resolve(symbol)
        nc = self._client._nc
        if nc is None:
            raise ExchangeNotAvailable("drift: the client is not connected")
        read_s = self.timeout / 1000

        async def read(start: float | None) -> list[CcxtFundingRateHistory]:
            values = await settled(nc, self._network, drift, start=start, timeout_s=read_s)
            return filter_since_limit([funding_rate_history(v) for v in values], since, limit)

        if since is not None:
            return await read(since / 1000)
        if limit is not None:  # the newest: look back a little further than they span
            entries = await read(time.time() - (limit + 1) * await self._period(drift))
            if len(entries) >= limit:  # so these are the newest `limit` of all
                return entries
        return await read(None)

    async def _period(self, drift: str) -> int:
        funding: FundingRate | None = await self._client.funding(drift)
        period = _DEFAULT_PERIOD_S if funding is None else funding.funding_period_s
        return max(period, 1)

    # CCXT's camelCase names, as every CCXT exchange has them
    fetchFundingRate = fetch_funding_rate
    fetchFundingRates = fetch_funding_rates
    fetchFundingRateHistory = fetch_funding_rate_history
    watchFundingRate = watch_funding_rate
    watchFundingRates = watch_funding_rates

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._connected else "new"
        return f"<DriftExchange {self._network} {state}>"
