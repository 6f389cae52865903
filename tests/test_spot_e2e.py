"""Spot markets end to end: localnet's accounts, a real DriftSource in the streamer,
NATS, and an engine, the CLI or the adapter on the other side.

These need `DriftSource` to fill `SourceSnapshot.spots` (streamer/source.py); everything
after it (publisher, bucket, api, client, adapter) is tested on its own in
test_publisher.py, test_service.py, test_client.py and test_adapter.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from localnet.server import LocalnetServer
from schemas import SpotMarketSnapshot, StreamerState
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from subscribers.adapter import DriftAdapter
from subscribers.client import DriftStreamClient
from tests.drift_clients import wait_until
from tests.fixtures_streamer import StartStreamer

# What two DriftClients may see differently: when they read, and who wrote.
_OBSERVED = {"ts", "slot", "epoch", "market_slot", "oracle_slot"}


async def _first_usdc(client: DriftStreamClient) -> SpotMarketSnapshot:
    """USDC's snapshot, once the streamer's first pass published it."""
    updates = client.watch_spot(["USDC"])
    try:
        return await asyncio.wait_for(anext(updates), 20)
    finally:
        await updates.aclose()


@pytest_asyncio.fixture
async def running(
    start_streamer: StartStreamer, fresh_nats: NatsServer
) -> AsyncIterator[tuple[Streamer, DriftStreamClient]]:
    """A streamer over localnet (small preset: USDC spot) with one engine: RUNNING."""
    app = await start_streamer()
    async with DriftStreamClient(
        "local", nats_url=fresh_nats.url, name="spot-engine", presence_ttl_s=2
    ) as client:
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
        yield app, client


@pytest.mark.timeout(60)
async def test_engine_gets_localnet_spot_markets(
    running: tuple[Streamer, DriftStreamClient], localnet: LocalnetServer
) -> None:
    """The engine's spots() is not empty: USDC (index 0, 6 decimals) with its price, the
    same through the api; the streamer's status counts the spot markets."""
    app, client = running
    usdc = await _first_usdc(client)
    assert (usdc.symbol, usdc.market_index, usdc.decimals) == ("USDC", 0, 6)
    assert usdc.oracle_price > 0
    assert usdc.oracle_price_raw > 0
    spots = await client.spots()
    assert "USDC" in spots
    assert len(spots) == len(localnet.markets.preset.spots)
    answer = await client.request_spot("usdc")
    assert answer.model_dump(exclude=_OBSERVED) == usdc.model_dump(exclude=_OBSERVED)
    assert app.status().spot_markets == len(spots)
    assert (await client.request_status()).spot_markets == len(spots)


@pytest.mark.timeout(60)
async def test_drift_stream_req_spot(
    running: tuple[Streamer, DriftStreamClient], fresh_nats: NatsServer
) -> None:
    """`drift-stream req spot usdc` prints USDC's snapshot and exits 0."""
    _, client = running
    await _first_usdc(client)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamer.cli",
        "req",
        "spot",
        "usdc",
        "--network",
        "local",
        "--nats-url",
        fresh_nats.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out
    body = json.loads(out)
    assert body["symbol"] == "USDC"
    assert body["oracle_price"] > 0


@pytest.mark.timeout(90)
async def test_adapter_paths_agree_on_localnet_spot_markets(
    running: tuple[Streamer, DriftStreamClient], fresh_nats: NatsServer, localnet: LocalnetServer
) -> None:
    """Property 8 on real accounts: the adapter through the streamer and the legacy
    adapter (its own DriftClient) give the same spot markets."""
    _, client = running
    await _first_usdc(client)
    new = DriftAdapter(network="local", nats_url=fresh_nats.url)
    old = DriftAdapter(network="local", rpc_url=localnet.url, using_singleton=False)
    await new.connect()
    await old.connect()
    try:
        for spec in localnet.markets.preset.spots:
            for market in (spec.symbol, spec.symbol.lower(), spec.market_index):
                via_streamer = await new.get_spot_market(market)
                direct = await old.get_spot_market(market)
                assert via_streamer is not None, market
                assert direct is not None, market
                assert via_streamer.model_dump(exclude=_OBSERVED) == direct.model_dump(
                    exclude=_OBSERVED
                )
    finally:
        await new.disconnect()
        await old.disconnect()
