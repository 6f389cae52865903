"""Consumer presence: property 2 (reference counting) on the pure machine, then the
tracker and the consumer-side Presence against a real nats-server, and the presence
bucket's refusal of rollup headers (on a new bucket, and on an older one once aligned)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import ServerError
from nats.js.kv import KeyValue

from schemas.buckets import CONSUMERS_BUCKET, bucket_specs
from schemas.subjects import kv_subject
from streamer.buckets import ensure_bucket, ensure_buckets
from streamer.nats_server import NatsServer
from streamer.presence import LifecycleMachine, PresenceTracker
from subscribers.buckets import last_entries
from subscribers.presence import Presence
from tests.fixtures_streamer import StartStreamer

PRESENCE_TTL = 3.0
GRACE = 2.0
ROLLUP = "Nats-Rollup"


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


async def test_tracker_counts_both_key_forms(fresh_nats: NatsServer) -> None:
    """Presence keys of this release (`<net>.<engine>.<id>`) and of the previous one
    (`<net>.<id>`, still read) count alike, and a mix adds up: at once through the
    watch, and in a recount; a delete of either form counts down at once. Another
    network's keys of either form do not count."""
    nc = await nats.connect(fresh_nats.url)
    kv = await ensure_bucket(nc.jetstream(), bucket_specs(presence_ttl=30)[CONSUMERS_BUCKET])
    tracker = PresenceTracker(kv, "local", interval_s=30)  # no recount: the watch only
    counts: asyncio.Queue[int] = asyncio.Queue()

    async def on_count(old: int, new: int) -> None:
        await counts.put(new)

    async def next_count() -> int:
        return await asyncio.wait_for(counts.get(), 10)

    task = asyncio.create_task(tracker.run(on_count))
    try:
        await kv.put("mainnet.dashboard.m-1", b"{}")  # other networks first: no count
        await kv.put("mainnet.old-1", b"{}")
        new = Presence(kv, "local", "n-1", "funding-engine", ttl_s=30)
        await new.__aenter__()
        assert new.key == "local.funding-engine.n-1"
        assert await next_count() == 1
        await kv.put("local.old-1", b'{"consumer_id":"old-1","name":"old"}')
        assert await next_count() == 2
        await kv.put("local.dashboard.d-1", b"{}")
        assert await next_count() == 3
        await kv.put("local.old-2", b"not json")
        assert await next_count() == 4
        assert await tracker.live_count() == 4  # the recount agrees
        await kv.delete("local.old-1")
        assert await next_count() == 3
        await new.__aexit__(None, None, None)
        assert await next_count() == 2
        assert await tracker.live_count() == 2
        assert counts.empty()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.close()


# --- rollups: one engine's header must not purge every engine's key ------------------


async def _put_presences(kv: KeyValue) -> dict[str, int]:
    """Three presence keys of two networks; their revisions, by key."""
    keys = ("local.engine-a.1", "local.engine-b.1", "mainnet.engine-c.1")
    return {key: await kv.put(key, b'{"consumer_id":"1","name":"x"}') for key in keys}


async def _revisions(kv: KeyValue) -> dict[str, int]:
    """Every live key's revision (`last_entries`: nats-py's `keys()` can end early)."""
    return {entry.key: entry.revision or 0 for entry in await last_entries(kv, ">")}


async def _assert_rollups_refused(js: JetStreamContext, kv: KeyValue) -> None:
    """`Nats-Rollup: all` and `sub` on a presence key: refused by the server (its
    stream takes no rollup headers), every presence key as it was."""
    before = await _revisions(kv)
    assert len(before) == 3
    for rollup in ("all", "sub"):
        with pytest.raises(ServerError) as refused:
            await js.publish(
                kv_subject(CONSUMERS_BUCKET, "local.engine-a.1"), b"{}", headers={ROLLUP: rollup}
            )
        assert (refused.value.err_code, refused.value.description) == (
            10111,
            "rollup not permitted",
        )
    assert await _revisions(kv) == before


async def _old_bucket(js: JetStreamContext) -> KeyValue:
    """drift_consumers as an older version made it: nats-py's default KV config, which
    allows rollup headers. A rollup there purges every key but its own (shown here)."""
    spec = bucket_specs(presence_ttl=30)[CONSUMERS_BUCKET]
    kv = await js.create_key_value(KeyValueConfig(bucket=spec.name, ttl=spec.ttl_s, history=1))
    assert (await js.stream_info(kv._stream)).config.allow_rollup_hdrs
    await _put_presences(kv)
    await js.publish(
        kv_subject(CONSUMERS_BUCKET, "local.engine-a.1"), b"{}", headers={ROLLUP: "all"}
    )
    assert list(await _revisions(kv)) == ["local.engine-a.1"]  # the other engines are gone
    await kv.delete("local.engine-a.1")
    await _put_presences(kv)
    return kv


async def test_presence_refuses_rollup_headers(fresh_nats: NatsServer) -> None:
    """The presence bucket as this version creates it takes no `Nats-Rollup` header:
    an engine's `all` or `sub` on its own key is refused, the other keys stay."""
    nc = await nats.connect(fresh_nats.url)
    try:
        js = nc.jetstream()
        kv = await ensure_bucket(js, bucket_specs(presence_ttl=30)[CONSUMERS_BUCKET])
        assert not (await js.stream_info(kv._stream)).config.allow_rollup_hdrs
        await _put_presences(kv)
        await _assert_rollups_refused(js, kv)
    finally:
        await nc.close()


async def test_an_older_presence_bucket_is_aligned(fresh_nats: NatsServer) -> None:
    """A presence bucket made by an older version (rollups allowed): `ensure_buckets`
    with `align=True` turns rollups off and keeps every key; rollups are refused after."""
    nc = await nats.connect(fresh_nats.url)
    try:
        js = nc.jetstream()
        kv = await _old_bucket(js)
        before = await _revisions(kv)
        specs = bucket_specs(presence_ttl=30)
        await ensure_buckets(js, {CONSUMERS_BUCKET: specs[CONSUMERS_BUCKET]}, align=True)
        assert not (await js.stream_info(kv._stream)).config.allow_rollup_hdrs
        assert await _revisions(kv) == before
        await _assert_rollups_refused(js, kv)
    finally:
        await nc.close()


async def test_a_streamer_start_aligns_an_older_presence_bucket(
    fresh_nats: NatsServer, start_streamer: StartStreamer
) -> None:
    """The same bucket, and a streamer that starts on it: once it is ready, rollups are
    refused on drift_consumers."""
    nc = await nats.connect(fresh_nats.url)
    try:
        js = nc.jetstream()
        kv = await _old_bucket(js)
        await start_streamer(presence_ttl=30)
        assert not (await js.stream_info(kv._stream)).config.allow_rollup_hdrs
        await _assert_rollups_refused(js, kv)
    finally:
        await nc.close()
