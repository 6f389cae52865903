"""`DriftAdapter`: the original plan's API, now backed by the streamer.

```python
adapter = DriftAdapter(network="mainnet", nats_url="nats://127.0.0.1:4222")
await adapter.connect()                       # registers presence
rate = await adapter.get_funding_rate("SOL-PERP")   # FundingRate | None, never KeyError
markets = await adapter.get_all_perp_markets()      # list[PerpMarketInfo]
usdc = await adapter.get_spot_market("USDC")        # SpotMarketSnapshot | None
await adapter.disconnect()
```

`_using_singleton = False` takes the old path: a DriftClient of the adapter's own
(driftpy imported only then), which needs `rpc_url`. Both paths return the same types
and, for the same market state, the same values.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from schemas import FundingRate, PerpMarketInfo, SpotMarketSnapshot
from schemas.subjects import Network
from subscribers.client import ApiError, DriftStreamClient

if TYPE_CHECKING:
    from streamer.driftpy_source import DriftpySource

__all__ = ["DriftAdapter"]


class DriftAdapter:
    """Funding rates, perp and spot markets, through the streamer (default) or directly."""

    def __init__(
        self,
        network: Network = "mainnet",
        nats_url: str = "nats://127.0.0.1:4222",
        rpc_url: str | None = None,
        *,
        using_singleton: bool = True,
        name: str = "drift-adapter",
    ) -> None:
        self.network = network
        self.nats_url = nats_url
        self.rpc_url = rpc_url
        self._using_singleton = using_singleton
        self._name = name
        self._client: DriftStreamClient | None = None
        self._source: DriftpySource | None = None

    async def connect(self) -> None:
        """Streamer path: register presence and load last values. Legacy path: subscribe
        a DriftClient of our own."""
        if self.is_initialized():
            return
        if self._using_singleton:
            client = DriftStreamClient(self.network, nats_url=self.nats_url, name=self._name)
            await client.connect()
            self._client = client
            return
        if self.rpc_url is None:
            raise ValueError("the direct path (_using_singleton=False) needs rpc_url")
        from streamer.driftpy_source import DriftpySource  # driftpy, only on this path

        source = DriftpySource(self.rpc_url)
        await source.start()
        self._source = source

    async def disconnect(self) -> None:
        """Release presence (or unsubscribe the DriftClient); safe to call twice."""
        client, self._client = self._client, None
        source, self._source = self._source, None
        if client is not None:
            await client.close()
        if source is not None:
            await source.stop()

    def is_initialized(self) -> bool:
        return self._client is not None or self._source is not None

    async def get_funding_rate(self, market: str | int) -> FundingRate | None:
        """The FundingRate of a market by symbol or index; None if unknown or not ready."""
        if self._client is not None:
            return await self._client.funding(market)
        if self._source is not None:
            from streamer.models import funding_rate

            snapshot = await self._source.snapshot(int(time.time()))
            for state in snapshot.markets:
                if market in (state.symbol, state.market_index) or (
                    isinstance(market, str) and market.upper() == state.symbol
                ):
                    return funding_rate(
                        state, network=self.network, slot=snapshot.slot, ts=time.time(), epoch=0
                    )
            return None
        raise RuntimeError("connect() first")

    async def get_all_perp_markets(self) -> list[PerpMarketInfo]:
        """Every perp market (symbol and index); empty before any data."""
        if self._client is not None:
            listing = await self._client.markets()
            return [] if listing is None else list(listing.markets)
        if self._source is not None:
            from streamer.models import market_info

            snapshot = await self._source.snapshot(int(time.time()))
            return [market_info(state) for state in snapshot.markets]
        raise RuntimeError("connect() first")

    async def get_spot_market(self, symbol: str | int) -> SpotMarketSnapshot | None:
        """A spot market by symbol in any case (`USDC`, `wbtc`) or index; None if unknown
        or not ready."""
        if self._client is not None:
            return await self._client.spot(symbol)
        if self._source is not None:
            from streamer.models import spot_snapshot

            snapshot = await self._source.snapshot(int(time.time()))
            wanted = _spot_id(symbol)
            for state in snapshot.spots:
                if wanted in (state.market_index, state.symbol.upper()):
                    try:
                        return spot_snapshot(
                            state, network=self.network, slot=snapshot.slot, ts=time.time(), epoch=0
                        )
                    except ValueError:  # not publishable: the streamer skips it too
                        return None
            return None
        raise RuntimeError("connect() first")

    async def force_reconnect(self) -> bool:
        """Ask the streamer to resubscribe (or resubscribe our own client); True if ok."""
        if self._client is not None:
            try:
                return (await self._client.request_reconnect()).ok
            except ApiError:
                return False
        if self._source is not None:
            await self._source.refetch()
            return True
        raise RuntimeError("connect() first")


def _spot_id(market: str | int) -> str | int | None:
    """A spot market id as the client reads it: an index (int or ASCII digits), else the
    symbol in upper case; None for what is neither."""
    if isinstance(market, bool):
        return None
    if isinstance(market, str) and market.isascii() and market.isdigit():
        return int(market) if len(market) <= 6 else None
    return market.upper() if isinstance(market, str) else market
