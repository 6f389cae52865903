"""RPC load and memory: N engine processes against a mainnet localnet, the legacy way
(a DriftClient each) or through one streamer, for a fixed window.

Counts at localnet cover the whole window, the engines' start included (that is when
a DriftClient costs the RPC most). Memory and CPU are every process of the system at
the end of the window: the engines, plus the streamer and nats-server on the streamer
way (localnet itself runs in the benchmark's process and is not counted). Both ways
run at the same time (`run_pair`), each against a localnet of its own; the legacy
engines a few steps lower in priority, so that on a small machine their CPU storm does
not starve the streamer side (in production they would not share a machine at all).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.fleet import Fleet
from benchmarks.harness import localnet, streamer_process
from benchmarks.procs import cpu_seconds, pss_mb, rss_mb
from benchmarks.scrape import counters
from localnet.server import LocalnetServer
from localnet.simulation import SimulationConfig
from streamer.nats_server import NatsServer
from streamer.ports import free_ports

__all__ = ["LoadResult", "run_load", "run_pair"]

_SIMULATION = SimulationConfig(price_interval_s=1.0, funding_interval_s=60.0)
_TIMELINE_EVERY_S = 5
LEGACY_NICE = 5


@dataclass
class LoadResult:
    """One way at one N."""

    mode: str
    engines: int
    window_s: float
    limited: bool = True
    http_requests: int = 0
    rpc_calls: int = 0
    rate_limited: int = 0
    ws_connections: int = 0
    ws_refused: int = 0
    ws_subscribe_requests: int = 0
    peak_ws_open: int = 0
    peak_subscriptions: int = 0
    engines_started: int = 0
    engines_with_data: int = 0
    ready_ms_p50: float | None = None
    subscribe_failures: int = 0
    rss_engines_mb: float = 0.0
    rss_streamer_mb: float = 0.0
    rss_nats_mb: float = 0.0
    pss_total_mb: float = 0.0
    cpu_engines_s: float = 0.0
    cpu_streamer_s: float = 0.0
    cpu_nats_s: float = 0.0
    requests_per_method: dict[str, int] = field(default_factory=dict)
    streamer_restarts: int = 0  # DriftClient restarts (watchdog, errors)
    streamer_errors: dict[str, int] = field(default_factory=dict)  # by kind
    # [seconds, HTTP requests, 429s, websockets open, subscriptions] every few seconds
    timeline: list[list[float]] = field(default_factory=list)

    @property
    def rss_total_mb(self) -> float:
        return self.rss_engines_mb + self.rss_streamer_mb + self.rss_nats_mb

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rss_total_mb": self.rss_total_mb}


async def run_pair(n: int, window_s: float, root: Path, **kwargs: Any) -> list[LoadResult]:
    """The legacy way and the streamer way at the same N, at the same time."""
    return list(
        await asyncio.gather(
            run_load("legacy", n, window_s, root, nice=LEGACY_NICE, **kwargs),
            run_load("streamer", n, window_s, root, **kwargs),
        )
    )


async def run_load(
    mode: str,
    n: int,
    window_s: float,
    root: Path,
    *,
    limits: bool = True,
    settle_s: float | None = None,
    concurrency: int = 4,
    nice: int = 0,
) -> LoadResult:
    """N engines of `mode` ("legacy" or "streamer") for `window_s` seconds. Without
    `limits` the RPC answers everything; with `settle_s` the window ends that long after
    every engine has its data (a memory measurement), at the latest after `window_s`."""
    result = LoadResult(mode=mode, engines=n, window_s=window_s, limited=limits)
    helpers: list[int] = []
    (metrics_port,) = free_ports(1, "127.0.0.1")
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    nats: NatsServer | None = None
    async with contextlib.AsyncExitStack() as stack:
        ln = await stack.enter_async_context(localnet(limits=limits, simulation=_SIMULATION))
        nats_url = ""
        if mode == "streamer":
            store = root / f"js-{mode}-{n}-{'limited' if limits else 'open'}"
            nats = await stack.enter_async_context(NatsServer(store_dir=store))
            nats_url = nats.url
            streamer = await stack.enter_async_context(
                streamer_process(ln.url, nats_url, metrics_port=metrics_port)
            )
            helpers.append(streamer.pid)
        ln.stats.reset()
        args = [mode, "--nats-url", nats_url, "--rpc-url", ln.url]
        fleet = await stack.enter_async_context(Fleet(n, args, concurrency=concurrency, nice=nice))
        if settle_s is None:
            await _sample(ln, result, window_s)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fleet.all_ready(), window_s)
            await asyncio.sleep(settle_s)  # settled: the memory of engines with data
        result.rss_engines_mb, result.cpu_engines_s = fleet.rss_mb(), fleet.cpu_s()
        result.rss_streamer_mb = sum(rss_mb(pid) for pid in helpers)
        result.cpu_streamer_s = sum(cpu_seconds(pid) for pid in helpers)
        pids = helpers + ([nats.pid] if nats is not None and nats.pid else [])
        result.pss_total_mb = fleet.pss_mb() + sum(pss_mb(pid) for pid in pids)
        if nats is not None and nats.pid:
            result.rss_nats_mb, result.cpu_nats_s = rss_mb(nats.pid), cpu_seconds(nats.pid)
            _streamer_health(metrics_url, result)
        _count(ln.stats_json(), result)
    # the fleet has stopped: every engine printed its report
    ready = [ms for e in fleet.engines if (ms := e.ready_ms()) is not None]
    result.engines_started = len(fleet.engines)
    result.engines_with_data = len(ready)
    result.ready_ms_p50 = statistics.median(ready) if ready else None
    result.subscribe_failures = sum(e.report().get("subscribe_failures", 0) for e in fleet.engines)
    return result


async def _sample(ln: LocalnetServer, result: LoadResult, window_s: float) -> None:
    """Peaks every second and a timeline point every few, for `window_s` seconds."""
    started = time.monotonic()
    tick = 0
    while True:
        elapsed = time.monotonic() - started
        stats = ln.stats_json()
        result.peak_ws_open = max(result.peak_ws_open, stats["ws_connections_open"])
        result.peak_subscriptions = max(result.peak_subscriptions, stats["subscriptions_active"])
        if tick % _TIMELINE_EVERY_S == 0 or elapsed >= window_s:
            result.timeline.append(
                [
                    round(elapsed, 1),
                    stats["http_requests"],
                    stats["rate_limited"],
                    stats["ws_connections_open"],
                    stats["subscriptions_active"],
                ]
            )
        if elapsed >= window_s:
            return
        tick += 1
        await asyncio.sleep(min(1.0, window_s - elapsed))  # a sampling period, not an event


def _streamer_health(metrics_url: str, result: LoadResult) -> None:
    """What went wrong in the streamer during the run (restarts, errors by kind)."""
    restarts = counters(metrics_url, "drift_stream_reconnects_total", "network")
    result.streamer_restarts = int(sum(restarts.values()))
    errors = counters(metrics_url, "drift_stream_rpc_errors_total", "kind")
    result.streamer_errors = {kind: int(n) for kind, n in errors.items() if n}


def _count(stats: dict[str, Any], result: LoadResult) -> None:
    result.peak_ws_open = max(result.peak_ws_open, stats["ws_connections_open"])
    result.peak_subscriptions = max(result.peak_subscriptions, stats["subscriptions_active"])
    result.http_requests = stats["http_requests"]
    result.rpc_calls = stats["rpc_calls"]
    result.rate_limited = stats["rate_limited"]
    result.ws_connections = stats["ws_connections_total"]
    result.ws_refused = stats["ws_refused"]
    result.ws_subscribe_requests = sum(stats["ws_requests_per_method"].values())
    result.requests_per_method = dict(stats["requests_per_method"])
