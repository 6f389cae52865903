"""The NATS side of the deployment: three JetStream nodes on their hosts (routes to each
other, a store each), started, restarted, and asked what they know (readiness, the meta
leader, who leads a stream) over their monitoring port, from the control plane.

Each node's config is compose.yaml's (`deploy/nats/nats.conf`): its ping settings and
durability are read from there, so these tests test what is deployed."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any

import aiohttp

from streamer.nats_process import find_nats_server
from tests.netns import Host, kill
from tests.netns.processes import Process

__all__ = ["MONITOR_PORT", "NATS_PORT", "NatsNodes", "wait_http"]

NATS_PORT, MONITOR_PORT, ROUTE_PORT = 4222, 8222, 6222
COMPOSE_NODE = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats.conf"
READY_S = 60.0


async def wait_http(http: aiohttp.ClientSession, url: str, timeout: float = READY_S) -> None:
    """Until `url` answers 200 (a process starting: there is nothing to await)."""
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)


class NatsNodes:
    """nats1..nats3: `start`, `restart`, and the monitor's view."""

    def __init__(self, hosts: list[Host], root: Path, http: aiohttp.ClientSession) -> None:
        self.hosts = hosts
        self._root = root
        self._http = http
        self.processes: dict[str, Process] = {}

    def urls(self, order: int = 0) -> str:
        """Every node's client URL, starting at node `order` (clients spread over them)."""
        hosts = self.hosts[order % 3 :] + self.hosts[: order % 3]
        return ",".join(f"nats://{h.ip}:{NATS_PORT}" for h in hosts)

    def _config(self, host: Host) -> Path:
        routes = "\n".join(f"    nats://{h.ip}:{ROUTE_PORT}" for h in self.hosts)
        deployed = COMPOSE_NODE.read_text()
        settings = "\n".join(
            line for line in deployed.splitlines() if line.startswith(("ping_interval", "ping_max"))
        )
        sync = re.search(r"sync_interval: \S+", deployed)
        assert sync is not None, f"{COMPOSE_NODE}: no sync_interval"
        path = self._root / f"{host.name}.conf"
        path.write_text(
            f"server_name: {host.name}\nlisten: {host.ip}:{NATS_PORT}\n"
            f"http: {host.ip}:{MONITOR_PORT}\n{settings}\n"
            f'jetstream {{\n  store_dir: "{self._root / host.name}"\n  {sync.group(0)}\n}}\n'
            f"cluster {{\n  name: drift\n  listen: {host.ip}:{ROUTE_PORT}\n"
            f"  routes: [\n{routes}\n  ]\n}}\n"
        )
        return path

    async def start(self, host: Host) -> None:
        argv = [str(find_nats_server()), "-c", str(self._config(host))]
        with (self._root / f"{host.name}.out").open("ab") as log:
            self.processes[host.name] = await host.spawn(argv, stdout=log, stderr=log)
        await wait_http(self._http, f"http://{host.ip}:{MONITOR_PORT}/healthz")

    async def restart(self, host: Host, *, hard: bool = True) -> None:
        """Stop a node (SIGKILL, or SIGTERM when not `hard`) and start it on its store."""
        process = self.processes[host.name]
        if hard:
            kill(process)
        else:
            process.terminate()
        await process.wait()
        await self.start(host)

    async def _jsz(self, host: Host, query: str = "") -> dict[str, Any]:
        async with self._http.get(f"http://{host.ip}:{MONITOR_PORT}/jsz{query}") as resp:
            data: dict[str, Any] = await resp.json()
            return data

    async def wait_meta_leader(self, timeout: float = READY_S) -> str:
        """The JetStream meta leader, once every node names the same one."""
        async with asyncio.timeout(timeout):
            while True:
                leaders = set()
                for host in self.hosts:
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                        leaders.add((await self._jsz(host)).get("meta_cluster", {}).get("leader"))
                if len(leaders) == 1 and None not in leaders:
                    return str(leaders.pop())
                await asyncio.sleep(0.1)  # /jsz has no long poll

    async def leader_of(self, stream: str) -> Host | None:
        """The node leading `stream`, as the first node that answers says."""
        for host in self.hosts:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                data = await self._jsz(host, "?streams=true")
                for account in data.get("account_details", []):
                    for info in account.get("stream_detail", []):
                        if info.get("name") == stream:
                            leader = (info.get("cluster") or {}).get("leader")
                            return next((h for h in self.hosts if h.name == leader), None)
        return None
