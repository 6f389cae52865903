"""Fan-out and streamer cost: 100 engines while every market's funding and price
change at slot rate (400 ms).

The streamer runs as a process of its own (`drift-stream streamer`), so its CPU is
its own; the engines run in a few engine processes (`benchmarks.fan_engines`, three NATS
connections each), as separate engines would, localnet in this one. "No message lost":
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

from benchmarks.fan_engines import EngineProcs
from benchmarks.harness import localnet, streamer_process
from benchmarks.procs import cpu_seconds, machine_ticks
from benchmarks.scrape import counters, varz
from localnet.simulation import MarketSimulator, SimulationConfig
from streamer.nats_server import NatsServer
from streamer.ports import free_ports

__all__ = ["run_fanout"]

_CONNECTIONS = 3  # per engine process
_IDLE_S = 5.0


def _writes(metrics_url: str) -> dict[str, float]:
    return counters(metrics_url, "drift_stream_publishes_total", "bucket")


async def run_fanout(
    root: Path,
    engines: int = 100,
    rounds: int = 75,
    slot_s: float = 0.4,
    *,
    processes: int = 4,
    preset: str = "mainnet",
    funding: bool = True,
    profile_to: Path | None = None,
    decoder: str | None = None,
) -> dict[str, Any]:
    """`rounds` slots of every market changing; counts, CPU and NATS throughput. With
    `profile_to`, the streamer is profiled over the window (slower: read the shares);
    `decoder` is the streamer's DRIFT_DECODER; with `funding=False` only the oracles
    move (localnet rewrites no perp account for funding). The engines run in
    `processes` engine processes (`benchmarks.fan_engines`); `preset` is localnet's
    (e.g. `synthetic-500`). The CPU of nats-server and of this process (localnet and its
    simulator) is given too, and the window the slots took against the planned one
    (localnet falling behind)."""
    (metrics_port,) = free_ports(1, "127.0.0.1")
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    async with contextlib.AsyncExitStack() as stack:
        store = Path(tempfile.mkdtemp(prefix="js-fanout-", dir=root))
        server = await stack.enter_async_context(NatsServer(store_dir=store))
        ln = await stack.enter_async_context(
            localnet(limits=False, slot_ms=slot_s * 1000, preset=preset)
        )
        streamer = await stack.enter_async_context(
            streamer_process(
                ln.url,
                server.url,
                metrics_port=metrics_port,
                profile_to=profile_to,
                decoder=decoder,
            )
        )
        markets = len(ln.markets.perps)
        fleet = await stack.enter_async_context(
            EngineProcs(server.url, engines, processes, markets - 2, _CONNECTIONS)
        )
        await asyncio.sleep(2.0)  # let the start-up burst settle before counting
        idle_cpu = cpu_seconds(streamer.pid)
        await asyncio.sleep(_IDLE_S)  # the idle rate: slots, refreshes, no change
        idle_rate = (cpu_seconds(streamer.pid) - idle_cpu) / _IDLE_S
        simulator = MarketSimulator(ln.markets, SimulationConfig(volatility=0.001))
        before = await _snapshot(fleet, streamer.pid, metrics_url, server.monitor_url)
        before_nats, before_here = cpu_seconds(server.pid), time.process_time()
        machine_before = machine_ticks()
        if profile_to is not None:
            streamer.send_signal(signal.SIGUSR1)
        started = time.perf_counter()
        for i in range(rounds):
            if funding:
                simulator.update_funding()
            simulator.step_prices()
            await asyncio.sleep(max(0.0, started + (i + 1) * slot_s - time.perf_counter()))
        window = time.perf_counter() - started
        machine_after = machine_ticks()
        nats_cpu, here_cpu = (
            cpu_seconds(server.pid) - before_nats,
            time.process_time() - before_here,
        )
        written = await _settle(fleet, metrics_url, before)
        after = await _snapshot(fleet, streamer.pid, metrics_url, server.monitor_url)
        if profile_to is not None:
            streamer.send_signal(signal.SIGUSR2)
            assert streamer.stdout is not None
            await asyncio.wait_for(streamer.stdout.readline(), 60)  # "profile written"
    received = [a - b for a, b in zip(after["updates"], before["updates"], strict=True)]
    cpu = after["cpu"] - before["cpu"]
    span = after["at"] - before["at"]  # the window and the settling after it
    varz = {k: after["varz"][k] - before["varz"][k] for k in after["varz"]}
    market_updates = rounds * markets
    return {
        "engines": engines,
        "processes": processes,
        "connections": _CONNECTIONS * processes,
        "rounds": rounds,
        "window_s": window,
        "markets": markets,
        "values_written": written,
        "engines_complete": sum(1 for r in received if r == written),
        "received_min": min(received),
        "received_max": max(received),
        "streamer_cpu_s": cpu,
        "streamer_cpu_pct": 100 * cpu / span,
        "streamer_idle_cpu_pct": 100 * idle_rate,
        "cpu_per_value_us": 1e6 * cpu / max(written, 1),
        "market_updates": market_updates,
        "cpu_per_market_update_us": 1e6 * cpu / market_updates,
        "cpu_per_market_update_above_idle_us": 1e6
        * max(0.0, cpu - idle_rate * window)
        / market_updates,
        "preset": preset,
        "funding_changed": funding,
        "planned_window_s": rounds * slot_s,
        "nats_cpu_pct": 100 * nats_cpu / window,
        "machine_busy_pct": 100
        * (machine_after[0] - machine_before[0])
        / max(machine_after[1] - machine_before[1], 1),
        "localnet_cpu_pct": 100 * here_cpu / window,
        "engines_cpu_pct": 100 * (after["engines_cpu"] - before["engines_cpu"]) / span,
        "slow_consumers": varz["slow_consumers"]
        + after["slow_consumers"]
        - before["slow_consumers"],
        "nats_in_msgs_per_s": varz["in_msgs"] / window,
        "nats_out_msgs_per_s": varz["out_msgs"] / window,
        "nats_in_mb_per_s": varz["in_bytes"] / window / 1e6,
        "nats_out_mb_per_s": varz["out_bytes"] / window / 1e6,
    }


async def _snapshot(
    fleet: EngineProcs, pid: int, metrics_url: str, monitor_url: str
) -> dict[str, Any]:
    server = varz(monitor_url)
    updates, slow = await fleet.counts()
    return {
        "at": time.perf_counter(),
        "updates": updates,
        "slow_consumers": slow,
        "cpu": cpu_seconds(pid),
        "engines_cpu": sum(fleet.cpu_seconds()),
        "writes": _writes(metrics_url),
        "varz": {
            k: server.get(k, 0)
            for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes", "slow_consumers")
        },
    }


async def _settle(fleet: EngineProcs, metrics_url: str, before: dict[str, Any]) -> int:
    """Values the streamer wrote since `before` (every bucket), once the streamer and
    every engine are quiet, or after 10 s."""
    deadline = time.monotonic() + 10
    last = -1
    while True:
        writes = _writes(metrics_url)
        total = int(sum(n - before["writes"].get(b, 0) for b, n in writes.items()))
        updates, _ = await fleet.counts()
        got = [u - b for u, b in zip(updates, before["updates"], strict=True)]
        if (total == last and all(g == total for g in got)) or time.monotonic() > deadline:
            return total
        last = total
        await asyncio.sleep(0.25)  # counters of several processes: there is no shared event
