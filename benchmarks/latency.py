"""Latency (localnet account change -> engine has the typed value) and time to first
data, the streamer way and the legacy way side by side in one process.

Legacy: a DriftClient subscribed to every perp market by index, as engines did before
the streamer; driftpy has no change callback, so its side is polled every 0.5 ms
(the figure is at most that much late). Streamer: a DriftStreamClient's watch.
The pipeline's own share is engine receipt minus the FundingRate's `ts`, which the
streamer sets when the decoded pass is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from localnet import MarketPatch
from localnet.server import LocalnetServer
from schemas import FundingRate, StreamerState
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers.client import DriftStreamClient
from subscribers.examples.funding_engine import direct_client

__all__ = ["legacy_client", "percentiles", "pipeline", "run_first_data", "run_latency"]

_POLL_S = 0.0005
_SYMBOLS = ("SOL-PERP", "BTC-PERP", "ETH-PERP", "JUP-PERP", "WIF-PERP")


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p99 and max of a sample (nearest rank), and its size."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {"n": len(ordered), "p50": rank(0.5), "p99": rank(0.99), "max": ordered[-1]}


@contextlib.asynccontextmanager
async def pipeline(root: Path) -> AsyncIterator[tuple[LocalnetServer, NatsServer, Streamer]]:
    async with (
        NatsServer(store_dir=root / "js-latency") as nats,
        LocalnetServer(preset="mainnet", slot_ms=400) as ln,
    ):
        settings = Settings(network="local", rpc_url=ln.url, nats_url=nats.url)
        app = Streamer(settings, lambda: DriftSource(ln.url))
        task = asyncio.create_task(app.run())
        try:
            await asyncio.wait_for(app.ready.wait(), 30)
            yield ln, nats, app
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def legacy_client(rpc_url: str) -> Any:
    """A subscribed DriftClient, the pre-streamer way (every market by index)."""
    client = direct_client(rpc_url)
    await client.subscribe()
    return client


async def _until(predicate: Any, within: float = 10.0) -> float:
    """perf_counter() when `predicate()` first holds (polled every 0.5 ms)."""
    deadline = time.perf_counter() + within
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("no update")
        await asyncio.sleep(_POLL_S)
    return time.perf_counter()


async def run_latency(root: Path, samples: int = 200) -> dict[str, Any]:
    """Change one market's funding `samples` times; both ways' delays in ms."""
    stream_ms: list[float] = []
    share_ms: list[float] = []
    legacy_ms: list[float] = []
    async with pipeline(root) as (ln, nats, app):
        legacy = await legacy_client(ln.url)
        async with DriftStreamClient("local", nats_url=nats.url, name="latency") as engine:
            while (
                app.state is not StreamerState.RUNNING
                or ln.stats_json()["subscriptions"]["program"] < 2
            ):
                await asyncio.sleep(0.01)  # a start-up wait: no event for "subscribed"
            await asyncio.sleep(1.0)  # let driftpy's websocket subscriptions settle
            updates = engine.watch_funding(_SYMBOLS)
            received: asyncio.Queue[tuple[float, float, FundingRate]] = asyncio.Queue()

            async def pump() -> None:
                async for value in updates:
                    received.put_nowait((time.perf_counter(), time.time(), value))

            pumping = asyncio.create_task(pump())
            symbols = itertools.cycle(_SYMBOLS)
            index = {s: ln.markets.perp(s).spec.market_index for s in _SYMBOLS}
            for i in range(samples):
                symbol, rate = next(symbols), 10_000 + i
                await asyncio.sleep(0.02)  # space the changes out: one in flight at a time
                sent = time.perf_counter()
                ln.markets.apply(MarketPatch(symbol=symbol, last_funding_rate=rate))

                def legacy_has(s: str = symbol, r: int = rate) -> bool:
                    market = legacy.get_perp_market_account(index[s])
                    return market is not None and market.amm.last_funding_rate == r

                legacy_at = asyncio.create_task(_until(legacy_has))
                while True:
                    at, wall, value = await asyncio.wait_for(received.get(), 10)
                    if value.symbol == symbol and value.last_funding_rate == rate:
                        break
                stream_ms.append((at - sent) * 1000)
                share_ms.append((wall - value.ts) * 1000)
                legacy_ms.append((await legacy_at - sent) * 1000)
            pumping.cancel()
            await asyncio.gather(pumping, return_exceptions=True)
        with contextlib.suppress(Exception):
            await legacy.unsubscribe()
    return {
        "streamer_end_to_end_ms": percentiles(stream_ms),
        "pipeline_share_ms": percentiles(share_ms),
        "legacy_ms": percentiles(legacy_ms),
        "samples_ms": {"streamer": stream_ms, "legacy": legacy_ms, "share": share_ms},
    }


async def run_first_data(
    root: Path, streamer_runs: int = 30, legacy_runs: int = 5
) -> dict[str, Any]:
    """A new engine's start -> its first funding value, against a running pipeline;
    and a new DriftClient's subscribe -> its first funding value."""
    stream_ms: list[float] = []
    legacy_ms: list[float] = []
    async with pipeline(root) as (ln, nats, app):
        async with DriftStreamClient("local", nats_url=nats.url, name="warm"):
            while app.state is not StreamerState.RUNNING or not app.status().markets:
                await asyncio.sleep(0.01)  # start-up: the first consumer starts the feed
            for i in range(streamer_runs):
                started = time.perf_counter()
                async with DriftStreamClient("local", nats_url=nats.url, name=f"new{i}") as new:
                    while await new.funding("SOL-PERP") is None:
                        await asyncio.sleep(0.0005)
                    stream_ms.append((time.perf_counter() - started) * 1000)
        for _ in range(legacy_runs):
            started = time.perf_counter()
            client = await legacy_client(ln.url)
            while client.get_perp_market_account(0) is None:
                await asyncio.sleep(0.0005)
            legacy_ms.append((time.perf_counter() - started) * 1000)
            with contextlib.suppress(Exception):
                await client.unsubscribe()
    return {"streamer_ms": percentiles(stream_ms), "legacy_ms": percentiles(legacy_ms)}
