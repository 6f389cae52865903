"""Faults a lab applies, each undone by `await fault.heal()`, and what each does to
packets.

- Link down (`Lab.link_down`): the root end of the host's veth, its bridge port, is set
  down. The host's `eth0` loses carrier: what it sends is dropped by its own device and
  nothing reaches it. Its address and routes stay, so its sockets see silence, not
  errors (TCP retransmits, a connect times out), as with a pulled cable; a connection
  whose retransmissions outlast the outage carries on. Heal: the port up again.
- Blackhole a -> b (`Lab.blackhole`): in b's namespace an nft `inet` table whose input
  chain drops `ip saddr <a>`. a's packets cross the bridge and vanish at b's door, so a
  sees silence (a drop in a's output chain would fail a's send with EPERM instead).
  b -> a is still delivered. Two-way adds the mirror table in a. TCP needs both
  directions, so a one-way blackhole stalls TCP both ways; UDP shows the direction.
- Partition (`Lab.partition`): in every host of each side, one table dropping input
  from every address of the other side: each pair across the sides is cut both ways,
  pairs on one side are untouched.
- Loss (`Lab.loss`): an nft `netdev` table on the host's `eth0`, with
  `meta protocol ip numgen random mod 100 < N drop` in its ingress chain (direction
  "in"), its egress chain ("out"), or both. Only IPv4 is dropped and ARP passes (lost
  neighbour discovery would turn N % loss into outages of seconds). An egress drop is
  silent to the sender: UDP's ENOBUFS is not reported without IP_RECVERR, TCP sees a
  local drop and sends again.
- Delay is not a packet fault here: the kernel may have no netem qdisc (this one has
  none), and nft cannot hold packets back. See `delay_proxy`, a delaying TCP proxy.

State: one nft table per fault and host, `fault<n>`, inside the host's namespace, so
deleting a namespace deletes its rules; the link state is the bridge port's, deleted
with the lab. Healing deletes the tables (or sets the port up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Literal

from tests.netns.commands import run, tool
from tests.netns.errors import NetnsError
from tests.netns.host import Host, wait_link_up

__all__ = ["Direction", "Fault", "drop_from", "link_down", "loss_rules", "nft_fault"]

Direction = Literal["in", "out", "both"]


class Fault:
    """One applied fault; `await heal()` undoes it (healing twice is a no-op)."""

    def __init__(self, description: str, undo: Callable[[], Awaitable[None]]) -> None:
        self.description = description
        self._undo = undo
        self.healed = False

    async def heal(self) -> None:
        """Undo the fault."""
        if not self.healed:
            await self._undo()
            self.healed = True

    def __repr__(self) -> str:
        state = "healed" if self.healed else "active"
        return f"<Fault {self.description} ({state})>"


def drop_from(table: str, sources: Iterable[str]) -> tuple[str, str]:
    """An `inet` table dropping every packet that enters from one of `sources`."""
    addresses = ", ".join(sorted(sources))
    script = (
        f"table inet {table} {{\n"
        "  chain input {\n"
        "    type filter hook input priority filter; policy accept;\n"
        f"    ip saddr {{ {addresses} }} drop\n"
        "  }\n"
        "}\n"
    )
    return "inet", script


def loss_rules(table: str, percent: int, direction: Direction) -> tuple[str, str]:
    """A `netdev` table on `eth0` dropping `percent` % of IPv4 packets at random."""
    if not 0 <= percent <= 100:
        raise NetnsError(f"loss must be 0..100 %, not {percent}")
    hooks = {"in": ["ingress"], "out": ["egress"], "both": ["ingress", "egress"]}[direction]
    # numgen gives 0..99, so "< 100" is refused: 100 % is a plain drop, 0 % no rule
    rule = (
        "    meta protocol ip drop\n"
        if percent == 100
        else (f"    meta protocol ip numgen random mod 100 < {percent} drop\n" if percent else "")
    )
    chains = "".join(
        f"  chain {hook} {{\n"
        f'    type filter hook {hook} device "eth0" priority filter; policy accept;\n'
        f"{rule}"
        "  }\n"
        for hook in hooks
    )
    return "netdev", f"table netdev {table} {{\n{chains}}}\n"


async def nft_fault(
    description: str, table: str, scripts: Sequence[tuple[Host, tuple[str, str]]]
) -> Fault:
    """Load each (host, (family, script)) into its host; the fault deletes them again.
    If one host refuses its table, the tables already loaded are deleted."""

    async def load(host: Host, script: str) -> None:
        await run("ip", "netns", "exec", host.netns, tool("nft"), "-f", "-", stdin=script)

    async def delete(host: Host, family: str) -> None:
        await run("ip", "netns", "exec", host.netns, tool("nft"), "delete", "table", family, table)

    results = await asyncio.gather(
        *(load(host, script) for host, (_, script) in scripts), return_exceptions=True
    )
    loaded = [
        (host, family)
        for (host, (family, _)), result in zip(scripts, results, strict=True)
        if result is None
    ]

    async def undo() -> None:
        await asyncio.gather(*(delete(host, family) for host, family in loaded))

    errors = [result for result in results if isinstance(result, BaseException)]
    if errors:
        await undo()
        raise errors[0]
    return Fault(description, undo)


async def link_down(host: Host) -> Fault:
    """Set the host's bridge port down; the fault sets it up and waits for carrier."""
    await run("ip", "link", "set", host.veth, "down")

    async def undo() -> None:
        await run("ip", "link", "set", host.veth, "up")
        await wait_link_up(host.veth)

    return Fault(f"link down {host.name}", undo)
