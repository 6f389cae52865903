"""The CCXT tests' running stack (nats-server, localnet, a streamer, a client and two
DriftExchanges) and the checks they share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from ccxt.base.exchange import Exchange  # type: ignore[import-untyped]
from ccxt.base.types import (  # type: ignore[import-untyped]
    FundingRate as CcxtTypesFundingRate,
)

from localnet.server import LocalnetServer
from schemas import FundingRate
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.source import DriftSource
from subscribers.ccxt import CcxtFundingRate, DriftExchange, ccxt_symbol
from subscribers.client import DriftStreamClient
from tests.ccxt_types import assert_structure
from tests.fixtures_streamer import _settings

__all__ = [
    "MARKETS",
    "UNFILLED",
    "Stack",
    "assert_fills",
    "model",
    "patch_market",
    "published",
    "running_stack",
    "settled_as",
]

MARKETS = ("SOL-PERP", "BTC-PERP", "ETH-PERP")
# What Drift has no data for: left None, as binance leaves what it lacks
UNFILLED = {"interestRate", "nextFundingRate", "nextFundingTimestamp", "nextFundingDatetime"}


@dataclass
class Stack:
    """The module's streamer over localnet, a client, and an exchange of each kind."""

    nats_url: str
    localnet: LocalnetServer
    client: DriftStreamClient
    exchange: DriftExchange  # over `client`
    own: DriftExchange  # with a client of its own


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def patch_market(localnet: LocalnetServer, **fields: Any) -> None:
    """POST /admin/market on localnet."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{localnet.url}/admin/market", json=fields) as reply,
    ):
        assert reply.status == 200, await reply.text()


async def published(
    client: DriftStreamClient, symbol: str, wanted: Callable[[FundingRate], bool]
) -> FundingRate:
    """The first value of `symbol` (the live one, then updates) that is `wanted`."""
    updates = client.watch_funding([symbol])
    try:
        async with asyncio.timeout(15):
            async for value in updates:
                if wanted(value):
                    return value
    finally:
        await updates.aclose()
    raise AssertionError("unreachable: watch_funding never ends")


def settled_as(ts: int, rate: int) -> Callable[[FundingRate], bool]:
    """Whether a FundingRate carries the settlement (`ts`, `rate`)."""
    return lambda f: (f.last_funding_rate_ts, f.last_funding_rate) == (ts, rate)


def model(rate: CcxtFundingRate) -> FundingRate:
    """The FundingRate a unified FundingRate was made from (its `info`)."""
    return FundingRate.model_validate(rate["info"]["funding"])


def assert_fills(rate: CcxtFundingRate, funding: FundingRate) -> None:
    """`rate` is CCXT's FundingRate, every key we have data for filled from `funding`."""
    assert_structure(rate, CcxtTypesFundingRate)
    assert {k for k, v in rate.items() if v is None} == UNFILLED
    assert rate["symbol"] == ccxt_symbol(funding.symbol)
    assert funding.predicted_long_hourly_pct is not None
    assert funding.hourly_rate_pct is not None
    assert funding.next_funding_ts is not None
    assert funding.oracle_twap_live is not None
    assert rate["fundingRate"] == funding.predicted_long_hourly_pct / 100  # percent -> decimal
    assert rate["previousFundingRate"] == funding.hourly_rate_pct / 100
    assert rate["fundingTimestamp"] == funding.next_funding_ts * 1000  # seconds -> ms
    assert rate["previousFundingTimestamp"] == funding.last_funding_rate_ts * 1000
    assert rate["timestamp"] == round(funding.ts * 1000)
    assert rate["estimatedSettlePrice"] == funding.oracle_twap_live / 1e6
    assert rate["interval"] == "1h"
    market = rate["info"]["market"]
    assert (rate["markPrice"], rate["indexPrice"]) == (market["mark_price"], market["oracle_price"])
    values: Mapping[str, Any] = rate
    for when in ("", "funding", "previousFunding"):  # CCXT's own ISO 8601 of each time
        stamp, text = (f"{when}Timestamp", f"{when}Datetime") if when else ("timestamp", "datetime")
        assert values[text] == Exchange.iso8601(values[stamp])


@contextlib.asynccontextmanager
async def running_stack(root: Path) -> AsyncIterator[Stack]:
    """A nats-server (store under `root`), localnet (small preset, held still), a
    streamer, a client and exchanges on it, with every market's funding in."""
    async with contextlib.AsyncExitStack() as stack:
        nats = await stack.enter_async_context(
            NatsServer(store_dir=root / "js", log_file=root / "nats.log")
        )
        localnet = await stack.enter_async_context(LocalnetServer(preset="small", slot_ms=50))
        app = Streamer(
            _settings(nats.url, localnet.url),
            lambda: DriftSource(localnet.url),
            grace_s=0.3,
            publish_interval_s=0.05,
            status_interval_s=0.5,
        )
        task = asyncio.create_task(app.run())
        stack.push_async_callback(_stop, task)
        await asyncio.wait_for(app.ready.wait(), 10)
        client = await stack.enter_async_context(
            DriftStreamClient("local", nats_url=nats.url, name="ccxt-tests", presence_ttl_s=2)
        )
        exchange = await stack.enter_async_context(DriftExchange(client))
        own = await stack.enter_async_context(DriftExchange(network="local", nats_url=nats.url))
        for symbol in MARKETS:  # the first consumer started Drift: values within timeout
            await own.fetch_funding_rate(symbol)
        # A market's snapshot is a separate value from its funding: in both mirrors too
        for reader in (client, own._client):
            for symbol in MARKETS:
                snapshots = reader.watch_market([symbol])
                try:
                    await asyncio.wait_for(anext(snapshots), 15)
                finally:
                    await snapshots.aclose()
        yield Stack(nats.url, localnet, client, exchange, own)
