"""Marginal memory of one more engine inside a process that already runs engines:
a DriftStreamClient against a DriftClient subscribed to every market by index.

The process-per-engine figures (rpc_load) carry a Python interpreter and its imports
per engine (nats-py alone brings aiohttp: about 36 MB before any data); this is what
each further engine costs when engines share a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from pathlib import Path
from typing import Any

from benchmarks.latency import legacy_client, pipeline
from benchmarks.procs import rss_mb
from schemas import StreamerState
from subscribers.client import DriftStreamClient

__all__ = ["run_marginal_memory"]


async def run_marginal_memory(root: Path, engines: int = 10) -> dict[str, Any]:
    """MB per added engine, each way, after one warm-up engine of each kind."""
    pid = os.getpid()
    async with pipeline(root) as (ln, nats, app):
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(DriftStreamClient("local", nats_url=nats.url))
            while app.state is not StreamerState.RUNNING or not app.status().markets:
                await asyncio.sleep(0.05)  # start-up: the first consumer starts the feed
            gc.collect()
            before = rss_mb(pid)
            for i in range(engines):
                await stack.enter_async_context(
                    DriftStreamClient("local", nats_url=nats.url, name=f"m{i}")
                )
            gc.collect()
            streamer_mb = (rss_mb(pid) - before) / engines
        legacy = [await legacy_client(ln.url)]  # the warm-up one: imports, caches
        gc.collect()
        before = rss_mb(pid)
        for _ in range(engines):
            legacy.append(await legacy_client(ln.url))
        gc.collect()
        legacy_mb = (rss_mb(pid) - before) / engines
        for client in legacy:
            with contextlib.suppress(Exception):
                await client.unsubscribe()
    return {
        "engines": engines,
        "streamer_mb_per_engine": streamer_mb,
        "legacy_mb_per_engine": legacy_mb,
        "less_pct": 100 * (1 - streamer_mb / legacy_mb) if legacy_mb else 0.0,
    }
