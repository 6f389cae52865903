"""Fixtures that run streamers against localnet on a nats-server of the test's own
(a pytest plugin loaded by conftest)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest_asyncio
from nats.aio.client import Client

from localnet.server import LocalnetServer
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource

NET = "local"
StartStreamer = Callable[..., Awaitable[Streamer]]


@pytest_asyncio.fixture
async def fresh_nats(tmp_path: Path) -> AsyncIterator[NatsServer]:
    """A nats-server of this test's own: buckets with this test's TTLs, nothing shared."""
    async with NatsServer(store_dir=tmp_path / "js", log_file=tmp_path / "nats.log") as server:
        yield server


@pytest_asyncio.fixture
async def client(fresh_nats: NatsServer) -> AsyncIterator[Client]:
    """A plain NATS client on the test's own server."""
    nc = await nats.connect(fresh_nats.url)
    yield nc
    await nc.close()


def _settings(nats_url: str, rpc_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "network": NET,
        "rpc_url": rpc_url,
        "nats_url": nats_url,
        "cache_ttl_funding": 30,
        "cache_ttl_price": 10,
        "cache_ttl_markets": 60,
        "presence_ttl": 2,
        "lease_ttl": 2,
        **overrides,
    }
    return Settings(**values)


@pytest_asyncio.fixture
async def start_streamer(
    fresh_nats: NatsServer, localnet: LocalnetServer
) -> AsyncIterator[StartStreamer]:
    """Start streamers in this loop (`await start_streamer(**settings)`); cancelled after."""
    tasks: list[asyncio.Task[None]] = []

    async def start(*, grace_s: float = 0.3, **overrides: Any) -> Streamer:
        settings = _settings(fresh_nats.url, localnet.url, **overrides)
        app = Streamer(
            settings,
            lambda: DriftSource(localnet.url),
            grace_s=grace_s,
            publish_interval_s=0.05,
            status_interval_s=0.5,
        )
        tasks.append(asyncio.create_task(app.run()))
        await asyncio.wait_for(app.ready.wait(), 10)
        return app

    yield start
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError | None) for r in results), results
