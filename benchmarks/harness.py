"""What every scenario stands on: localnet with the public RPC's limits, nats-server,
a streamer (in this process, or as a process of its own), and a legacy DriftClient.

Each is an async context manager: whatever a scenario started is stopped when it
leaves, on failure too.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from benchmarks.procs import python, stop_all
from localnet import FaultRequest
from localnet.server import LocalnetServer
from localnet.simulation import SimulationConfig
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers.examples.funding_engine import direct_client

__all__ = [
    "PUBLIC_LIMITS",
    "close_legacy",
    "legacy_client",
    "localnet",
    "pipeline",
    "streamer_process",
]

# What public Solana RPC providers allow: 100 requests per 10 s, 40 per method, 40
# connections.
PUBLIC_LIMITS = {
    "rate_limit": {"requests": 100, "per_s": 10, "per_method": 40},
    "max_connections": 40,
}


@contextlib.asynccontextmanager
async def localnet(
    *,
    limits: bool,
    simulation: SimulationConfig | None = None,
    slot_ms: float = 400,
    preset: str = "mainnet",
) -> AsyncIterator[LocalnetServer]:
    """A preset (default mainnet: 85 perp markets) on free ports, with or without the
    limits."""
    async with LocalnetServer(preset=preset, slot_ms=slot_ms, simulation=simulation) as ln:
        if limits:
            await ln.set_faults(FaultRequest.model_validate(PUBLIC_LIMITS))
        yield ln


@contextlib.asynccontextmanager
async def streamer_process(
    rpc_url: str,
    nats_url: str,
    *,
    metrics_port: int | None = None,
    profile_to: Path | None = None,
    decoder: str | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`drift-stream streamer` as a process of its own (its RSS and CPU are its own),
    yielded once it has printed its start line. With `profile_to` it runs under
    `benchmarks.profiled`: SIGUSR1 starts the profile, SIGUSR2 writes it to that file.
    `decoder` sets its DRIFT_DECODER (default: the environment's, else ours)."""
    args = ["--log-level", "WARNING", "streamer"]
    if metrics_port:
        args += ["--metrics-port", str(metrics_port)]
    module = "streamer.cli"
    if profile_to is not None:
        module, args = "benchmarks.profiled", [str(profile_to), *args]
    env = {"DRIFT_NETWORK": "local", "DRIFT_RPC_URL": rpc_url, "NATS_URL": nats_url}
    if decoder is not None:
        env["DRIFT_DECODER"] = decoder
    proc = await python(module, *args, env=env)
    try:
        assert proc.stdout is not None
        if not await asyncio.wait_for(proc.stdout.readline(), 60):
            raise RuntimeError(f"the streamer exited at start (code {await proc.wait()})")
        yield proc
    finally:
        await stop_all([proc])


@contextlib.asynccontextmanager
async def pipeline(
    root: Path, *, publish_interval_s: float = 0.25
) -> AsyncIterator[tuple[LocalnetServer, NatsServer, Streamer]]:
    """nats-server, localnet without limits and a Streamer in this process."""
    async with (
        NatsServer(store_dir=Path(tempfile.mkdtemp(prefix="js-", dir=root))) as nats,
        localnet(limits=False) as ln,
    ):
        settings = Settings(network="local", rpc_url=ln.url, nats_url=nats.url)
        app = Streamer(settings, lambda: DriftSource(ln.url), publish_interval_s=publish_interval_s)
        task = asyncio.create_task(app.run())
        try:
            await asyncio.wait_for(app.ready.wait(), 30)
            yield ln, nats, app
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def legacy_client(rpc_url: str) -> Any:
    """A subscribed DriftClient as engines held one before the streamer (every perp
    market by index, built in one place: `funding_engine.direct_client`)."""
    client = direct_client(rpc_url)
    await client.subscribe()
    return client


async def close_legacy(client: Any) -> None:
    """Unsubscribe a legacy client; a half-subscribed one may fail to: nothing to do."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(10):
            await client.unsubscribe()
    with contextlib.suppress(Exception):
        await client.connection.close()
