"""Latency: a localnet account change -> an engine has the typed FundingRate, the
streamer way and the legacy way side by side in one process.

Legacy: a DriftClient subscribed to every perp market by index, as engines did before
the streamer; driftpy has no change callback, so its side is polled every 0.5 ms
(the figure is at most that much late). Streamer: a DriftStreamClient's watch.
The pipeline's own share is engine receipt minus the FundingRate's `ts`, which the
streamer sets when it starts publishing a decoded pass (model building, encoding, the
KV write with its ack, the republish and the client's decode).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import close_legacy, legacy_client, pipeline
from localnet import MarketPatch
from localnet.server import LocalnetServer
from schemas import FundingRate, StreamerState
from subscribers.client import DriftStreamClient

__all__ = ["percentiles", "run_latency", "run_latency_intervals"]

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


async def _until(predicate: Any, within: float = 10.0) -> float:
    """perf_counter() when `predicate()` first holds (polled every 0.5 ms)."""
    deadline = time.perf_counter() + within
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("no update")
        await asyncio.sleep(_POLL_S)
    return time.perf_counter()


async def run_latency_intervals(
    root: Path, samples: int, intervals_s: tuple[float, ...] = (0.25, 0.05)
) -> dict[str, Any]:
    """`run_latency` at each publish interval (the streamer's fallback timer; passes
    run on driftpy's account updates): the first interval's run in full, and the
    streamer's figures at every interval under `by_interval`."""
    runs = [await run_latency(root, samples, publish_interval_s=s) for s in intervals_s]
    first = runs[0]
    first["by_interval"] = [
        {
            "publish_interval_s": run["publish_interval_s"],
            "streamer_end_to_end_ms": run["streamer_end_to_end_ms"],
            "pipeline_share_ms": run["pipeline_share_ms"],
            "legacy_ms": run["legacy_ms"],
        }
        for run in runs
    ]
    return first


async def run_latency(
    root: Path, samples: int = 200, *, publish_interval_s: float = 0.25
) -> dict[str, Any]:
    """Change one market's funding `samples` times; both ways' delays in ms."""
    delays: dict[str, list[float]] = {"streamer": [], "legacy": [], "share": []}
    async with pipeline(root, publish_interval_s=publish_interval_s) as (ln, nats, app):
        legacy = await legacy_client(ln.url)
        try:
            async with DriftStreamClient("local", nats_url=nats.url, name="latency") as engine:
                # A start-up wait (no event for "subscribed"): the streamer publishes
                # every measured market (its feed uses no programSubscribe to count).
                while app.state is not StreamerState.RUNNING or None in [
                    await engine.funding(s) for s in _SYMBOLS
                ]:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(1.0)  # let driftpy's websocket subscriptions settle
                await _measure(ln, engine, legacy, samples, delays)
        finally:
            await close_legacy(legacy)
    return {
        "publish_interval_s": publish_interval_s,
        "streamer_end_to_end_ms": percentiles(delays["streamer"]),
        "pipeline_share_ms": percentiles(delays["share"]),
        "legacy_ms": percentiles(delays["legacy"]),
        "samples_ms": delays,
    }


async def _measure(
    ln: LocalnetServer,
    engine: DriftStreamClient,
    legacy: Any,
    samples: int,
    delays: dict[str, list[float]],
) -> None:
    received: asyncio.Queue[tuple[float, float, FundingRate]] = asyncio.Queue()

    async def pump() -> None:
        async for value in engine.watch_funding(_SYMBOLS):
            received.put_nowait((time.perf_counter(), time.time(), value))

    pumping = asyncio.create_task(pump())
    try:
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
            delays["streamer"].append((at - sent) * 1000)
            delays["share"].append((wall - value.ts) * 1000)
            delays["legacy"].append((await legacy_at - sent) * 1000)
    finally:
        pumping.cancel()
        await asyncio.gather(pumping, return_exceptions=True)
