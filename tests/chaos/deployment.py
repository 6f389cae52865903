"""compose.yaml's deployment on network hosts: 3 NATS nodes (R3 buckets), localnet, a
leading and a standby streamer, engines, and a raw reader on every host, each process in
a host of its own (`tests.netns.Lab`), each writing its history for the checker.

```
 nats1 ── nats2 ── nats3          cluster routes, JetStream R3 (tests.chaos.nodes)
 rpc                              localnet, small preset, prices and funding moving
 streamer-a, streamer-b           --log-json, the write journal; NATS through delay
                                  proxies in their own host (0 ms until a fault)
 engine-1..N                      tests.chaos.engine; a tests.chaos.reader on every host
```
Every process lists all three nodes, each in its own order. `records_files()` gives every
history file, the streamers' logs turned into records (`tests.chaos.lifecycle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import nats

from schemas import fence_key
from schemas.buckets import CONSUMERS_BUCKET, HEALTH_BUCKET, LEADER_BUCKET, MARKETS_BUCKET
from subscribers.buckets import last_entries
from tests.chaos.lifecycle import lifecycle_records
from tests.chaos.nodes import NATS_PORT, NatsNodes, wait_http
from tests.chaos.reader import DATA_BUCKETS, epoch_of
from tests.chaos.records import RecordFile
from tests.netns import DelayProxy, Host, Lab, kill, pause, resume
from tests.netns.processes import Process

__all__ = ["Deployment", "DeploymentConfig"]

ROOT = Path(__file__).resolve().parents[2]
RPC_PORT = 8899


@dataclass(frozen=True)
class DeploymentConfig:
    engines: int = 3
    lease_ttl: float = 30.0  # compose.yaml's on a cluster
    preset: str = "small"
    streamers: tuple[str, ...] = ("a", "b")
    # how a streamer process is started (a deliberately broken build swaps it)
    streamer_argv: tuple[str, ...] = (sys.executable, "-m", "streamer.cli")


@dataclass
class StreamerHost:
    instance_id: str
    host: Host
    log: Path
    proxies: list[DelayProxy] = field(default_factory=list)
    process: Process | None = None


class Deployment:
    """The deployment in `lab`, its files under `root`. An async context manager: it
    starts everything and waits until every engine holds values; leaving stops it."""

    def __init__(self, lab: Lab, root: Path, config: DeploymentConfig | None = None) -> None:
        self.lab = lab
        self.root = root
        self.config = config or DeploymentConfig()
        self.streamers: dict[str, StreamerHost] = {}
        self.engines: dict[str, Host] = {}
        self.harness = RecordFile(root / "harness.jsonl", "harness")
        self._http: aiohttp.ClientSession | None = None
        self._nodes: NatsNodes | None = None
        self._rpc: Host | None = None

    @property
    def nodes(self) -> NatsNodes:
        assert self._nodes is not None, "not started"
        return self._nodes

    @property
    def rpc(self) -> Host:
        assert self._rpc is not None, "not started"
        return self._rpc

    # -- lifecycle -----------------------------------------------------------------
    async def __aenter__(self) -> Deployment:
        self.root.mkdir(parents=True, exist_ok=True)
        self.harness.__enter__()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3))
        try:
            await self._start(self._http)
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        self.mark("end")
        with contextlib.suppress(Exception):
            await self.lab.heal_all()
        await self.lab.aclose()  # every process: SIGTERM, then SIGKILL
        if self._http is not None:
            await self._http.close()
        self.harness.__exit__(None, None, None)

    async def _start(self, http: aiohttp.ClientSession) -> None:
        lab = self.lab
        nats_hosts = [await lab.add_host(f"nats{i}") for i in (1, 2, 3)]
        self._nodes = NatsNodes(nats_hosts, self.root, http)
        self._rpc = await lab.add_host("rpc")
        for iid in self.config.streamers:
            host = await lab.add_host(f"streamer-{iid}")
            self.streamers[iid] = StreamerHost(iid, host, self.root / f"streamer-{iid}.log")
        for i in range(1, self.config.engines + 1):
            self.engines[f"engine-{i}"] = await lab.add_host(f"engine-{i}")
        await asyncio.gather(*(self.nodes.start(h) for h in nats_hosts))
        await self.nodes.wait_meta_leader()
        await self._spawn(self.rpc, "localnet", self._localnet_argv())
        await wait_http(http, f"http://{self.rpc.ip}:{RPC_PORT}/admin/stats")
        for streamer in self.streamers.values():
            for node in nats_hosts:  # one delay proxy per node, in the streamer's host
                proxy = await lab.delay_proxy(streamer.host, (node.ip, NATS_PORT), 0)
                streamer.proxies.append(proxy)
        first, *others = self.config.streamers
        await self.start_streamer(first)
        await self.wait_for_leader(first)
        for iid in others:
            await self.start_streamer(iid)
        for name, host in self.engines.items():
            await self._spawn(host, name, self._tool("engine", name))
        for host in list(lab.hosts.values()):
            await self._spawn(host, f"reader-{host.name}", self._tool("reader", host.name))
        await self.wait_engines_loaded()
        self.mark("started")

    # -- processes -----------------------------------------------------------------
    def _localnet_argv(self) -> list[str]:
        return [
            sys.executable, "-m", "streamer.cli", "localnet", "--preset", self.config.preset,
            "--host", "0.0.0.0", "--port", str(RPC_PORT),
            "--price-interval", "0.5", "--funding-interval", "20",
        ]  # fmt: skip

    def _tool(self, module: str, name: str) -> list[str]:
        """A tests.chaos tool's command line (`reader-<host>` for a reader)."""
        name = name if module == "engine" else f"reader-{name}"
        return [
            sys.executable, "-m", f"tests.chaos.{module}",
            "--nats-url", self.nodes.urls(sum(map(ord, name))),
            "--name", name, "--out", str(self.root / f"{name}.jsonl"),
        ]  # fmt: skip

    async def _spawn(self, host: Host, name: str, argv: Sequence[str]) -> Process:
        with (self.root / f"{name}.out").open("ab") as log:
            return await host.spawn(argv, cwd=ROOT, stdout=log, stderr=log)

    async def start_streamer(self, instance_id: str) -> None:
        """Start (or start again) a streamer; it reaches NATS through its proxies."""
        streamer = self.streamers[instance_id]
        order = list(self.config.streamers).index(instance_id)
        proxies = streamer.proxies[order % 3 :] + streamer.proxies[: order % 3]
        env = {
            "PATH": "/usr/bin:/bin",
            "DRIFT_NETWORK": "local",
            "DRIFT_RPC_URL": f"http://{self.rpc.ip}:{RPC_PORT}",
            "NATS_URL": ",".join(f"nats://{p.address[0]}:{p.address[1]}" for p in proxies),
            "DRIFT_KV_REPLICAS": "3",
            "DRIFT_LEASE_TTL": f"{self.config.lease_ttl:g}",
            "DRIFT_WRITE_JOURNAL": str(self.root / f"journal-{instance_id}.jsonl"),
        }
        argv = [*self.config.streamer_argv, "--log-json", "streamer", "--instance-id", instance_id]
        with streamer.log.open("ab") as log:
            streamer.process = await streamer.host.spawn(
                argv, cwd=ROOT, env=env, stdout=log, stderr=log
            )
        self.event("started", what=f"streamer-{instance_id}")

    def signal_streamer(self, instance_id: str, how: str) -> None:
        """`kill` (SIGKILL), `pause` (SIGSTOP) or `resume` (SIGCONT) a streamer."""
        process = self.streamers[instance_id].process
        assert process is not None
        {"kill": kill, "pause": pause, "resume": resume}[how](process)
        self.harness.write({"kill": "killed", "pause": "paused", "resume": "resumed"}[how],
                           src=instance_id)  # fmt: skip

    # -- observing -----------------------------------------------------------------
    def mark(self, name: str) -> None:
        self.harness.write("mark", name=name)

    def event(self, ev: str, **fields: Any) -> None:
        self.harness.write(ev, **fields)

    def lease_holder(self) -> str | None:
        """The instance whose last acknowledged lease write is the newest (journals)."""
        newest: tuple[float, str] | None = None
        for iid in self.streamers:
            for ack in _tail(self.root / f"journal-{iid}.jsonl"):
                if ack.get("bucket") == LEADER_BUCKET and (newest is None or ack["t"] > newest[0]):
                    newest = (ack["t"], iid)
        return None if newest is None else newest[1]

    async def wait_for_leader(self, instance_id: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.lease_holder() != instance_id:
            if time.monotonic() > deadline:
                raise AssertionError(f"streamer {instance_id} did not take the lease")
            await asyncio.sleep(0.2)  # the journal is a file: nothing to await

    async def wait_engines_loaded(self, timeout: float = 90.0) -> None:
        """Until every engine took a value of every data bucket."""
        deadline = time.monotonic() + timeout
        while not all(len(self._buckets_taken(name)) >= 4 for name in self.engines):
            if time.monotonic() > deadline:
                state = {name: sorted(self._buckets_taken(name)) for name in self.engines}
                raise AssertionError(f"engines not loaded: {state}")
            await asyncio.sleep(0.2)

    def _buckets_taken(self, engine: str) -> set[str]:
        return {
            r["bucket"] for r in _tail(self.root / f"{engine}.jsonl", 0) if r.get("ev") == "take"
        }

    # -- after a run -----------------------------------------------------------------
    async def kv_snapshot(self) -> None:
        """Every key's last value in every bucket, read from the control plane, written
        as `kv` records of one time."""
        nc = await nats.connect(self.nodes.urls().split(","), connect_timeout=3)
        try:
            js = nc.jetstream(timeout=5)
            at = time.time()
            patterns = {bucket: "local.*" for bucket in DATA_BUCKETS}  # as engines read them
            patterns |= {MARKETS_BUCKET: "local", CONSUMERS_BUCKET: "local.>"}
            patterns |= {LEADER_BUCKET: "local", HEALTH_BUCKET: "local.*"}
            reads = [*patterns.items(), *((b, fence_key("local")) for b in DATA_BUCKETS)]
            for bucket, pattern in reads:
                kv = await js.key_value(bucket)
                for entry in await last_entries(kv, pattern, timeout_s=10):
                    self.harness.write(
                        "kv", t=at, bucket=bucket, key=entry.key, seq=entry.revision,
                        epoch=epoch_of(entry.value),
                    )  # fmt: skip
        finally:
            await nc.close()

    def records_files(self) -> list[Path]:
        """Every history file: the processes', the journals, the harness's, and the
        streamers' logs turned into records (written now)."""
        for iid, streamer in self.streamers.items():
            lifecycle_records(streamer.log, self.root / f"lifecycle-{iid}.jsonl", iid)
        self.harness.flush()
        return sorted(self.root.glob("*.jsonl"))


def _tail(path: Path, lines: int = 50) -> list[dict[str, Any]]:
    """The last `lines` records of a JSON lines file (0: all); unreadable lines skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines()[-lines:]:
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                out.append(record)
    return out
