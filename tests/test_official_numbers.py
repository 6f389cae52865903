"""End to end: the numbers engines receive are the official SDK's.

A streamer runs over localnet's mainnet preset (85 perp and 63 spot markets, the MM
oracle on about half of the perps) and an engine reads what it publishes. Beside it:

- prices still: the SDK's own `DriftClient`, subscribed to the same localnet, computes
  every market at each published value's `predicted_at` / `priced_at`;
- prices moving: the SDK computes each received value again from the account versions
  at its `market_slot` and `oracle_slot`, read back from localnet's history
  (`GET /admin/account?pubkey=...&slot=...`).

Every published field must equal the SDK's figure after the shared unit conversion.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from driftpy.addresses import get_perp_market_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID

from localnet.history import HistoryConfig
from localnet.markets import STATE_ADDRESS
from localnet.server import LocalnetServer
from localnet.simulation import SimulationConfig
from schemas import FundingRate, MarketSnapshot, SpotMarketSnapshot, StreamerState
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers.client import DriftStreamClient
from tests.drift_clients import wait_until
from tests.sdk_figures import SdkDriftClient, funding_problems, price_problems, spot_problems

PERPS, SPOTS = 85, 63
Pipeline = tuple[LocalnetServer, DriftStreamClient]

# Values the SDK computes per request: a whole 8 s sample took over its 60 s timeout
# on a busy machine in one request.
_BATCH = 200


@pytest_asyncio.fixture
async def nats(tmp_path: Path) -> AsyncIterator[NatsServer]:
    async with NatsServer(store_dir=tmp_path / "js", log_file=tmp_path / "nats.log") as server:
        yield server


async def _pipeline(localnet: LocalnetServer, nats: NatsServer) -> AsyncIterator[Pipeline]:
    """A streamer over `localnet` and one engine reading it, RUNNING."""
    settings = Settings(
        network="local", rpc_url=localnet.url, nats_url=nats.url, presence_ttl=2, lease_ttl=2
    )
    app = Streamer(settings, lambda: DriftSource(localnet.url), grace_s=1.0)
    task = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.ready.wait(), 10)
        async with DriftStreamClient(
            "local", nats_url=nats.url, name="official-numbers", presence_ttl_s=2
        ) as client:
            await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=20)
            yield localnet, client
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest_asyncio.fixture
async def still(nats: NatsServer) -> AsyncIterator[Pipeline]:
    async with LocalnetServer(preset="mainnet") as localnet:
        async for pipeline in _pipeline(localnet, nats):
            yield pipeline


@pytest_asyncio.fixture
async def moving(nats: NatsServer) -> AsyncIterator[Pipeline]:
    simulation = SimulationConfig(price_interval_s=0.4, funding_interval_s=4.0, seed=11)
    # An oracle that never moves keeps its first version for the whole test, and one that
    # moves every slot may be read at an early slot after many more versions: keep every
    # slot's history and every version, however long the run takes on a loaded machine
    # (64 versions evicted one an early value was computed from, once, on a busy CI run).
    history = HistoryConfig(window_slots=1_000_000, max_versions=1_000_000)
    async with LocalnetServer(
        preset="mainnet", simulation=simulation, slot_ms=100, history=history
    ) as localnet:
        async for pipeline in _pipeline(localnet, nats):
            yield pipeline


async def _everything(
    client: DriftStreamClient,
) -> tuple[dict[str, FundingRate], dict[str, MarketSnapshot], dict[str, SpotMarketSnapshot]]:
    """Every market's funding, snapshot and spot snapshot, once all are published."""
    deadline = time.monotonic() + 30
    while True:
        funding = await client.funding_all()
        spots = await client.spots()
        if len(funding) == PERPS and len(spots) == SPOTS:
            prices = {s: p for s in funding if (p := await client.market(s)) is not None}
            if len(prices) == PERPS:
                return funding, prices, spots
        assert time.monotonic() < deadline, "not every market was published"
        await asyncio.sleep(0.1)  # the mirror has no "every market arrived" event


@pytest.mark.timeout(180)
async def test_every_published_figure_equals_the_sdk_driftclient(still: Pipeline) -> None:
    """Prices still: the SDK's own DriftClient on the same localnet, at each value's
    predicted_at and priced_at, gives every published field of all 85 perp and 63 spot
    markets (1MBONK-PERP and 1KPUMP-PERP priced too; the MM oracle used where the SDK
    uses it)."""
    localnet, client = still
    funding, prices, spots = await _everything(client)
    nows = {f.predicted_at for f in funding.values()} | {p.priced_at for p in prices.values()}
    async with SdkDriftClient() as sdk:
        await sdk.subscribe(localnet.url)
        figures = {now: await sdk.figures(now) for now in nows if now is not None}
    by_symbol = {
        now: {f["symbol"].upper(): f for f in figs["perps"]} for now, figs in figures.items()
    }
    problems: list[str] = []
    for rate in funding.values():
        assert rate.predicted_at is not None
        problems += funding_problems(by_symbol[rate.predicted_at][rate.symbol], rate)
    for price in prices.values():
        assert price.priced_at is not None
        problems += price_problems(by_symbol[price.priced_at][price.symbol], price)
    spot_figures = {f["symbol"]: f for f in next(iter(figures.values()))["spots"]}
    for spot in spots.values():
        problems += spot_problems(spot_figures[spot.symbol], spot)
    assert problems == []
    assert sum(p.mm_oracle_used for p in prices.values()) >= 10
    assert {"1MBONK-PERP", "1KPUMP-PERP"} <= set(prices)


async def _version(http: httpx.AsyncClient, base: str, pubkey: str, slot: int) -> tuple[str, int]:
    """An account's bytes (base64) and version slot as of `slot`, from localnet's history."""
    reply = await http.get(f"{base}/admin/account", params={"pubkey": pubkey, "slot": slot})
    reply.raise_for_status()
    body = reply.json()
    return body["account"]["data"][0], int(body["slot"])


@pytest.mark.timeout(180)
async def test_every_value_received_while_prices_move_equals_the_sdk(moving: Pipeline) -> None:
    """Prices, MM quotes, TWAPs and funding moving every 0.4 s: each funding and market
    value the engine receives over 8 s equals what the SDK computes from the account
    versions at its market_slot and oracle_slot, at its predicted_at / priced_at."""
    localnet, client = moving
    await _everything(client)
    markets = await client.markets()
    assert markets is not None
    info = {m.symbol: m for m in markets.markets}
    received: list[FundingRate | MarketSnapshot] = []

    async def collect(updates: AsyncIterator[Any]) -> None:
        async for value in updates:
            received.append(value)

    tasks = [
        asyncio.create_task(collect(client.watch_funding())),
        asyncio.create_task(collect(client.watch_market())),
    ]
    await asyncio.sleep(8)  # the window being sampled, not a wait for an event
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    values = [v for v in received if v.market_slot is not None and v.oracle_slot is not None]
    assert len(values) >= 500
    wanted = {
        (str(get_perp_market_public_key(DRIFT_PROGRAM_ID, v.market_index)), v.market_slot)
        for v in values
    } | {(info[v.symbol].oracle or "", v.oracle_slot) for v in values}
    wanted.add((str(STATE_ADDRESS), localnet.ledger.slot))
    gate = asyncio.Semaphore(8)

    async def version(http: httpx.AsyncClient, key: str, slot: int) -> tuple[str, int]:
        async with gate:
            return await _version(http, localnet.url, key, slot)

    async with httpx.AsyncClient(timeout=30) as http:
        fetched = await asyncio.gather(*(version(http, key, slot or 0) for key, slot in wanted))
    versions = dict(zip(wanted, fetched, strict=True))
    state = next(data for (key, _), (data, _) in versions.items() if key == str(STATE_ADDRESS))
    items = []
    for value in values:
        market = info[value.symbol]
        now = value.predicted_at if isinstance(value, FundingRate) else value.priced_at
        assert now is not None
        address = str(get_perp_market_public_key(DRIFT_PROGRAM_ID, value.market_index))
        items.append(
            {
                "market": versions[(address, value.market_slot)][0],
                "oracle": versions[(market.oracle or "", value.oracle_slot)][0],
                "oracle_source": market.oracle_source,
                "state": state,
                "now": now,
                "market_slot": value.market_slot,
                "oracle_slot": value.oracle_slot,
            }
        )
    figures: list[dict[str, Any]] = []
    async with SdkDriftClient() as sdk:
        for start in range(0, len(items), _BATCH):  # each request well within its timeout
            figures += (await sdk.compute(items[start : start + _BATCH], []))["perps"]
    problems: list[str] = []
    for value, fig in zip(values, figures, strict=True):
        if isinstance(value, FundingRate):
            problems += funding_problems(fig, value)
        else:
            problems += price_problems(fig, value)
    used = sum(isinstance(v, MarketSnapshot) and v.mm_oracle_used for v in values)
    print(f"compared {len(values)} values ({len(versions)} account versions), {used} MM-priced")
    assert problems == []
    assert used >= 10
