"""DriftpySource (the adapter's legacy DriftClient path) against localnet: clean start
and stop, 429s, driftpy's polling loop dying, error kinds."""

from __future__ import annotations

import time

import httpx
import pytest

from localnet import FaultRequest, MarketPatch
from localnet.server import LocalnetServer
from streamer.driftpy_source import DriftpySource
from streamer.errors import NotReadyError, SourceError, SourceStaleError
from streamer.source import SourceMode, classify
from tests.drift_clients import wait_until


def _rate_limit(requests: int) -> FaultRequest:
    return FaultRequest.model_validate({"rate_limit": {"requests": requests, "per_s": 60}})


async def test_start_snapshot_stop_leaves_nothing_open(localnet_mainnet: LocalnetServer) -> None:
    """Websocket mode reads every market; stop() closes every socket at localnet."""
    source = DriftpySource(localnet_mainnet.url)
    with pytest.raises(NotReadyError):
        await source.snapshot(int(time.time()))
    await source.start()
    snap = await source.snapshot(int(time.time()))
    assert [s.symbol for s in snap.markets] == [
        v.spec.symbol for v in localnet_mainnet.markets.perps
    ]
    # Every market is priced, also the two sharing an oracle account at another scale
    # (driftpy alone prices neither: docs/LOCALNET.md), each at its own scale.
    unpriced = [s.symbol for s in snap.markets if s.oracle_price is None or s.bid_price is None]
    assert unpriced == []
    by_symbol = {s.symbol: s for s in snap.markets}
    pump = by_symbol["PUMP-PERP"].oracle_price
    assert pump is not None
    assert by_symbol["1KPUMP-PERP"].oracle_price == 1000 * pump
    bonk = next(s for s in snap.spots if s.symbol == "Bonk").oracle_price  # spots keep case
    assert bonk is not None
    assert by_symbol["1MBONK-PERP"].oracle_price == 10**6 * bonk
    served = {v.spec.symbol: v.oracle_price for v in localnet_mainnet.markets.perps}
    assert {s.symbol: s.oracle_price for s in snap.markets} == served
    assert [s.symbol for s in snap.spots][:2] == ["USDC", "SOL"]
    assert all(s.oracle_price is not None for s in snap.spots)
    # driftpy opens its program subscriptions after subscribe() returns (see STREAMER.md)
    await wait_until(lambda: localnet_mainnet.stats_json()["subscriptions"]["program"] == 2)
    localnet_mainnet.markets.apply(MarketPatch(symbol="SOL-PERP", last_funding_rate=99))

    client = source._client
    assert client is not None

    def funding() -> int | None:
        market = client.get_perp_market_account(0)
        return None if market is None else int(market.amm.last_funding_rate)

    await wait_until(lambda: funding() == 99)
    assert (await source.snapshot(int(time.time()))).markets[0].last_funding_rate == 99
    assert source.health().running
    source.check()  # fresh: no exception
    await source.stop()
    await wait_until(lambda: localnet_mainnet.stats_json()["ws_connections_open"] == 0)
    assert localnet_mainnet.stats_json()["subscriptions_active"] == 0
    await source.stop()  # idempotent


async def test_429_at_start_is_rpc_429_and_leaks_nothing(localnet: LocalnetServer) -> None:
    """A rate-limited subscribe raises SourceError(kind=rpc_429); no socket stays open."""
    await localnet.set_faults(
        FaultRequest.model_validate({"rate_limit": {"requests": 2, "per_s": 60}})
    )
    source = DriftpySource(localnet.url)
    with pytest.raises(SourceError) as info:
        await source.start()
    assert info.value.kind == "rpc_429"
    await wait_until(lambda: localnet.stats_json()["ws_connections_open"] == 0)
    assert not source.health().running


@pytest.mark.timeout(60)
async def test_polling_loop_death_is_detected(localnet: LocalnetServer) -> None:
    """Polling mode: a 429 storm kills driftpy's loop for good; check() notices."""
    source = DriftpySource(localnet.url, mode=SourceMode.POLLING, poll_interval_s=0.05)
    await source.start()
    try:
        assert source.health().polling_alive is True
        await localnet.set_faults(
            FaultRequest.model_validate({"rate_limit": {"requests": 1, "per_s": 60}})
        )
        await wait_until(lambda: source.health().polling_alive is False, timeout=20)
        with pytest.raises(SourceStaleError, match="polling loop"):
            source.check()
    finally:
        await source.stop()


def test_foreign_errors_are_classified() -> None:
    """HTTP 429 -> rpc_429, other statuses -> rpc, timeouts -> timeout, decode -> decode."""
    request = httpx.Request("POST", "http://x")

    def status(code: int) -> Exception:
        exc = RuntimeError("wrapped")
        exc.__cause__ = httpx.HTTPStatusError("e", request=request, response=httpx.Response(code))
        return exc

    assert classify(status(429)).kind == "rpc_429"
    assert classify(status(500)).kind == "rpc"
    assert classify(TimeoutError()).kind == "timeout"
    assert classify(KeyError(5)).kind == "decode"
    assert classify(ConnectionRefusedError()).kind == "rpc"
    too_many = ValueError("Error fetching perp markets: Too many requests for a specific RPC call")
    assert classify(too_many).kind == "rpc_429"  # driftpy's own wording of a 429
