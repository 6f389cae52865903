"""Fan-out and streamer cost: 100 engines while every market's funding and price
change at slot rate (400 ms).

The streamer runs as a process of its own (`drift-stream streamer`), so its CPU is
its own; the engines share this process (ten NATS connections). "No message lost":
every engine applied exactly as many updates as the streamer wrote values. The
streamer's idle CPU (the same feed, nothing changing) is measured first and taken off.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

from benchmarks.harness import localnet, streamer_process
from benchmarks.procs import cpu_seconds
from benchmarks.scrape import counters, varz
from localnet.simulation import MarketSimulator, SimulationConfig
from streamer.nats_server import NatsServer
from streamer.ports import free_ports
from subscribers.client import DriftStreamClient

__all__ = ["run_fanout"]

_CONNECTIONS = 10
_IDLE_S = 5.0


def _writes(metrics_url: str) -> dict[str, float]:
    return counters(metrics_url, "drift_stream_publishes_total", "bucket")


async def run_fanout(
    root: Path,
    engines: int = 100,
    rounds: int = 75,
    slot_s: float = 0.4,
    *,
    profile_to: Path | None = None,
    decoder: str | None = None,
) -> dict[str, Any]:
    """`rounds` slots of every market changing; counts, CPU and NATS throughput. With
    `profile_to`, the streamer is profiled over the window (slower: read the shares);
    `decoder` is the streamer's DRIFT_DECODER."""
    (metrics_port,) = free_ports(1, "127.0.0.1")
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    async with contextlib.AsyncExitStack() as stack:
        store = Path(tempfile.mkdtemp(prefix="js-fanout-", dir=root))
        server = await stack.enter_async_context(NatsServer(store_dir=store))
        ln = await stack.enter_async_context(localnet(limits=False, slot_ms=slot_s * 1000))
        streamer = await stack.enter_async_context(
            streamer_process(
                ln.url,
                server.url,
                metrics_port=metrics_port,
                profile_to=profile_to,
                decoder=decoder,
            )
        )
        conns = [await nats.connect(server.url) for _ in range(_CONNECTIONS)]
        for conn in conns:
            stack.push_async_callback(conn.close)
        clients = [
            DriftStreamClient(
                "local", nc=conns[i % _CONNECTIONS], name=f"fan{i}", consumer_id=f"fan{i:03d}"
            )
            for i in range(engines)
        ]
        stack.push_async_callback(_close_all, clients)
        for client in clients:
            await client.connect()
        while len(await clients[-1].funding_all()) < len(ln.markets.perps) - 2:
            await asyncio.sleep(0.05)  # start-up: the first values are on their way
        await asyncio.sleep(2.0)  # let the start-up burst settle before counting
        idle_cpu = cpu_seconds(streamer.pid)
        await asyncio.sleep(_IDLE_S)  # the idle rate: slots, refreshes, no change
        idle_rate = (cpu_seconds(streamer.pid) - idle_cpu) / _IDLE_S
        simulator = MarketSimulator(ln.markets, SimulationConfig(volatility=0.001))
        before = _snapshot(clients, streamer.pid, metrics_url, server.monitor_url)
        if profile_to is not None:
            streamer.send_signal(signal.SIGUSR1)
        started = time.perf_counter()
        for i in range(rounds):
            simulator.update_funding()
            simulator.step_prices()
            await asyncio.sleep(max(0.0, started + (i + 1) * slot_s - time.perf_counter()))
        window = time.perf_counter() - started
        written = await _settle(clients, metrics_url, before)
        after = _snapshot(clients, streamer.pid, metrics_url, server.monitor_url)
        if profile_to is not None:
            streamer.send_signal(signal.SIGUSR2)
            assert streamer.stdout is not None
            await asyncio.wait_for(streamer.stdout.readline(), 60)  # "profile written"
        markets = len(ln.markets.perps)
    received = [a - b for a, b in zip(after["updates"], before["updates"], strict=True)]
    cpu = after["cpu"] - before["cpu"]
    varz = {k: after["varz"][k] - before["varz"][k] for k in after["varz"]}
    market_updates = rounds * markets
    return {
        "engines": engines,
        "connections": _CONNECTIONS,
        "rounds": rounds,
        "window_s": window,
        "markets": markets,
        "values_written": written,
        "engines_complete": sum(1 for r in received if r == written),
        "received_min": min(received),
        "received_max": max(received),
        "streamer_cpu_s": cpu,
        "streamer_cpu_pct": 100 * cpu / window,
        "streamer_idle_cpu_pct": 100 * idle_rate,
        "cpu_per_value_us": 1e6 * cpu / max(written, 1),
        "market_updates": market_updates,
        "cpu_per_market_update_us": 1e6 * cpu / market_updates,
        "cpu_per_market_update_above_idle_us": 1e6
        * max(0.0, cpu - idle_rate * window)
        / market_updates,
        "nats_in_msgs_per_s": varz["in_msgs"] / window,
        "nats_out_msgs_per_s": varz["out_msgs"] / window,
        "nats_in_mb_per_s": varz["in_bytes"] / window / 1e6,
        "nats_out_mb_per_s": varz["out_bytes"] / window / 1e6,
    }


async def _close_all(clients: list[DriftStreamClient]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def _snapshot(
    clients: list[DriftStreamClient], pid: int, metrics_url: str, monitor_url: str
) -> dict[str, Any]:
    server = varz(monitor_url)
    return {
        "updates": [c.stats.updates for c in clients],
        "cpu": cpu_seconds(pid),
        "writes": _writes(metrics_url),
        "varz": {k: server[k] for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes")},
    }


async def _settle(
    clients: list[DriftStreamClient], metrics_url: str, before: dict[str, Any]
) -> int:
    """Values the streamer wrote since `before` (every bucket), once the streamer and
    every engine are quiet, or after 10 s."""
    deadline = time.monotonic() + 10
    last = -1
    while True:
        writes = _writes(metrics_url)
        total = int(sum(n - before["writes"].get(b, 0) for b, n in writes.items()))
        got = [c.stats.updates - b for c, b in zip(clients, before["updates"], strict=True)]
        if (total == last and all(g == total for g in got)) or time.monotonic() > deadline:
            return total
        last = total
        await asyncio.sleep(0.25)  # counters of two processes: there is no shared event
