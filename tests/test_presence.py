"""Consumer presence: property 2 (reference counting) on the pure machine, then the
tracker and the consumer-side Presence against a real nats-server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from schemas.buckets import CONSUMERS_BUCKET, bucket_specs
from streamer.buckets import ensure_bucket
from streamer.nats_server import NatsServer
from streamer.presence import LifecycleMachine, PresenceTracker
from subscribers.presence import Presence

PRESENCE_TTL = 3.0
GRACE = 2.0


class RefCounting(RuleBasedStateMachine):
    """Consumers register, heartbeat, release and crash while time passes. The count
    always equals the live consumers, and the DriftClient runs iff the count was above
    0 within the grace period."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.beats: dict[int, float] = {}  # consumer -> last heartbeat (its key's write)
        self.machine = LifecycleMachine(GRACE)
        self.positive_at: float | None = None  # model: when the count was last > 0

    def _live(self) -> int:
        return sum(1 for t in self.beats.values() if self.now - t < PRESENCE_TTL)

    def _observe(self) -> None:
        count = self._live()
        if count > 0 or self.machine.count > 0:
            self.positive_at = self.now
        self.machine.observe(count, self.now)

    @rule(c=st.integers(0, 5))
    def register_or_heartbeat(self, c: int) -> None:
        self.beats[c] = self.now
        self._observe()

    @rule(c=st.integers(0, 5))
    def release(self, c: int) -> None:
        self.beats.pop(c, None)  # a clean release deletes the key
        self._observe()

    @rule(dt=st.floats(0.0, 4.0))
    def time_passes(self, dt: float) -> None:
        """Crashed consumers are the ones that stop heartbeating: their keys expire."""
        self.now += dt
        self._observe()

    @invariant()
    def count_equals_live_consumers(self) -> None:
        assert self.machine.count == self._live()

    @invariant()
    def client_runs_iff_count_was_positive_within_grace(self) -> None:
        expected = self.machine.count > 0 or (
            self.positive_at is not None and self.now - self.positive_at < GRACE
        )
        assert self.machine.should_run(self.now) == expected


RefCounting.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_reference_counting = RefCounting.TestCase


def test_grace_period_keeps_a_returning_consumer_cheap() -> None:
    """A consumer that leaves and returns within the grace period keeps the client."""
    m = LifecycleMachine(grace_s=10)
    assert not m.should_run(0)
    m.observe(1, 0)
    m.observe(0, 5)
    assert m.should_run(14.9)
    m.observe(1, 14.9)
    m.observe(0, 20)
    assert m.should_run(29)
    assert not m.should_run(30)
    assert m.changes == [(0, 1), (1, 0), (0, 1), (1, 0)]
    with pytest.raises(ValueError, match="negative"):
        m.observe(-1, 31)


async def test_tracker_counts_consumers_of_its_network(tmp_path: Path) -> None:
    """Two consumers count 2 at once; a clean release 1 at once; a crashed one 0 after
    its TTL; a garbage value still counts; another network's keys do not."""
    async with NatsServer(store_dir=tmp_path / "js") as server:
        nc = await nats.connect(server.url)
        kv = await ensure_bucket(nc.jetstream(), bucket_specs(presence_ttl=1.5)[CONSUMERS_BUCKET])
        tracker = PresenceTracker(kv, "local", interval_s=0.3)
        assert await tracker.live_count() == 0  # an empty bucket is 0, not an error
        counts: asyncio.Queue[int] = asyncio.Queue()

        async def on_count(old: int, new: int) -> None:
            await counts.put(new)

        task = asyncio.create_task(tracker.run(on_count))

        async def until(n: int) -> None:
            while await asyncio.wait_for(counts.get(), 10) != n:
                pass

        a = Presence(kv, "local", "a", "engine-a", ttl_s=1.5)
        b = Presence(kv, "local", "b", "engine-b", ttl_s=1.5)
        await a.__aenter__()
        await b.__aenter__()
        await until(2)
        await kv.put("mainnet.other", b"{}")  # another network: not ours
        await kv.put("local.garbage", b"\xff not json")  # unparsable: still a consumer
        await until(3)
        await a.__aexit__(None, None, None)
        await until(2)
        b._stop_heartbeat()  # crash: b and the garbage key are never renewed
        await until(0)
        assert tracker.count == 0
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.close()
