"""The lab: hosts in network namespaces on one bridge, the faults between them, and the
removal of all of it on every way out.

Topology: the bridge `dsn<run>br` in the root namespace holds `.1` of the lab's /24,
so the test process reaches every host directly (the control plane); each host added
is the next address from `.2`, its `eth0` plugged into the bridge (`host.py`). Names,
run ids and the subnet are chosen so that parallel runs never collide (`runs.py`).
The root namespace's firewall is left alone; host-to-host frames are bridged there, so
with br_netfilter loaded (bridge-nf-call-iptables = 1) a root FORWARD policy of DROP,
as Docker sets, would drop them too: the first reachability test shows it.

Lifecycle: `async with Lab() as lab:`; a lab opens once. Entering checks the machine
(root, `ip`, `nft`), claims a run (after `sweep()` of dead owners' runs), registers an
atexit hook and makes the bridge. Exiting, whether the body returned, raised or was
cancelled: every spawned process is stopped (SIGTERM, `stop_grace` seconds, SIGKILL),
then the run is removed: what still runs in its namespaces is killed, its veths,
bridge and namespaces deleted, its state file last. The removal is synchronous on
purpose, so a cancellation cannot cut it short; a cancelled process stop falls back to
SIGKILL at once. The atexit hook does the same for a lab still open when the
interpreter exits. An owner killed with SIGKILL runs no hook: its run is removed by the
next `sweep()` (every lab's start), and its processes got SIGTERM from the kernel.
"""

from __future__ import annotations

import atexit
import enum
import itertools
import os
import re
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Interface, IPv4Network
from types import MappingProxyType, TracebackType

from tests.netns.commands import run, tool
from tests.netns.errors import NetnsError
from tests.netns.faults import Direction, Fault, drop_from, link_down, loss_rules, nft_fault
from tests.netns.host import Host, create_host
from tests.netns.processes import Processes
from tests.netns.proxy import DelayProxy, start_delay_proxy
from tests.netns.runs import Claim, claim, remove_run

__all__ = ["Lab", "check_machine"]

_HOST_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_MAX_HOSTS = 253  # .2 to .254


class _State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


def check_machine() -> None:
    """NetnsError saying what is missing if this process cannot build a lab."""
    if os.geteuid() != 0:
        raise NetnsError("network namespaces, veths and nft need root: run as root")
    tool("ip")
    tool("nft")


class Lab:
    """Hosts in network namespaces on one bridge, with reversible faults between them."""

    def __init__(self, *, stop_grace: float = 1.0) -> None:
        self._stop_grace = stop_grace
        self._state = _State.NEW
        self._claim: Claim | None = None
        self._hosts: dict[str, Host] = {}
        self._reserved: set[str] = set()
        self._faults: list[Fault] = []
        self._down: dict[str, Fault] = {}
        self._proxies: list[DelayProxy] = []
        self._processes = Processes()
        self._tables = itertools.count(1)

    @property
    def _run(self) -> Claim:
        if self._claim is None or self._state is not _State.OPEN:
            raise NetnsError("the lab is not open: use `async with Lab() as lab`")
        return self._claim

    @property
    def run_id(self) -> str:
        """The run id in every name this lab made (`dsn<run>...`); kept after exit."""
        if self._claim is None:
            raise NetnsError("the lab has not been opened")
        return self._claim.names.run

    @property
    def subnet(self) -> IPv4Network:
        return self._run.subnet

    @property
    def gateway(self) -> str:
        """The bridge's address, `.1`: where the test process is seen from the hosts."""
        return str(self._run.subnet[1])

    @property
    def bridge(self) -> str:
        return self._run.names.bridge

    @property
    def hosts(self) -> Mapping[str, Host]:
        return MappingProxyType(self._hosts)

    def host(self, host: Host | str) -> Host:
        """The host of that name (a Host is returned as it is)."""
        if isinstance(host, Host):
            return host
        try:
            return self._hosts[host]
        except KeyError:
            raise NetnsError(f"no host {host!r} in this lab") from None

    async def __aenter__(self) -> Lab:
        if self._state is not _State.NEW:
            raise NetnsError("a Lab cannot be reopened")
        check_machine()
        self._claim = claim()
        self._state = _State.OPEN
        atexit.register(self._close_now)
        try:
            await run(
                "ip",
                "-batch",
                "-",
                stdin=f"link add {self.bridge} type bridge forward_delay 0\n"
                f"addr add {self.gateway}/{self.subnet.prefixlen} dev {self.bridge}\n"
                f"link set {self.bridge} up\n",
            )
        except BaseException:
            self._close_now()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every spawned process, then remove every name of the run."""
        if self._state is not _State.OPEN:
            return
        try:
            await self._processes.stop_all(self._stop_grace)
        finally:
            self._close_now()

    def _close_now(self) -> None:
        """The synchronous part of closing (also the atexit hook): SIGKILL what still
        runs, then delete the run's namespaces, links and state file."""
        if self._state is not _State.OPEN or self._claim is None:
            return
        self._state = _State.CLOSED
        atexit.unregister(self._close_now)
        self._processes.kill_all_now()
        remove_run(self._claim.names.run)

    async def add_host(self, name: str) -> Host:
        """A new host `name` (lowercase letters, digits, '-'), on the next address."""
        names = self._run.names
        if not _HOST_NAME.match(name):
            raise NetnsError(f"host name {name!r}: 1-32 of a-z, 0-9, '-'")
        if name in self._reserved:
            raise NetnsError(f"host {name!r} exists already")
        if len(self._reserved) >= _MAX_HOSTS:
            raise NetnsError(f"a lab has at most {_MAX_HOSTS} hosts")
        self._reserved.add(name)
        index = len(self._reserved)
        address = IPv4Interface(f"{self.subnet[index + 1]}/{self.subnet.prefixlen}")
        host = await create_host(
            name,
            netns=names.netns(name),
            veth=names.veth(index),
            address=address,
            bridge=names.bridge,
            processes=self._processes,
        )
        self._hosts[name] = host
        return host

    async def link_down(self, host: Host | str) -> Fault:
        """Set the host's link down (its bridge port); `link_up` or `heal` undoes it."""
        target = self.host(host)
        fault = self._down.get(target.name)
        if fault is None or fault.healed:
            fault = self._down[target.name] = self._track(await link_down(target))
        return fault

    async def link_up(self, host: Host | str) -> None:
        """Set the host's link up again (no-op if it is up)."""
        fault = self._down.pop(self.host(host).name, None)
        if fault is not None:
            await fault.heal()

    async def blackhole(self, a: Host | str, b: Host | str, *, one_way: bool = False) -> Fault:
        """Drop packets from a to b and, unless `one_way`, from b to a."""
        src, dst = self.host(a), self.host(b)
        table = self._table()
        scripts = [(dst, drop_from(table, [src.ip]))]
        if not one_way:
            scripts.append((src, drop_from(table, [dst.ip])))
        arrow = "->" if one_way else "<->"
        fault = await nft_fault(f"blackhole {src.name} {arrow} {dst.name}", table, scripts)
        return self._track(fault)

    async def partition(self, side_a: Iterable[Host | str], side_b: Iterable[Host | str]) -> Fault:
        """Cut every pair of hosts across the two sides, both ways."""
        a = {host.name: host for host in map(self.host, side_a)}
        b = {host.name: host for host in map(self.host, side_b)}
        if not a or not b or a.keys() & b.keys():
            raise NetnsError(
                f"a partition needs two disjoint, non-empty sides: {sorted(a)}, {sorted(b)}"
            )
        table = self._table()
        scripts = [(host, drop_from(table, [o.ip for o in b.values()])) for host in a.values()]
        scripts += [(host, drop_from(table, [o.ip for o in a.values()])) for host in b.values()]
        description = f"partition {sorted(a)} | {sorted(b)}"
        return self._track(await nft_fault(description, table, scripts))

    async def loss(self, host: Host | str, percent: int, *, direction: Direction = "both") -> Fault:
        """Drop `percent` % of the IPv4 packets on the host's link, at random."""
        target = self.host(host)
        table = self._table()
        scripts = [(target, loss_rules(table, percent, direction))]
        description = f"loss {percent}% {direction} {target.name}"
        return self._track(await nft_fault(description, table, scripts))

    async def delay_proxy(
        self, host: Host | str, target: tuple[str, int], delay_ms: float, *, port: int = 0
    ) -> DelayProxy:
        """Start a delaying TCP proxy in `host` to `target` (see `delay_proxy`)."""
        proxy = await start_delay_proxy(self.host(host), target, delay_ms, port=port)
        self._proxies.append(proxy)
        return proxy

    async def heal_all(self) -> None:
        """Undo every fault still applied, newest first, and set running proxies' delay
        to 0 (they keep forwarding)."""
        for fault in reversed(self._faults):
            await fault.heal()
        self._faults.clear()
        self._down.clear()
        for proxy in self._proxies:
            if proxy.process.returncode is None and proxy.delay_ms:
                await proxy.set_delay(0)

    def _track(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def _table(self) -> str:
        return f"fault{next(self._tables)}"
