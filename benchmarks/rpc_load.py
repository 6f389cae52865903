"""RPC load and memory: N engine processes against a rate-limited mainnet localnet, the
legacy way (a DriftClient each) or through one streamer, for a fixed window.

Counts at localnet cover the whole window, the engines' start included (that is when
a DriftClient costs the RPC most); memory is every process of the system at the end
of the window: engines, plus the streamer and nats-server on the streamer way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.procs import python, rss_mb, stop_all
from localnet import FaultRequest
from localnet.server import LocalnetServer
from localnet.simulation import SimulationConfig
from streamer.nats_server import NatsServer

__all__ = ["PUBLIC_LIMITS", "LoadResult", "run_load"]

# What public Solana RPC providers allow: 100 requests per 10 s, 40 per method, 40
# connections.
PUBLIC_LIMITS = {
    "rate_limit": {"requests": 100, "per_s": 10, "per_method": 40},
    "max_connections": 40,
}


@dataclass
class LoadResult:
    """One mode at one N."""

    mode: str
    engines: int
    window_s: float
    limited: bool = True
    http_requests: int = 0
    rpc_calls: int = 0
    rate_limited: int = 0
    ws_connections: int = 0
    ws_refused: int = 0
    peak_ws_open: int = 0
    peak_subscriptions: int = 0
    engines_with_data: int = 0
    ready_ms_p50: float | None = None
    subscribe_failures: int = 0
    rss_engines_mb: float = 0.0
    rss_streamer_mb: float = 0.0
    rss_nats_mb: float = 0.0
    requests_per_method: dict[str, int] = field(default_factory=dict)

    @property
    def rss_total_mb(self) -> float:
        return self.rss_engines_mb + self.rss_streamer_mb + self.rss_nats_mb

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rss_total_mb": self.rss_total_mb}


async def _lines(proc: asyncio.subprocess.Process, into: list[dict[str, Any]]) -> None:
    assert proc.stdout is not None
    async for raw in proc.stdout:
        with contextlib.suppress(ValueError):
            into.append(json.loads(raw))


async def run_load(
    mode: str, n: int, window_s: float, root: Path, *, limits: bool = True
) -> LoadResult:
    """N engines of `mode` ("legacy" or "streamer") for `window_s` seconds; without
    `limits` the RPC answers everything (memory is then that of subscribed engines)."""
    result = LoadResult(mode=mode, engines=n, window_s=window_s, limited=limits)
    simulation = SimulationConfig(price_interval_s=1.0, funding_interval_s=60.0)
    async with contextlib.AsyncExitStack() as stack:
        ln = await stack.enter_async_context(
            LocalnetServer(preset="mainnet", slot_ms=400, simulation=simulation)
        )
        if limits:
            await ln.set_faults(FaultRequest.model_validate(PUBLIC_LIMITS))
        nats_url, helpers = "", []
        nats: NatsServer | None = None
        if mode == "streamer":
            nats = await stack.enter_async_context(NatsServer(store_dir=root / f"js-{n}"))
            nats_url = nats.url
            streamer = await python(
                "streamer.cli",
                "--log-level",
                "WARNING",
                "streamer",
                env={"DRIFT_NETWORK": "local", "DRIFT_RPC_URL": ln.url, "NATS_URL": nats_url},
            )
            helpers.append(streamer)
            stack.push_async_callback(stop_all, helpers)
            assert streamer.stdout is not None
            await asyncio.wait_for(streamer.stdout.readline(), 60)  # its start line
        ln.stats.reset()
        started = time.monotonic()
        engines = [
            await python("benchmarks.engine", mode, "--nats-url", nats_url, "--rpc-url", ln.url)
            for _ in range(n)
        ]
        outputs: list[list[dict[str, Any]]] = [[] for _ in engines]
        readers = [
            asyncio.create_task(_lines(p, out)) for p, out in zip(engines, outputs, strict=True)
        ]
        try:
            while time.monotonic() - started < window_s:
                stats = ln.stats_json()
                result.peak_ws_open = max(result.peak_ws_open, stats["ws_connections_open"])
                result.peak_subscriptions = max(
                    result.peak_subscriptions, stats["subscriptions_active"]
                )
                await asyncio.sleep(1.0)  # a sampling period, not a wait for an event
            result.rss_engines_mb = sum(rss_mb(p.pid) for p in engines)
            result.rss_streamer_mb = sum(rss_mb(p.pid) for p in helpers)
            result.rss_nats_mb = rss_mb(nats.pid) if nats is not None else 0.0
            stats = ln.stats_json()
        finally:
            await stop_all(engines)
            await asyncio.gather(*readers, return_exceptions=True)
    result.http_requests = stats["http_requests"]
    result.rpc_calls = stats["rpc_calls"]
    result.rate_limited = stats["rate_limited"]
    result.ws_connections = stats["ws_connections_total"]
    result.ws_refused = stats["ws_refused"]
    result.requests_per_method = dict(stats["requests_per_method"])
    finals = [out[-1] for out in outputs if out and "mode" in out[-1]]
    ready = [out[0]["ready"] for out in outputs if out and "ready" in out[0]]
    result.engines_with_data = len(ready)
    result.ready_ms_p50 = statistics.median(ready) if ready else None
    result.subscribe_failures = sum(f.get("subscribe_failures", 0) for f in finals)
    return result
