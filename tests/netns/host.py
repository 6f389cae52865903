"""A host of a lab: one network namespace, its `eth0` one end of a veth pair whose
other end is a port of the lab's bridge, one IPv4 address on the lab's /24, loopback
up. Processes run in it with `spawn`; the test process talks from it with `socket`.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from pathlib import Path

from tests.netns.commands import run
from tests.netns.errors import NetnsError
from tests.netns.processes import Process, Processes, Stream
from tests.netns.setns import socket_in

__all__ = ["Host", "create_host", "wait_link_up"]

_LINK_TIMEOUT = 5.0
_POLL = 0.01


@dataclass(eq=False)
class Host:
    """One host: `name` in the lab, `ip` on the lab's /24, `netns` its namespace,
    `veth` the root end of its link (the bridge port that link faults act on)."""

    name: str
    ip: str
    netns: str
    veth: str
    processes: Processes = field(repr=False)

    async def spawn(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        stdin: Stream = subprocess.DEVNULL,
        stdout: Stream = None,
        stderr: Stream = None,
    ) -> Process:
        """Run `argv` in this host, in its own process group, dying with the harness
        and stopped when the lab exits (see `processes`)."""
        return await self.processes.spawn(
            self.netns, argv, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr
        )

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A non-blocking socket of the test process inside this host (see `setns`)."""
        return socket_in(self.netns, family, kind)


async def create_host(
    name: str,
    *,
    netns: str,
    veth: str,
    address: IPv4Interface,
    bridge: str,
    processes: Processes,
) -> Host:
    """Make the namespace, its veth pair (the host end made inside it as `eth0`), the
    address, and wait until the link is up."""
    await run("ip", "netns", "add", netns)
    await run(
        "ip",
        "-batch",
        "-",
        stdin=f"link add {veth} type veth peer name eth0 netns {netns}\n"
        f"link set {veth} master {bridge} up\n",
    )
    await run(
        "ip",
        "-n",
        netns,
        "-batch",
        "-",
        stdin=f"addr add {address} dev eth0\nlink set eth0 up\nlink set lo up\n",
    )
    await wait_link_up(veth)
    return Host(name, str(address.ip), netns, veth, processes)


async def wait_link_up(veth: str) -> None:
    """Poll the root end's operstate until it is `up` (both ends up, carrier on): the
    kernel offers no event for it short of a netlink monitor."""
    deadline = time.monotonic() + _LINK_TIMEOUT
    while _operstate(veth) != "up":
        if time.monotonic() > deadline:
            raise NetnsError(f"link {veth} not up after {_LINK_TIMEOUT} s")
        await asyncio.sleep(_POLL)


def _operstate(link: str) -> str:
    """The kernel's operstate of a root-namespace link (sysfs: instant to read)."""
    return Path(f"/sys/class/net/{link}/operstate").read_text().strip()
