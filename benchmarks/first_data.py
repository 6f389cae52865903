"""Time to first data: a new engine's start -> its first funding value.

The streamer way: a new DriftStreamClient against a running streamer (connect, presence,
the mirror's initial load). The legacy way: a new DriftClient subscribing every market
by index, against localnet without limits (under the public limits it gets nothing:
see the RPC-load runs). Both in this process, after their imports (an engine process
also pays its interpreter's start: the RPC-load runs report that separately).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import close_legacy, legacy_client, pipeline
from benchmarks.latency import percentiles
from schemas import StreamerState
from subscribers.client import DriftStreamClient

__all__ = ["run_first_data"]

_POLL_S = 0.0005


async def run_first_data(
    root: Path, streamer_runs: int = 30, legacy_runs: int = 5
) -> dict[str, Any]:
    """Milliseconds to the first SOL-PERP funding, each way, with percentiles."""
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
                        await asyncio.sleep(_POLL_S)
                    stream_ms.append((time.perf_counter() - started) * 1000)
        for _ in range(legacy_runs):
            started = time.perf_counter()
            client = await legacy_client(ln.url)
            try:
                while client.get_perp_market_account(0) is None:
                    await asyncio.sleep(_POLL_S)
                legacy_ms.append((time.perf_counter() - started) * 1000)
            finally:
                await close_legacy(client)
    return {
        "streamer_ms": percentiles(stream_ms),
        "legacy_ms": percentiles(legacy_ms),
        "samples_ms": {"streamer": stream_ms, "legacy": legacy_ms},
    }
