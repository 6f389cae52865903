"""Shared fixtures: one real nats-server per session, then client, JetStream and buckets.

The chain is nats_server -> nats_url -> connect_nats / nc -> js -> make_kv; add new
fixtures at the end of the chain they need.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue

from streamer.nats_server import NatsServer

log = logging.getLogger("drift_stream.tests")

ConnectNats = Callable[..., Awaitable[Client]]
MakeKv = Callable[[KeyValueConfig], Awaitable[KeyValue]]


async def log_nats_error(exc: Exception) -> None:
    """nats-py's default error callback prints a traceback on every reconnect try."""
    log.warning("NATS client error: %r", exc)


# Session scope: the server holds no per-test state except buckets (make_kv deletes
# them), and its process lives in the session loop. Tests run in their own loops and
# only talk TCP to it; a test that stops or restarts a server starts its own.
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def nats_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NatsServer]:
    """A JetStream nats-server on free loopback ports, for the whole session."""
    root = tmp_path_factory.mktemp("nats")
    async with NatsServer(store_dir=root / "store", log_file=root / "nats-server.log") as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(nats_server: NatsServer) -> str:
    """The session server's client URL."""
    return nats_server.url


@pytest_asyncio.fixture
async def connect_nats() -> AsyncIterator[ConnectNats]:
    """Connect clients (`await connect_nats(url, **options)`); all closed after the test."""
    clients: list[Client] = []

    async def connect(url: str, **options: Any) -> Client:
        options = {
            "connect_timeout": 2,
            "max_reconnect_attempts": 3,
            "error_cb": log_nats_error,
            **options,
        }
        client = await nats.connect(url, **options)
        clients.append(client)
        return client

    yield connect
    for client in reversed(clients):
        if client.is_connected:
            await client.drain()
        await client.close()  # no-op after drain; stops a client still reconnecting


@pytest_asyncio.fixture
async def nc(connect_nats: ConnectNats, nats_url: str) -> Client:
    """A client connected to the session server, drained after the test."""
    return await connect_nats(nats_url)


@pytest.fixture
def js(nc: Client) -> JetStreamContext:
    """The JetStream context of `nc`."""
    return nc.jetstream()


@pytest_asyncio.fixture
async def make_kv(js: JetStreamContext) -> AsyncIterator[MakeKv]:
    """Create KV buckets (`await make_kv(KeyValueConfig(...))`); deleted after the test."""
    buckets: list[str] = []

    async def make(config: KeyValueConfig) -> KeyValue:
        kv = await js.create_key_value(config)
        buckets.append(config.bucket)
        return kv

    yield make
    for bucket in buckets:
        await js.delete_key_value(bucket)


pytest_plugins = [
    "tests.fixtures_localnet",
    "tests.fixtures_sdk",
    "tests.fixtures_streamer",
    "tests.netns.fixtures",
]
