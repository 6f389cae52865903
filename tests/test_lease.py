"""The leader lease and the write fence: property 1 (at most one writer, fenced; a deposed
leader believes it leads for a bounded time) on the real protocol code with a fake KV, a
fake stream and a fake clock, then the lease against nats-server (the fence against
nats-server: tests/test_fence.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from schemas import WriteFence, fence_key
from schemas.buckets import LEADER_BUCKET, bucket_specs
from schemas.subjects import kv_subject
from streamer.buckets import ensure_bucket
from streamer.fence import BucketFence, FencedError, StaleSequenceError
from streamer.lease import Action, LeaderLease, LeaseMachine
from streamer.nats_server import NatsServer
from tests.fence_fakes import FakeFenceStream

# give_up_after (2/3 TTL = 4 s) past detect_after (2 s): a standby takes over while a
# cut-off leader still believes it leads, the case the fence is there for
TTL = 6.0
BUCKET = "drift_funding"
FENCE = kv_subject(BUCKET, fence_key("local"))
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


class Link:
    """One instance's connection: while cut, every KV or stream call it makes fails."""

    def __init__(self) -> None:
        self.up = True

    def check(self) -> None:
        if not self.up:
            raise ConnectionError("cut off from NATS")


class LinkedKV:
    """FakeKV as one instance reaches it."""

    def __init__(self, kv: FakeKV, link: Link) -> None:
        self._kv, self._link = kv, link

    async def create(self, key: str, value: bytes) -> int:
        self._link.check()
        return await self._kv.create(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        self._link.check()
        return await self._kv.update(key, value, last)

    async def delete(self, key: str, last: int | None = None) -> bool:
        self._link.check()
        return await self._kv.delete(key, last)

    async def get(self, key: str) -> _Entry:
        self._link.check()
        return await self._kv.get(key)


class LinkedStream:
    """FakeFenceStream as one instance reaches it; its data writes go into the network
    (`sent`) and land when a rule delivers them, late ones included."""

    bucket = BUCKET

    def __init__(self, stream: FakeFenceStream, link: Link, sent: list[Any]) -> None:
        self._stream, self._link, self._sent = stream, link, sent

    async def replicated(self) -> bool:
        return False

    async def last(self, subject: str) -> tuple[int, bytes] | None:
        self._link.check()
        return await self._stream.last(subject)

    async def put_fence(self, subject: str, data: bytes, *, expected: int) -> int:
        self._link.check()
        return await self._stream.put_fence(subject, data, expected=expected)

    async def put(self, key: str, data: bytes, *, fence: str, seq: int) -> int:
        self._sent.append((key, data, fence, seq))  # in flight: a rule delivers it
        return 0

    async def put_many(
        self, items: Sequence[tuple[str, bytes]], *, fence: str, seq: int
    ) -> list[int | BaseException]:
        return [await self.put(k, v, fence=fence, seq=seq) for k, v in items]

    async def put_batch(
        self, items: Sequence[tuple[str, bytes]], *, fence: str, seq: int
    ) -> list[int]:
        return [await self.put(k, v, fence=fence, seq=seq) for k, v in items]


@dataclass
class Instance:
    lease: LeaderLease
    fence: BucketFence
    link: Link
    alive: bool = True


class LeaseProtocol(RuleBasedStateMachine):
    """Instances start, step, beat, stall, crash, restart and get cut off from NATS while
    time passes; a leader raises its fence and writes, its writes land late or never.
    Property 1: the values stored never go back to an older epoch (at most one writer,
    fenced), and a deposed leader renews no more, so it believes it leads for at most
    `give_up_after` after it was deposed."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = [1000.0]
        self.kv = FakeKV(self.clock, TTL)
        self.stream = FakeFenceStream(BUCKET)
        self.sent: list[Any] = []
        self.instances: dict[int, Instance] = {}
        self.epochs: list[int] = []

    def teardown(self) -> None:
        self.loop.close()

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def _live(self) -> list[int]:
        return sorted(i for i, inst in self.instances.items() if inst.alive)

    @initialize()
    def two_instances(self) -> None:
        self.start(0)
        self.start(1)

    @rule(i=st.integers(0, 2))
    def start(self, i: int) -> None:
        if i not in self.instances or not self.instances[i].alive:
            link = Link()
            lease = LeaderLease(
                LinkedKV(self.kv, link), "local", f"i{i}", TTL, clock=lambda: self.clock[0]
            )
            stream = LinkedStream(self.stream, link, self.sent)
            self.instances[i] = Instance(lease, BucketFence(stream, FENCE), link)

    @rule(dt=st.floats(0.0, TTL))
    def advance(self, dt: float) -> None:
        self.clock[0] += dt

    @precondition(lambda self: self._live())
    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        inst = self.instances[data.draw(st.sampled_from(self._live()))]
        machine = inst.lease.machine
        renewed = machine.renewed_at
        elected, deposed = self._run(inst.lease.step())
        if machine.leader and not elected and machine.renewed_at != renewed:
            # a renewal succeeded: nobody may have been elected after this epoch
            assert machine.epoch is not None
            assert all(e <= machine.epoch for e in self.epochs), (machine.epoch, self.epochs)
        if deposed:
            inst.fence.lower()
        if elected:
            assert inst.lease.epoch is not None
            self.epochs.append(inst.lease.epoch)

    @precondition(lambda self: self._live())
    @rule(data=st.data())
    def raise_fence(self, data: st.DataObject) -> None:
        """A leader fences the bucket (its leader scope does this first of all)."""
        inst = self.instances[data.draw(st.sampled_from(self._live()))]
        epoch = inst.lease.epoch
        if epoch is None or inst.fence.epoch == epoch:
            return
        fence = WriteFence(network="local", ts=0, instance_id=inst.lease.instance_id, epoch=epoch)
        try:
            self._run(inst.fence.raise_fence(fence, inst.lease.holds))
        except FencedError as exc:
            inst.lease.deposed(str(exc))
        except ConnectionError:
            pass

    @precondition(lambda self: self._live())
    @rule(data=st.data())
    def write(self, data: st.DataObject) -> None:
        """A fenced leader sends a value carrying its epoch."""
        inst = self.instances[data.draw(st.sampled_from(self._live()))]
        if inst.lease.is_leader and inst.fence.seq is not None:
            epoch = inst.lease.epoch
            self._run(inst.fence.write([("local.SOL-PERP", str(epoch).encode())]))

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        """A write in flight lands now (any order: a retransmission can be late)."""
        key, value, fence, seq = self.sent.pop(data.draw(st.integers(0, len(self.sent) - 1)))
        with contextlib.suppress(StaleSequenceError):  # refused: the fence moved
            self._run(self.stream.put(key, value, fence=fence, seq=seq))

    @precondition(lambda self: len(self._live()) > 1)
    @rule(data=st.data())
    def beat(self, data: st.DataObject) -> None:
        """A leader's beat reaches another instance (beats may also never arrive)."""
        live = self._live()
        src, dst = data.draw(st.permutations(live))[:2]
        lease = self.instances[src].lease
        if lease.is_leader and lease.epoch is not None:
            self.instances[dst].lease.heard_beat(lease.instance_id, lease.epoch)

    @precondition(lambda self: self._live())
    @rule(data=st.data())
    def cut_or_heal(self, data: st.DataObject) -> None:
        inst = self.instances[data.draw(st.sampled_from(self._live()))]
        inst.link.up = not inst.link.up

    @precondition(lambda self: self._live())
    @rule(data=st.data(), clean=st.booleans())
    def stop(self, data: st.DataObject, clean: bool) -> None:
        """A clean stop releases the key; a crash (SIGKILL) just stops stepping."""
        inst = self.instances[data.draw(st.sampled_from(self._live()))]
        if clean and inst.lease.is_leader:
            with contextlib.suppress(ConnectionError):
                self._run(inst.lease._release())
        inst.alive = False

    @invariant()
    def epochs_increase(self) -> None:
        assert self.epochs == sorted(self.epochs)
        assert len(set(self.epochs)) == len(self.epochs)

    @invariant()
    def stored_values_never_go_back(self) -> None:
        epochs = [int(v) for v in [v for _, v in self.stream.puts]]
        assert epochs == sorted(epochs), epochs

    @invariant()
    def a_deposed_leader_believes_for_a_bounded_time(self) -> None:
        """X: a leader believes it leads for at most give_up_after past its last
        renewal (and `step` checks that no renewal succeeds after a newer election)."""
        now = self.clock[0]
        for inst in self.instances.values():
            machine = inst.lease.machine
            if inst.alive and machine.leader and not machine.overdue(now):
                assert machine.renewed_at is not None
                assert now - machine.renewed_at < machine.give_up_after


LeaseProtocol.TestCase.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
test_singleton_guarantee = LeaseProtocol.TestCase


def test_machine_renews_beats_and_gives_up() -> None:
    """The pure machine: a standby acquires an absent key once it read it; a leader
    renews every TTL/3 (at most 1 s) and is overdue at 2/3 TTL."""
    m = LeaseMachine(ttl=9.0)
    assert m.next_action(0.0) is Action.WAIT  # nothing read yet
    m.saw_key(None, None, 0.0)
    assert m.next_action(0.0) is Action.ACQUIRE
    m.acquired(revision=5, now=0.0)
    assert (m.leader, m.epoch) == (True, 5)
    assert m.renew_every == 1.0
    assert m.next_action(0.9) is Action.WAIT
    assert m.next_action(1.0) is Action.RENEW
    assert not m.overdue(5.9)
    assert m.overdue(6.0)
    m.renewed(revision=7, sent_at=6.0)
    assert (m.epoch, m.revision) == (5, 7)  # the epoch stays while the lease is held
    assert not m.saw_beat(5, 6.0)  # its own epoch: nothing
    assert m.saw_beat(8, 6.0)  # a newer leader beats: deposed
    m.lost()
    assert m.next_action(6.0) is Action.WAIT  # read the key again before judging


def test_a_standby_takes_over_a_silent_holder_only() -> None:
    """A standby takes over after `detect_after` without a sign of life (no new revision,
    no beat); beats, renewals and reads that fail (no evidence) each hold it back."""
    m = LeaseMachine(ttl=15.0, detect_after=2.0)
    m.saw_key(7, 7, 0.0)
    for t in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0):  # beats every half second
        assert not m.saw_beat(7, t)
        assert m.next_action(t + 0.25) is Action.WAIT
    m.saw_beat(6, 3.4)  # a deposed leader's late beat: no sign of the holder's life
    assert m.next_action(4.9) is Action.WAIT
    assert m.next_action(5.0) is Action.TAKE_OVER  # 2 s after the last beat
    m.saw_key(9, 7, 5.0)  # it renewed after all (a new revision): alive
    assert m.next_action(6.9) is Action.WAIT
    m.blind(6.9)  # cannot read the key: no evidence either way
    assert m.next_action(8.8) is Action.WAIT
    assert m.next_action(8.9) is Action.TAKE_OVER


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
