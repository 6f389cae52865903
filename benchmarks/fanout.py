"""Fan-out and streamer cost: 100 engines while every market's funding and price
change at slot rate (400 ms); and where a streamer pass spends its time.

The streamer runs as a process of its own (`drift-stream streamer`), so its CPU is
its own; the engines share this process (ten NATS connections). "No message lost":
every engine applied exactly as many updates as the streamer wrote values.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import json
import pstats
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import nats

from benchmarks.procs import cpu_seconds, python, stop_all
from localnet.server import LocalnetServer
from localnet.simulation import MarketSimulator, SimulationConfig
from streamer.nats_server import NatsServer
from streamer.ports import free_ports
from streamer.publisher import Publisher
from streamer.source import DriftSource
from subscribers.client import DriftStreamClient

__all__ = ["profile_pass", "run_fanout"]

_WRITES = re.compile(r'^drift_stream_publishes_total\{bucket="(\w+)",network="\w+"\} (\S+)', re.M)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


def _writes(metrics_url: str) -> dict[str, float]:
    return {m[0]: float(m[1]) for m in _WRITES.findall(_get(metrics_url))}


def _varz(monitor_url: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_get(f"{monitor_url}/varz"))
    return data


async def run_fanout(
    root: Path, engines: int = 100, rounds: int = 50, slot_s: float = 0.4
) -> dict[str, Any]:
    """`rounds` slots of every market changing; counts, CPU and NATS throughput."""
    async with (
        NatsServer(store_dir=root / "js-fanout") as nats_server,
        LocalnetServer(preset="mainnet", slot_ms=slot_s * 1000) as ln,
    ):
        (metrics_port,) = free_ports(1, "127.0.0.1")
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        streamer = await python(
            "streamer.cli",
            "--log-level",
            "WARNING",
            "streamer",
            "--metrics-port",
            str(metrics_port),
            env={"DRIFT_NETWORK": "local", "DRIFT_RPC_URL": ln.url, "NATS_URL": nats_server.url},
        )
        conns = [await nats.connect(nats_server.url) for _ in range(10)]
        clients = [
            DriftStreamClient("local", nc=conns[i % 10], name=f"fan{i}", consumer_id=f"fan{i:03d}")
            for i in range(engines)
        ]
        try:
            assert streamer.stdout is not None
            await asyncio.wait_for(streamer.stdout.readline(), 60)
            for client in clients:
                await client.connect()
            while len(await clients[-1].funding_all()) < len(ln.markets.perps) - 2:
                await asyncio.sleep(0.05)  # start-up: the first values are on their way
            await asyncio.sleep(2.0)  # let the start-up burst settle before counting
            simulator = MarketSimulator(ln.markets, SimulationConfig(volatility=0.001))
            before = _snapshot(clients, streamer.pid, metrics_url, nats_server.monitor_url)
            started = time.perf_counter()
            for i in range(rounds):
                simulator.update_funding()
                simulator.step_prices()
                await asyncio.sleep(max(0.0, started + (i + 1) * slot_s - time.perf_counter()))
            window = time.perf_counter() - started
            written = await _settle(clients, metrics_url, before)
            after = _snapshot(clients, streamer.pid, metrics_url, nats_server.monitor_url)
        finally:
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
            for conn in conns:
                with contextlib.suppress(Exception):
                    await conn.close()
            await stop_all([streamer])
    received = [a - b for a, b in zip(after["updates"], before["updates"], strict=True)]
    cpu = after["cpu"] - before["cpu"]
    varz = {k: after["varz"][k] - before["varz"][k] for k in after["varz"]}
    return {
        "engines": engines,
        "rounds": rounds,
        "window_s": window,
        "markets": len(ln.markets.perps),
        "values_written": written,
        "engines_complete": sum(1 for r in received if r == written),
        "received_min": min(received),
        "received_max": max(received),
        "streamer_cpu_s": cpu,
        "streamer_cpu_pct": 100 * cpu / window,
        "cpu_per_value_us": 1e6 * cpu / max(written, 1),
        "nats_in_msgs_per_s": varz["in_msgs"] / window,
        "nats_out_msgs_per_s": varz["out_msgs"] / window,
        "nats_out_mb_per_s": varz["out_bytes"] / window / 1e6,
    }


def _snapshot(
    clients: list[DriftStreamClient], pid: int, metrics_url: str, monitor_url: str
) -> dict[str, Any]:
    varz = _varz(monitor_url)
    return {
        "updates": [c.stats.updates for c in clients],
        "cpu": cpu_seconds(pid),
        "writes": _writes(metrics_url),
        "varz": {k: varz[k] for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes")},
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


async def profile_pass(passes: int = 200) -> dict[str, Any]:
    """Where a streamer pass (decode all markets, build models, encode) spends its time:
    cProfile over `passes` passes on the mainnet preset, KV writes left out."""

    class _NullKV:
        async def put(self, key: str, value: bytes) -> int:
            return 0

    async with LocalnetServer(preset="mainnet") as ln:
        source = DriftSource(ln.url)
        await source.start()
        kvs: Any = {b: _NullKV() for b in ("drift_funding", "drift_prices", "drift_markets")}
        publisher = Publisher(
            kvs, "local", {"drift_funding": 30, "drift_prices": 10, "drift_markets": 60}
        )
        try:
            timings: dict[str, list[float]] = {"snapshot": [], "publish_all": [], "publish_one": []}
            for i in range(passes):
                if i % 2 == 0:  # alternate: every market built, or none changed
                    publisher.forget()
                started = time.perf_counter()
                snapshot = await source.snapshot(int(time.time()))
                mid = time.perf_counter()
                await publisher.publish(snapshot, epoch=1)
                key = "publish_all" if i % 2 == 0 else "publish_one"
                timings["snapshot"].append(mid - started)
                timings[key].append(time.perf_counter() - mid)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(passes // 2):
                publisher.forget()
                await publisher.publish(await source.snapshot(int(time.time())), epoch=1)
            profiler.disable()
        finally:
            await source.stop()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("tottime")
    rows = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda item: item[1][2],
        reverse=True,
    )[:12]:
        where = re.sub(r"^.*/(site-packages|python3\.\d+)/", "", filename)
        where = where.removeprefix(str(Path.cwd()) + "/")
        rows.append(
            {
                "function": f"{where}:{line}({name})",
                "calls_per_pass": calls / (passes // 2),
                "own_us_per_pass": 1e6 * tottime / (passes // 2),
                "cum_us_per_pass": 1e6 * cumtime / (passes // 2),
            }
        )
    markets = len(snapshot.markets)
    ms = {k: 1000 * sorted(v)[len(v) // 2] for k, v in timings.items()}
    return {
        "markets": markets,
        "snapshot_ms_p50": ms["snapshot"],
        "publish_all_ms_p50": ms["publish_all"],
        "publish_unchanged_ms_p50": ms["publish_one"],
        "us_per_market_decoded": 1000 * (ms["snapshot"] + ms["publish_all"]) / markets,
        "top": rows,
    }
