"""DriftAdapter: property 8 (backward compatibility) against localnet and a streamer, and
for spot markets against a real Publisher's values."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from localnet import MarketPatch
from localnet.server import LocalnetServer
from schemas import FundingRate, StreamerState
from streamer.nats_server import NatsServer
from streamer.publisher import Publisher
from streamer.source import SourceSnapshot
from streamer.state import SpotState
from subscribers.adapter import DriftAdapter
from tests.drift_clients import followed_accounts, wait_until
from tests.fixtures_streamer import StartStreamer
from tests.test_client import publisher_on
from tests.test_publisher import spot_state

# The envelope and the live estimates (predicted rates move with the wall clock) differ
# by design between the streamer and a private DriftClient; everything decoded from the
# market state must be equal.
# What depends on when and through which subscription a path read the market: the live
# estimate (computed for each path's own `now`) and the slots its account versions came at.
_LIVE = {
    "ts",
    "slot",
    "epoch",
    "predicted_long_hourly_pct",
    "predicted_short_hourly_pct",
    "predicted_at",
    "mark_twap_live",
    "oracle_twap_live",
    "market_slot",
    "oracle_slot",
}
_STAMP = itertools.count(1_700_000_000)


@pytest_asyncio.fixture
async def adapters(
    start_streamer: StartStreamer, fresh_nats: NatsServer, localnet: LocalnetServer
) -> AsyncIterator[tuple[DriftAdapter, DriftAdapter]]:
    """A streamer-backed adapter and a legacy one (its own DriftClient), both ready."""
    app = await start_streamer()
    followed = followed_accounts(localnet)
    new = DriftAdapter(network="local", nats_url=fresh_nats.url)
    old = DriftAdapter(network="local", rpc_url=localnet.url, using_singleton=False)
    await new.connect()
    await old.connect()
    await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
    # the streamer's feed, and the legacy DriftClient with its 2 program subscriptions
    await wait_until(lambda: localnet.stats_json()["subscriptions"]["program"] == 2)
    await wait_until(lambda: localnet.stats_json()["subscriptions"]["account"] >= followed)
    deadline = time.monotonic() + 10
    while not await new.get_all_perp_markets():  # the first pass's list, on its way
        assert time.monotonic() < deadline, "the streamer published no market list"
        await asyncio.sleep(0.01)
    yield new, old
    await new.disconnect()
    await old.disconnect()


async def _both(
    adapters: tuple[DriftAdapter, DriftAdapter], symbol: str, stamp: int
) -> tuple[FundingRate, FundingRate]:
    """Both paths' FundingRate once each has seen the update stamped `stamp`."""
    deadline = time.monotonic() + 10
    while True:
        new = await adapters[0].get_funding_rate(symbol)
        old = await adapters[1].get_funding_rate(symbol)
        if new and old and new.last_funding_rate_ts == old.last_funding_rate_ts == stamp:
            return new, old
        assert time.monotonic() < deadline, f"update {stamp} did not arrive: {new}, {old}"
        await asyncio.sleep(0.01)  # no change event to await across two clients


def _comparable(rate: FundingRate) -> dict[str, Any]:
    return rate.model_dump(exclude=_LIVE)


@pytest.mark.timeout(180)
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    symbol=st.sampled_from(["SOL-PERP", "BTC-PERP", "ETH-PERP"]),
    rate=st.integers(-(10**12), 10**12),
    twap=st.integers(0, 10**12),
    avg=st.integers(-(10**12), 10**12),
    price=st.integers(1, 10**11),
)
async def test_both_paths_return_equal_values(
    adapters: tuple[DriftAdapter, DriftAdapter],
    localnet: LocalnetServer,
    symbol: str,
    rate: int,
    twap: int,
    avg: int,
    price: int,
) -> None:
    """Property 8: for any market state, the adapter gives equal FundingRates with
    _using_singleton True (streamer) and False (its own DriftClient)."""
    new, old = adapters
    assert new._using_singleton
    assert not old._using_singleton
    stamp = next(_STAMP)
    localnet.markets.apply(
        MarketPatch(
            symbol=symbol,
            last_funding_rate=rate,
            last_funding_oracle_twap=twap,
            last24h_avg_funding_rate=avg,
            last_funding_rate_ts=stamp,
            oracle_price=price,
        )
    )
    via_streamer, direct = await _both(adapters, symbol, stamp)
    assert via_streamer.last_funding_rate == rate
    assert _comparable(via_streamer) == _comparable(direct)


async def test_markets_and_unknowns_match(adapters: tuple[DriftAdapter, DriftAdapter]) -> None:
    """Both paths list the same markets and answer None (never KeyError) for unknowns."""
    new, old = adapters
    listed = [
        {(m.symbol, m.market_index) for m in await a.get_all_perp_markets()} for a in adapters
    ]
    assert listed[0] == listed[1] == {("SOL-PERP", 0), ("BTC-PERP", 1), ("ETH-PERP", 2)}
    for market in ("NOPE-PERP", 99, "sol.perp", ""):
        assert await new.get_funding_rate(market) is None
        assert await old.get_funding_rate(market) is None
    assert new.is_initialized()
    assert old.is_initialized()
    assert await new.force_reconnect() is True


async def test_legacy_path_needs_an_rpc_url() -> None:
    """_using_singleton=False without rpc_url is a clear ValueError."""
    adapter = DriftAdapter(network="local", using_singleton=False)
    with pytest.raises(ValueError, match="rpc_url"):
        await adapter.connect()
    assert not adapter.is_initialized()


class _StateSource:
    """Stands in for the adapter's own DriftSource on the legacy path: it hands out the
    spot states a test sets (the real source, end to end: test_spot_e2e.py)."""

    def __init__(self) -> None:
        self.spots: tuple[SpotState, ...] = ()

    async def snapshot(self, now: int) -> SourceSnapshot:
        return SourceSnapshot(slot=1, markets=(), spots=self.spots)

    async def stop(self) -> None:
        """Nothing to close."""


@pytest_asyncio.fixture
async def spot_paths(
    fresh_nats: NatsServer, client: Client
) -> AsyncIterator[tuple[Publisher, DriftAdapter, DriftAdapter, _StateSource]]:
    """A Publisher writing drift_spot, an adapter reading it through NATS, and a legacy
    adapter whose source hands out the same states."""
    publisher = await publisher_on(client)
    new = DriftAdapter(network="local", nats_url=fresh_nats.url)
    await new.connect()
    old = DriftAdapter(network="local", rpc_url="http://127.0.0.1:1", using_singleton=False)
    source = _StateSource()
    old._source = cast(Any, source)
    yield publisher, new, old, source
    await new.disconnect()
    await old.disconnect()


_SPOT_LIVE = {"ts", "slot", "epoch"}


@pytest.mark.timeout(120)
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    symbol=st.sampled_from(["USDC", "wBTC", "jitoSOL"]),
    decimals=st.integers(0, 19),
    price=st.integers(1, 10**12),
    amounts=st.tuples(st.integers(0, 2**96), st.integers(0, 2**96)),
    rates=st.tuples(*[st.none() | st.integers(0, 10**8)] * 3),
    ask=st.sampled_from(["upper", "lower", "index"]),
)
async def test_both_paths_return_equal_spot_markets(
    spot_paths: tuple[Publisher, DriftAdapter, DriftAdapter, _StateSource],
    symbol: str,
    decimals: int,
    price: int,
    amounts: tuple[int, int],
    rates: tuple[int | None, int | None, int | None],
    ask: str,
) -> None:
    """Property 8 for spot markets: for any spot state, get_spot_market gives equal
    values through the streamer's KV and on the legacy path, asked by symbol in any case
    or by index."""
    publisher, new, old, source = spot_paths
    index = ["USDC", "wBTC", "jitoSOL"].index(symbol)
    state = spot_state(
        index,
        symbol,
        decimals=decimals,
        oracle_price=price,
        total_deposits=amounts[0],
        total_borrows=amounts[1],
        deposit_rate=rates[0],
        borrow_rate=rates[1],
        utilization=rates[2],
    )
    source.spots = (state,)
    assert new._client is not None
    updates = new._client.watch_spot([symbol])
    try:
        await publisher.publish(SourceSnapshot(slot=1, markets=(), spots=(state,)), epoch=1)
        expected = publisher.find_spot(symbol)
        assert expected is not None
        while await asyncio.wait_for(anext(updates), 5) != expected:
            pass  # the last value of the previous example first
    finally:
        await updates.aclose()
    asked: dict[str, str | int] = {"upper": symbol.upper(), "lower": symbol.lower(), "index": index}
    market = asked[ask]
    via_streamer = await new.get_spot_market(market)
    direct = await old.get_spot_market(market)
    assert via_streamer is not None
    assert direct is not None
    assert via_streamer.total_deposits_raw == amounts[0]
    assert via_streamer.model_dump(exclude=_SPOT_LIVE) == direct.model_dump(exclude=_SPOT_LIVE)


async def test_spot_unknowns_are_none_on_both_paths(
    spot_paths: tuple[Publisher, DriftAdapter, DriftAdapter, _StateSource],
) -> None:
    """Unknown, malformed or wrongly typed spot ids: None on both paths, never an error;
    an unpublishable state (decimals no mint has) is None on the legacy path too."""
    publisher, new, old, source = spot_paths
    usdc = spot_state(0, "USDC")
    source.spots = (usdc, spot_state(9, "BROKEN", decimals=2**32 - 1))
    await publisher.publish(SourceSnapshot(slot=1, markets=(), spots=source.spots), epoch=1)
    assert await new.get_spot_market("usdc") is not None
    assert await old.get_spot_market("usdc") is not None
    unknowns: tuple[str | int, ...] = ("NOPE", 7, "7", "US.DC", "", "9" * 5000, True, "BROKEN", 9)
    for market in unknowns:
        assert await new.get_spot_market(market) is None, market
        assert await old.get_spot_market(market) is None, market
