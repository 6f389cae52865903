"""A quick probe of one streamer against localnet's mainnet preset.

Prints: time from the first consumer to the first FundingRate on NATS, the RPC calls
and sockets the DriftClient's start costs, the latency from a localnet change to the
FundingRate on its subject (p50/max), and the RPC traffic in steady state.

    .venv/bin/python -m benchmarks.probe_streamer
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import nats

from localnet import MarketPatch
from localnet.server import LocalnetServer
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers.presence import Presence

SAMPLES = 30
PUBLISH_INTERVAL_S = 0.05


async def _subscribed(ln: LocalnetServer) -> None:
    """Until the feed's subscriptions are in place (localnet has no event): its slot
    watch starts once every account subscription is confirmed."""
    for _ in range(1000):
        if ln.stats_json()["subscriptions"]["slot"] >= 1:
            return
        await asyncio.sleep(0.01)
    raise RuntimeError("the feed never subscribed")


async def probe(store: Path) -> None:
    async with NatsServer(store_dir=store) as ns, LocalnetServer(preset="mainnet") as ln:
        settings = Settings(network="local", rpc_url=ln.url, nats_url=ns.url)
        app = Streamer(settings, lambda: DriftSource(ln.url), publish_interval_s=PUBLISH_INTERVAL_S)
        task = asyncio.create_task(app.run())
        await app.ready.wait()
        nc = await nats.connect(ns.url)
        kv = await nc.jetstream().key_value("drift_consumers")
        sub = await nc.subscribe("drift.local.funding.BTC-PERP")
        started = time.perf_counter()
        async with Presence(kv, "local", "probe", "probe", ttl_s=15):
            await sub.next_msg(timeout=30)
            first_ms = (time.perf_counter() - started) * 1000
            await _subscribed(ln)
            start_stats = ln.stats_json()
            latencies = []
            for i in range(SAMPLES):
                rate = 1_000 + i
                sent = time.perf_counter()
                ln.markets.apply(MarketPatch(symbol="BTC-PERP", last_funding_rate=rate))
                while json.loads((await sub.next_msg(timeout=5)).data)["last_funding_rate"] != rate:
                    pass
                latencies.append((time.perf_counter() - sent) * 1000)
            ln.stats.reset()
            await asyncio.sleep(10)  # a steady-state window: measured, not waited on
            steady = ln.stats_json()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.close()
    latencies.sort()
    print("| measure | value |\n|---|---|")
    print(f"| first consumer -> first FundingRate on NATS | {first_ms:.0f} ms |")
    print(f"| RPC calls at DriftClient start | {start_stats['requests_per_method']} |")
    print(
        f"| sockets / subscriptions | {start_stats['ws_connections_open']} / "
        f"{start_stats['subscriptions']} |"
    )
    print(
        f"| change -> FundingRate on subject, p50 / max (n={SAMPLES}, "
        f"publish interval {PUBLISH_INTERVAL_S * 1000:.0f} ms) | "
        f"{statistics.median(latencies):.1f} / {latencies[-1]:.1f} ms |"
    )
    print(f"| steady-state HTTP requests in 10 s | {steady['http_requests']} |")


def main() -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(probe(Path(tmp)))


if __name__ == "__main__":
    main()
