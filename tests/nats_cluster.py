"""A 3-node nats-server cluster with JetStream on loopback, for the failover tests, and a
wait for a stream's leader."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from types import TracebackType

import aiohttp
import nats.errors
from nats.js import JetStreamContext

from streamer.nats_server import NatsServer
from streamer.ports import free_ports

CLUSTER_NAME = "drift"


class NatsCluster:
    """Nodes n1..nN, full mesh routes, own store each; ready once JetStream has a meta
    leader (before that, bucket creation fails with 'temporarily unavailable')."""

    def __init__(self, root: Path, size: int = 3) -> None:
        route_ports = free_ports(size, "127.0.0.1")
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in route_ports)
        self.nodes = [
            NatsServer(
                store_dir=root / f"n{i + 1}" / "js",
                log_file=root / f"n{i + 1}" / "nats.log",
                name=f"n{i + 1}",
                extra_args=(
                    "--cluster_name",
                    CLUSTER_NAME,
                    "--cluster",
                    f"nats://127.0.0.1:{port}",
                    "--routes",
                    routes,
                ),
            )
            for i, port in enumerate(route_ports)
        ]
        self._stack = contextlib.AsyncExitStack()

    @property
    def urls(self) -> str:
        """Every node's client URL, comma separated (what NATS_URL takes)."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsServer:
        return self.nodes[int(name.removeprefix("n")) - 1]

    async def __aenter__(self) -> NatsCluster:
        await self._stack.__aenter__()
        try:
            await asyncio.gather(*(self._stack.enter_async_context(n) for n in self.nodes))
            await self.wait_meta_leader()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def wait_meta_leader(self, timeout: float = 30.0) -> str:
        """The JetStream meta leader's name, once every running node names the same one
        (one node knowing it is not enough: a request through another is then lost)."""
        async with aiohttp.ClientSession() as http, asyncio.timeout(timeout):
            while True:
                leaders = set()
                for node in self.nodes:
                    if not node.running:
                        continue
                    leader = None
                    with contextlib.suppress(aiohttp.ClientError, json.JSONDecodeError):
                        async with http.get(f"{node.monitor_url}/jsz") as resp:
                            leader = (await resp.json()).get("meta_cluster", {}).get("leader")
                    leaders.add(leader)
                if len(leaders) == 1 and None not in leaders:
                    return str(leaders.pop())
                await asyncio.sleep(0.05)  # /jsz has no long poll


async def wait_stream_leader(js: JetStreamContext, stream: str, timeout: float = 30.0) -> str:
    """The stream's leader, once it has one (a stream just created on a cluster answers
    "no responders" until its replicas elected one)."""
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(nats.errors.Error):
                info = await js.stream_info(stream)
                if info.cluster is not None and info.cluster.leader:
                    return str(info.cluster.leader)
            await asyncio.sleep(0.05)  # no event tells when a stream got a leader
