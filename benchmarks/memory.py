"""Memory: the process-per-engine totals (from `rpc_load` runs without limits), what one
more engine costs inside a process that already runs one, the floor an engine process
stands on (an interpreter and its imports, before any data), and an engine process at
its first data.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.harness import close_legacy, legacy_client, pipeline
from benchmarks.procs import python, rss_mb
from schemas import StreamerState
from subscribers.client import DriftStreamClient

__all__ = [
    "FLOORS",
    "memory_summary",
    "run_first_data_rss",
    "run_floor",
    "run_marginal_memory",
]

# What a fresh interpreter holds after these imports (each in a process of its own).
FLOORS = {
    "Python alone": "",
    "+ pydantic and the wire models (schemas)": "import schemas",
    "+ nats-py as it imports itself (aiohttp, for its websocket transport)": (
        "import schemas, nats"
    ),
    "+ nats-py, its websocket transport deferred (subscribers.lean_imports)": (
        "import schemas, subscribers.lean_imports"
    ),
    "a streamer engine's imports (subscribers.client)": "import subscribers.client",
    "a legacy engine's imports (driftpy's DriftClient)": "import driftpy.drift_client",
}
_PRINT_RSS = "print(next(l.split()[1] for l in open('/proc/self/status') if l[:6] == 'VmRSS:'))"


def memory_summary(memory: list[dict[str, Any]]) -> dict[str, float]:
    """Total at the largest N and marginal RSS per engine process (between the
    smallest and the largest N), each way, from `rpc_load` runs without limits."""
    ns = sorted({r["engines"] for r in memory})
    low, high = ns[0], ns[-1]

    def total(mode: str, n: int, key: str = "rss_total_mb") -> float:
        return float(next(r[key] for r in memory if r["mode"] == mode and r["engines"] == n))

    legacy_per = (total("legacy", high) - total("legacy", low)) / (high - low)
    streamer_per = (total("streamer", high) - total("streamer", low)) / (high - low)
    return {
        "n": high,
        "n_low": low,
        "legacy_total_mb": total("legacy", high),
        "streamer_total_mb": total("streamer", high),
        "total_less_pct": 100 * (1 - total("streamer", high) / total("legacy", high)),
        "legacy_pss_mb": total("legacy", high, "pss_total_mb"),
        "streamer_pss_mb": total("streamer", high, "pss_total_mb"),
        "pss_less_pct": 100
        * (1 - total("streamer", high, "pss_total_mb") / total("legacy", high, "pss_total_mb")),
        "legacy_per_engine_mb": legacy_per,
        "streamer_per_engine_mb": streamer_per,
        "per_engine_less_pct": 100 * (1 - streamer_per / legacy_per),
    }


async def run_floor() -> dict[str, float]:
    """MB of RSS of a fresh interpreter after each set of imports in FLOORS."""
    floors = {}
    for label, imports in FLOORS.items():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", f"{imports}\n{_PRINT_RSS}", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        floors[label] = int(out) / 1024
    return floors


async def run_first_data_rss(root: Path, runs: int = 3) -> dict[str, float]:
    """MB of RSS of an engine process (`benchmarks.engine streamer`) once it has every
    market's funding, with the streamer running: the median of `runs` processes."""
    found: list[float] = []
    async with pipeline(root) as (_, nats, _app):
        for _ in range(runs):
            proc = await python("benchmarks.engine", "streamer", "--nats-url", nats.url)
            assert proc.stdout is not None
            try:
                async with asyncio.timeout(60):
                    while "ready" not in json.loads(await proc.stdout.readline() or b"{}"):
                        pass
                found.append(rss_mb(proc.pid))
            finally:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                await proc.communicate()
    return {"median_mb": statistics.median(found), "runs": float(runs)}


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
        try:
            gc.collect()
            before = rss_mb(pid)
            for _ in range(engines):
                legacy.append(await legacy_client(ln.url))
            gc.collect()
            legacy_mb = (rss_mb(pid) - before) / engines
        finally:
            await asyncio.gather(*(close_legacy(c) for c in legacy))
    return {
        "engines": engines,
        "streamer_mb_per_engine": streamer_mb,
        "legacy_mb_per_engine": legacy_mb,
        "less_pct": 100 * (1 - streamer_mb / legacy_mb) if legacy_mb else 0.0,
    }
