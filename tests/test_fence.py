"""The write fence against real nats-servers (one, and a 3-node cluster with R3 buckets):
a newer leader's fence refuses an older leader's writes, late ones included; the fence
outlives the bucket's TTL; on a cluster a pass is one atomic batch, republished whole
or refused whole; a deposed leader that raises its fence late is told so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.kv import KeyValue

from schemas import WriteFence, fence_key
from schemas.buckets import FUNDING_BUCKET, bucket_specs
from schemas.subjects import kv_subject
from streamer.buckets import ensure_bucket
from streamer.fence import BucketFence, FencedError, NotFencedError
from streamer.fence_stream import JetStreamFence
from streamer.nats_server import NatsServer
from tests.nats_cluster import NatsCluster, wait_stream_leader

FENCE = kv_subject(FUNDING_BUCKET, fence_key("local"))
KEY = "local.SOL-PERP"


@pytest_asyncio.fixture(params=["one server", "cluster"])
async def bucket(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KeyValue]:
    """drift_funding (TTL 2 s) on one server (R1) or a 3-node cluster (R3)."""
    spec = bucket_specs(funding_ttl=2)[FUNDING_BUCKET]
    if request.param == "one server":
        async with NatsServer(store_dir=tmp_path / "js") as server:
            nc = await nats.connect(server.url)
            yield await ensure_bucket(nc.jetstream(), spec)
            await nc.close()
    else:
        async with NatsCluster(tmp_path) as cluster:
            nc = await nats.connect(cluster.urls.split(","))
            kv = await ensure_bucket(nc.jetstream(), spec, replicas=3)
            await wait_stream_leader(nc.jetstream(), kv._stream)
            yield kv
            await nc.close()


def _fence(epoch: int, who: str = "a") -> WriteFence:
    return WriteFence(network="local", ts=0, instance_id=who, epoch=epoch)


async def _holds() -> bool:
    return False


async def _value(kv: KeyValue) -> bytes | None:
    return (await kv.get(KEY)).value


async def test_a_newer_fence_refuses_the_older_leaders_writes(bucket: KeyValue) -> None:
    """A writes under its fence; B raises a newer one: A's single and batched writes are
    refused (FencedError) and change nothing, B's go through."""
    a = BucketFence(JetStreamFence(bucket), FENCE)
    b = BucketFence(JetStreamFence(bucket), FENCE)
    with pytest.raises(NotFencedError):
        await a.write([(KEY, b"a0")])
    await a.raise_fence(_fence(1, "a"), _holds)
    assert all(isinstance(o, int) for o in await a.write([(KEY, b"a1")]))
    await b.raise_fence(_fence(2, "b"), _holds)
    single = await a.write([(KEY, b"a2")])
    batch = await a.write([(KEY, b"a3"), ("local.BTC-PERP", b"a3")])
    assert all(isinstance(o, FencedError) for o in [*single, *batch])
    assert await _value(bucket) == b"a1"
    assert all(isinstance(o, int) for o in await b.write([(KEY, b"b1"), ("local.ETH-PERP", b"b1")]))
    assert await _value(bucket) == b"b1"


async def test_a_deposed_leader_that_fences_late_is_told(bucket: KeyValue) -> None:
    """A won epoch 5 but raises its fence only after B (epoch 6) did: A gets FencedError
    and B keeps writing; the lease holder itself overwrites a higher-looking fence (one
    from an earlier life of the lease bucket)."""
    a = BucketFence(JetStreamFence(bucket), FENCE)
    b = BucketFence(JetStreamFence(bucket), FENCE)
    await b.raise_fence(_fence(6, "b"), _holds)
    with pytest.raises(FencedError, match="epoch 6"):
        await a.raise_fence(_fence(5, "a"), _holds)
    assert all(isinstance(o, int) for o in await b.write([(KEY, b"b")]))

    async def holds() -> bool:
        return True

    c = BucketFence(JetStreamFence(bucket), FENCE)
    await c.raise_fence(_fence(1, "c"), holds)  # the lease bucket started over
    assert isinstance((await b.write([(KEY, b"late")]))[0], FencedError)


async def test_the_fence_outlives_the_bucket_ttl(bucket: KeyValue) -> None:
    """The fence record never expires (Nats-TTL: never) although values do after 2 s:
    writes conditioned on it still pass after the TTL, and it is not a value readers see
    (three tokens: no `local.*` filter matches)."""
    fence = BucketFence(JetStreamFence(bucket), FENCE)
    seq = await fence.raise_fence(_fence(1), _holds)
    await fence.write([(KEY, b"v")])
    js = bucket._js
    await asyncio.sleep(3)  # past the TTL (nothing to await: expiry is silent)
    assert (await js.get_last_msg(bucket._stream, FENCE)).seq == seq
    assert all(isinstance(o, int) for o in await fence.write([(KEY, b"w")]))
    assert [k for k in await bucket.keys() if not k.startswith("_fence.")] == [KEY]
    assert "_fence.local.leader" in await bucket.keys()


async def test_a_cluster_pass_is_one_atomic_batch(tmp_path: Path) -> None:
    """On R3 every write of a pass goes in one atomic batch: 150 values arrive on their
    republished subjects; a batch under a stale fence stores none of them."""
    async with NatsCluster(tmp_path) as cluster:
        nc: Client = await nats.connect(cluster.urls.split(","))
        kv = await ensure_bucket(
            nc.jetstream(), bucket_specs()[FUNDING_BUCKET], replicas=3, align=True
        )
        await wait_stream_leader(nc.jetstream(), kv._stream)
        old = BucketFence(JetStreamFence(kv), FENCE)
        new = BucketFence(JetStreamFence(kv), FENCE)
        await old.raise_fence(_fence(1, "old"), _holds)
        got: asyncio.Queue[Msg] = asyncio.Queue()

        async def on_msg(msg: Msg) -> None:
            await got.put(msg)

        await nc.subscribe("drift.local.funding.*", cb=on_msg)
        puts = [(f"local.M{i}", f"{i}".encode()) for i in range(150)]
        seqs = [s for s in await old.write(puts) if isinstance(s, int)]
        assert len(seqs) == 150
        assert seqs == list(range(seqs[0], seqs[0] + 150))  # contiguous: one batch
        subjects = {(await asyncio.wait_for(got.get(), 5)).subject for _ in puts}
        assert subjects == {f"drift.local.funding.M{i}" for i in range(150)}
        await new.raise_fence(_fence(2, "new"), _holds)
        refused = await old.write([(f"local.M{i}", b"stale") for i in range(150)])
        assert all(isinstance(o, FencedError) for o in refused)
        assert (await kv.get("local.M7")).value == b"7"
        await nc.close()
