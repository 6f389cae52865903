"""One engine process of the RPC-load scenario, the streamer way or the legacy way.

    python -m benchmarks.engine streamer --nats-url URL
    python -m benchmarks.engine legacy --rpc-url URL

It prints `{"started": ...}` once its imports are done (the fleet starts engines a few
at a time), `{"ready": ...}` once it has funding (with how long that took), reads every
market's funding once a second until SIGTERM, then prints its report. The legacy engine
is what engines did before the streamer: a DriftClient of its own subscribed to every
perp market by index, retrying its subscribe every few seconds when the RPC refuses
(429s, connection limits), as a production engine would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import random
import signal
import time
from typing import Any

__all__ = ["main"]

_BOOT = time.time()


async def _streamer(nats_url: str, stop: asyncio.Event, report: dict[str, Any]) -> None:
    from subscribers.client import DriftStreamClient

    _started()
    started = time.perf_counter()
    async with DriftStreamClient("local", nats_url=nats_url, name="bench-engine") as client:
        while not stop.is_set():
            rates = await client.funding_all()
            report["reads"] += 1
            report["markets"] = max(report["markets"], len(rates))
            if rates and "ready_ms" not in report:
                report["ready_ms"] = (time.perf_counter() - started) * 1000
                print(json.dumps({"ready": report["ready_ms"]}), flush=True)
            await _sleep(stop, 1.0 if rates else 0.05)


async def _legacy(rpc_url: str, stop: asyncio.Event, report: dict[str, Any]) -> None:
    from subscribers.examples.funding_engine import direct_client, direct_markets

    configs = direct_markets()
    importlib.import_module("driftpy.drift_client")  # the heavy part of a start
    _started()
    started = time.perf_counter()
    client: Any = None
    while not stop.is_set() and client is None:
        candidate = direct_client(rpc_url)
        connection = candidate.connection
        try:
            async with asyncio.timeout(60):
                await candidate.subscribe()
            client = candidate
        except Exception as exc:  # 429, refused socket, timeout: retry as engines did
            report["subscribe_failures"] += 1
            report["last_error"] = f"{type(exc).__name__}: {str(exc)[:100]}"
            # half-subscribed clients do not always unsubscribe cleanly
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    await candidate.unsubscribe()
            await connection.close()
            await _sleep(stop, 2.0 + random.random() * 2.0)
    while client is not None and not stop.is_set():
        seen = 0
        for config in configs:
            try:
                if client.get_perp_market_account(config.market_index) is not None:
                    seen += 1
            except KeyError:
                pass
        report["reads"] += 1
        report["markets"] = max(report["markets"], seen)
        if seen and "ready_ms" not in report:
            report["ready_ms"] = (time.perf_counter() - started) * 1000
            print(json.dumps({"ready": report["ready_ms"]}), flush=True)
        await _sleep(stop, 1.0)
    if client is not None:
        with contextlib.suppress(Exception):  # shutting down: nothing to do about it
            async with asyncio.timeout(10):
                await client.unsubscribe()


def _started() -> None:
    """Imports done: seconds since the interpreter started."""
    print(json.dumps({"started": time.time() - _BOOT}), flush=True)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    report: dict[str, Any] = {"mode": args.mode, "reads": 0, "markets": 0, "subscribe_failures": 0}
    if args.mode == "streamer":
        await _streamer(args.nats_url, stop, report)
    else:
        await _legacy(args.rpc_url, stop, report)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("streamer", "legacy"))
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    parser.add_argument("--rpc-url", default="http://127.0.0.1:8899")
    report = asyncio.run(_run(parser.parse_args()))
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
