"""The faults of the partition and chaos tests, on a running `Deployment`: each applied
now, recorded (`fault` records, `apply` and `heal`), and undone by the `Applied` it
returns. Network faults are the lab's (`tests.netns`); delay is the streamers' proxies;
process faults are signals and node restarts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from tests.chaos.deployment import Deployment
from tests.netns import Fault, Host

__all__ = ["Applied", "Faults"]


@dataclass
class Applied:
    """A fault in force; `heal()` undoes it (once) and records that."""

    what: str
    _undo: Callable[[], Awaitable[None]]
    _deployment: Deployment
    healed: bool = False
    record: bool = True  # False: its parts record themselves

    async def heal(self) -> None:
        if not self.healed:
            self.healed = True
            await self._undo()
            if self.record:
                self._deployment.event("fault", what=self.what, phase="heal")

    def also(self, other: Applied) -> Applied:
        """This fault and `other` as one: healed together, `other` first."""

        async def undo() -> None:
            await other.heal()
            await self.heal()

        return Applied(f"{self.what} + {other.what}", undo, self._deployment, record=False)


class Faults:
    """Apply faults to one deployment."""

    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment

    def _applied(self, what: str, undo: Callable[[], Awaitable[None]]) -> Applied:
        self.d.event("fault", what=what, phase="apply")
        return Applied(what, undo, self.d)

    def host(self, name: str) -> Host:
        return self.d.lab.host(name)

    def others(self, *names: str) -> list[Host]:
        """Every host but those named."""
        return [h for h in self.d.lab.hosts.values() if h.name not in names]

    async def _network(self, what: str, faults: Iterable[Awaitable[Fault]]) -> Applied:
        applied = [await fault for fault in faults]

        async def undo() -> None:
            for fault in reversed(applied):
                await fault.heal()

        return self._applied(what, undo)

    async def partition(self, side_a: Iterable[str], side_b: Iterable[str]) -> Applied:
        a, b = sorted(side_a), sorted(side_b)
        return await self._network(f"partition {a} | {b}", [self.d.lab.partition(a, b)])

    async def isolate(self, name: str) -> Applied:
        """Cut one host from every other host, both ways."""
        others = [h.name for h in self.others(name)]
        return await self._network(f"isolate {name}", [self.d.lab.partition([name], others)])

    async def one_way(self, source: str, targets: Iterable[str]) -> Applied:
        """Drop what `source` sends to each target; what they send it still arrives."""
        names = sorted(targets)
        blackholes = [self.d.lab.blackhole(source, t, one_way=True) for t in names]
        return await self._network(f"one-way {source} -> {names}", blackholes)

    async def link_down(self, name: str) -> Applied:
        return await self._network(f"link down {name}", [self.d.lab.link_down(name)])

    async def loss(self, name: str, percent: int) -> Applied:
        return await self._network(f"loss {percent}% {name}", [self.d.lab.loss(name, percent)])

    async def delay(self, instance_id: str, ms: float) -> Applied:
        """`ms` of delay each way on a streamer's NATS connections (its proxies)."""
        proxies = self.d.streamers[instance_id].proxies
        for proxy in proxies:
            await proxy.set_delay(ms)

        async def undo() -> None:
            for proxy in proxies:
                await proxy.set_delay(0)

        return self._applied(f"delay {ms:g} ms streamer-{instance_id}", undo)

    async def flap(self, name: str, *, period_s: float, for_s: float) -> None:
        """The host's link down for `period_s`, up for `period_s`, ... for `for_s`."""
        loop = asyncio.get_running_loop()
        until = loop.time() + for_s
        while loop.time() < until:
            down = await self.link_down(name)
            await asyncio.sleep(period_s)
            await down.heal()
            await asyncio.sleep(period_s)

    async def pause(self, instance_id: str) -> Applied:
        """SIGSTOP a streamer (it keeps its sockets and answers nothing)."""
        self.d.signal_streamer(instance_id, "pause")

        async def undo() -> None:
            self.d.signal_streamer(instance_id, "resume")

        return self._applied(f"pause streamer-{instance_id}", undo)

    async def kill_streamer(self, instance_id: str) -> Applied:
        """SIGKILL a streamer; healing starts it again."""
        self.d.signal_streamer(instance_id, "kill")

        async def undo() -> None:
            await self.d.start_streamer(instance_id)

        return self._applied(f"kill streamer-{instance_id}", undo)

    async def restart_node(self, name: str, *, hard: bool = True) -> None:
        """Restart a NATS node on its store (SIGKILL or SIGTERM first), recorded."""
        what = f"restart {name} ({'SIGKILL' if hard else 'SIGTERM'})"
        self.d.event("fault", what=what, phase="apply")
        await self.d.nodes.restart(self.host(name), hard=hard)
        self.d.event("fault", what=what, phase="heal")
