"""The leader lease: property 1 (singleton guarantee) on the real protocol code with a
fake KV and a fake clock, then the real thing against nats-server."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from schemas.buckets import LEADER_BUCKET, bucket_specs
from streamer.buckets import ensure_bucket
from streamer.lease import Action, LeaderLease, LeaseMachine
from streamer.nats_server import NatsServer

TTL = 3.0
log = logging.getLogger("drift_stream.tests")


@dataclass
class _Entry:
    value: bytes
    revision: int
    written_at: float


class FakeKV:
    """A one-bucket KV with nats' compare-and-set semantics and a bucket TTL."""

    def __init__(self, clock: list[float], ttl: float) -> None:
        self._clock, self._ttl = clock, ttl
        self._data: dict[str, _Entry] = {}
        self._revision = 0

    def _live(self, key: str) -> _Entry | None:
        entry = self._data.get(key)
        if entry is not None and self._clock[0] - entry.written_at >= self._ttl:
            del self._data[key]  # expired, as max_age removes it
            return None
        return entry

    def _write(self, key: str, value: bytes) -> int:
        self._revision += 1
        self._data[key] = _Entry(value, self._revision, self._clock[0])
        return self._revision

    async def create(self, key: str, value: bytes) -> int:
        if self._live(key) is not None:
            raise KeyWrongLastSequenceError
        return self._write(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        entry = self._live(key)
        if entry is None or entry.revision != last:
            raise KeyWrongLastSequenceError
        return self._write(key, value)

    async def delete(self, key: str, last: int | None = None) -> bool:
        entry = self._live(key)
        if entry is not None and entry.revision == last:
            del self._data[key]
        return True

    async def get(self, key: str) -> _Entry:
        entry = self._live(key)
        if entry is None:
            raise KeyNotFoundError
        return entry


class LeaseProtocol(RuleBasedStateMachine):
    """Instances start, step, stall, crash and restart while time passes; at no moment
    do two of them believe they lead (a leader whose renewal is overdue no longer does)."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = [1000.0]
        self.kv = FakeKV(self.clock, TTL)
        self.instances: dict[int, LeaderLease] = {}
        self.alive: dict[int, bool] = {}
        self.epochs: list[int] = []

    def teardown(self) -> None:
        self.loop.close()

    def _new(self, i: int) -> None:
        self.instances[i] = LeaderLease(self.kv, "local", f"i{i}", TTL, clock=lambda: self.clock[0])
        self.alive[i] = True

    @rule(i=st.integers(0, 3))
    def start(self, i: int) -> None:
        if i not in self.instances or not self.alive[i]:
            self._new(i)

    @rule(dt=st.floats(0.0, TTL * 1.5))
    def advance(self, dt: float) -> None:
        self.clock[0] += dt

    @precondition(lambda self: any(self.alive.values()))
    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        i = data.draw(st.sampled_from(sorted(k for k, v in self.alive.items() if v)))
        lease = self.instances[i]
        elected, _ = self.loop.run_until_complete(lease.step())
        if elected:
            assert lease.epoch is not None
            self.epochs.append(lease.epoch)

    @precondition(lambda self: any(self.alive.values()))
    @rule(data=st.data(), clean=st.booleans())
    def stop(self, data: st.DataObject, clean: bool) -> None:
        """A clean stop releases the key; a crash (SIGKILL) just stops stepping."""
        i = data.draw(st.sampled_from(sorted(k for k, v in self.alive.items() if v)))
        if clean and self.instances[i].is_leader:
            self.loop.run_until_complete(self.instances[i]._release())
        self.alive[i] = False

    def _believers(self) -> list[int]:
        now = self.clock[0]
        return [
            i
            for i, lease in self.instances.items()
            if self.alive[i] and lease.is_leader and not lease.machine.overdue(now)
        ]

    @invariant()
    def at_most_one_leader(self) -> None:
        assert len(self._believers()) <= 1

    @invariant()
    def epochs_increase(self) -> None:
        assert self.epochs == sorted(self.epochs)
        assert len(set(self.epochs)) == len(self.epochs)


LeaseProtocol.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_singleton_guarantee = LeaseProtocol.TestCase


def test_machine_renews_at_a_third_and_gives_up_at_two_thirds() -> None:
    """The pure machine: acquire when not leader, renew at TTL/3, overdue at 2/3 TTL."""
    m = LeaseMachine(ttl=9.0)
    assert m.next_action(0.0) is Action.ACQUIRE
    m.acquired(revision=5, now=0.0)
    assert (m.leader, m.epoch) == (True, 5)
    assert m.next_action(2.9) is Action.WAIT
    assert m.next_action(3.0) is Action.RENEW
    assert not m.overdue(5.9)
    assert m.overdue(6.0)
    m.renewed(revision=7, sent_at=6.0)
    assert (m.epoch, m.revision) == (5, 7)  # the epoch stays while the lease is held
    m.lost()
    assert m.next_action(6.0) is Action.ACQUIRE


async def test_two_instances_one_leader_and_handover(tmp_path: Path) -> None:
    """Real KV: of two instances exactly one leads; cancelling it hands over at once,
    with a higher epoch; a crashed leader (never releases) is replaced after the TTL."""
    async with NatsServer(store_dir=tmp_path / "js") as server:
        import nats

        nc = await nats.connect(server.url)
        kv = await ensure_bucket(nc.jetstream(), bucket_specs(lease_ttl=2)[LEADER_BUCKET])
        events: dict[str, asyncio.Queue[tuple[str, int | None]]] = {}
        leases = {name: LeaderLease(kv, "local", name, 2.0) for name in ("a", "b")}
        tasks = {}
        for name, lease in leases.items():
            queue: asyncio.Queue[tuple[str, int | None]] = asyncio.Queue()
            events[name] = queue

            async def elected(epoch: int, q: asyncio.Queue[tuple[str, int | None]] = queue) -> None:
                await q.put(("elected", epoch))

            async def deposed(q: asyncio.Queue[tuple[str, int | None]] = queue) -> None:
                await q.put(("deposed", None))

            tasks[name] = asyncio.create_task(lease.run(elected, deposed))
        first = await _first_elected(events)
        second = "b" if first == "a" else "a"
        assert leases[first].is_leader
        assert not leases[second].is_leader
        holder = json.loads((await kv.get("local")).value or b"{}")
        assert holder["instance_id"] == first
        epoch1 = leases[first].epoch
        assert epoch1 is not None

        loop = asyncio.get_running_loop()
        started = loop.time()
        tasks[first].cancel()  # a clean stop releases the key
        await asyncio.gather(tasks[first], return_exceptions=True)
        kind, epoch2 = await asyncio.wait_for(events[second].get(), 5)
        handover = loop.time() - started
        assert kind == "elected"
        assert epoch2 is not None
        assert epoch2 > epoch1
        assert handover < 2.0  # faster than the TTL: the key was deleted, not expired
        log.info("clean handover took %.3f s (lease TTL 2 s)", handover)

        # crash: the new leader stops renewing without releasing
        leases[second]._release = _noop  # type: ignore[method-assign]
        tasks[second].cancel()
        await asyncio.gather(tasks[second], return_exceptions=True)
        third = LeaderLease(kv, "local", "c", 2.0)
        q3: asyncio.Queue[int] = asyncio.Queue()

        async def on_elected(epoch: int) -> None:
            await q3.put(epoch)

        async def on_deposed() -> None:
            return None

        started = loop.time()
        task3 = asyncio.create_task(third.run(on_elected, on_deposed))
        epoch3 = await asyncio.wait_for(q3.get(), 10)
        takeover = loop.time() - started
        assert epoch3 > epoch2
        assert 0.5 < takeover < 5.0  # waited for the crashed holder's key to expire
        log.info("takeover after a crash took %.3f s (lease TTL 2 s)", takeover)
        task3.cancel()
        await asyncio.gather(task3, return_exceptions=True)
        await nc.close()


async def _noop() -> None:
    return None


async def _first_elected(events: dict[str, asyncio.Queue[tuple[str, int | None]]]) -> str:
    waits = {asyncio.create_task(q.get()): name for name, q in events.items()}
    done, pending = await asyncio.wait(waits, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    assert done, "nobody was elected"
    task = done.pop()
    assert task.result()[0] == "elected"
    return waits[task]


@pytest.mark.parametrize("ttl", [0.3, 15.0])
def test_give_up_comes_before_expiry(ttl: float) -> None:
    """A leader stops believing before its key can expire (2/3 TTL < TTL)."""
    m = LeaseMachine(ttl=ttl)
    assert m.give_up_after < ttl
    assert m.renew_every < m.give_up_after
