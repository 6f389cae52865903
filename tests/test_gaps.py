"""A live value that never reached a client is noticed from the leader's beat, and
reloaded (`subscribers.gaps`): what a NATS node cut from a stream's leader does to its
clients (drops the republished values, keeps the connection), made here on one server
by taking the bucket's republish away while the streamer writes."""

from __future__ import annotations

import asyncio
import dataclasses
from types import SimpleNamespace
from typing import Any, cast

from nats.aio.client import Client

from localnet import MarketPatch
from localnet.server import LocalnetServer
from schemas import LeaderBeat, decode, leader_subject
from schemas.buckets import MARKETS_BUCKET, PRICES_BUCKET
from schemas.subjects import Network
from streamer.nats_server import NatsServer
from subscribers.client import Accepted, DriftStreamClient
from subscribers.gaps import GapWatch
from subscribers.mirror import Mirror
from tests.fixtures_streamer import StartStreamer

NET: Network = "local"


def _mirror(bucket: str, high: int, backlog: int = 0) -> Any:
    return SimpleNamespace(bucket=bucket, high=high, backlog=backlog, reload=asyncio.Event())


def _beat(network: Network = NET, **last_seqs: int) -> LeaderBeat:
    return LeaderBeat(network=network, ts=1.0, instance_id="a", epoch=1, last_seqs=last_seqs)


def test_a_mirror_behind_the_beat_before_last_reloads() -> None:
    """The first two beats only set what is due; the third reloads each mirror that has
    not seen its bucket's sequence of two beats before (not the newer beats': those
    values may still be on their way)."""
    prices, markets, spot = _mirror("p", 10), _mirror("m", 3), _mirror("s", 7)
    gaps = GapWatch(NET, lambda: cast(list[Mirror[Any]], [prices, markets, spot]))
    gaps.heard(_beat(p=12, m=3))
    gaps.heard(_beat(p=12, m=4))
    assert gaps.reloads == 0
    gaps.heard(_beat(p=20, m=4))  # due: p 12 (seen 10: behind), m 3 (seen 3), s none
    assert (prices.reload.is_set(), markets.reload.is_set(), spot.reload.is_set()) == (
        True,
        False,
        False,
    )
    prices.reload.clear()
    prices.high = 25  # reloaded; m's 4 is due now, and missed
    gaps.heard(_beat(p=25, m=5, s=7))
    assert (prices.reload.is_set(), markets.reload.is_set()) == (False, True)
    assert gaps.reloads == 2


def test_a_mirror_with_messages_still_to_apply_is_behind_not_missing() -> None:
    """A busy engine holds received messages it has not applied yet: no reload (it
    would only add load), until its queue is empty and the value is still missing."""
    mirror = _mirror("p", 5, backlog=40)
    gaps = GapWatch(NET, lambda: cast(list[Mirror[Any]], [mirror]))
    for _ in range(4):
        gaps.heard(_beat(p=9))
    assert not mirror.reload.is_set()
    mirror.backlog = 0
    gaps.heard(_beat(p=9))
    assert mirror.reload.is_set()
    assert gaps.reloads == 1


def test_a_mirror_that_keeps_taking_values_is_late_not_missing() -> None:
    """Values still arrive (a busy server republishing behind its beats): however far
    behind, no reload; once they stop coming while still behind, a reload."""
    mirror = _mirror("p", 100)
    gaps = GapWatch(NET, lambda: cast(list[Mirror[Any]], [mirror]))
    for beat in range(10):
        gaps.heard(_beat(p=1000 + 100 * beat))
        mirror.high += 10
    gaps.heard(_beat(p=3000))  # it moved since the last beat, for the last time
    assert not mirror.reload.is_set()
    gaps.heard(_beat(p=3000))  # `high` stood still since the last beat
    assert mirror.reload.is_set()


def test_a_reconnect_of_the_callers_connection_reloads_every_mirror() -> None:
    """A connection given by the caller reconnected since the last beat: every mirror
    reloads at the next beat (once)."""
    mirrors = [_mirror("p", 1), _mirror("m", 1)]
    reconnects = [0]
    gaps = GapWatch(NET, lambda: cast(list[Mirror[Any]], mirrors), lambda: reconnects[0])
    gaps.heard(_beat())
    assert not any(m.reload.is_set() for m in mirrors)
    reconnects[0] = 1
    gaps.heard(_beat())
    assert all(m.reload.is_set() for m in mirrors)
    for m in mirrors:
        m.reload.clear()
    gaps.heard(_beat())
    assert not any(m.reload.is_set() for m in mirrors)


def test_a_beat_without_sequences_reloads_nothing() -> None:
    """A streamer of the previous release beats without `last_seqs`: no reloads."""
    mirror = _mirror("p", 0)
    gaps = GapWatch(NET, lambda: cast(list[Mirror[Any]], [mirror]))
    old = decode(LeaderBeat, b'{"v":1,"network":"local","ts":1.0,"instance_id":"a","epoch":3}')
    gaps.heard(old)
    gaps.heard(old)
    assert not mirror.reload.is_set()
    assert gaps.reloads == 0


async def test_the_beat_carries_the_last_acknowledged_write(
    start_streamer: StartStreamer, client: Client, fresh_nats: NatsServer
) -> None:
    """Each sequence in a beat's `last_seqs` is a value of that bucket for the network,
    written by the beating leader (its epoch)."""
    await start_streamer()
    beats = await client.subscribe(leader_subject(NET))
    async with DriftStreamClient(NET, nats_url=fresh_nats.url, name="e"):
        while True:
            beat = decode(LeaderBeat, (await beats.next_msg(timeout=10)).data)
            if {PRICES_BUCKET, MARKETS_BUCKET} <= set(beat.last_seqs):
                break
    js = client.jetstream()
    for bucket in (PRICES_BUCKET, MARKETS_BUCKET):
        msg = await js.get_msg(f"KV_{bucket}", beat.last_seqs[bucket])
        assert msg.subject is not None
        assert msg.subject.startswith(f"$KV.{bucket}.{NET}")
        assert msg.data is not None
        assert b'"epoch":%d' % beat.epoch in msg.data


async def test_a_value_whose_republish_was_lost_is_reloaded(
    start_streamer: StartStreamer,
    client: Client,
    fresh_nats: NatsServer,
    localnet: LocalnetServer,
) -> None:
    """The prices bucket stops republishing; a price written after that reaches the
    client all the same, by the reload its next beats cause."""
    await start_streamer()
    js = client.jetstream()
    taken: asyncio.Queue[Accepted] = asyncio.Queue()
    async with DriftStreamClient(
        NET, nats_url=fresh_nats.url, name="e", tap=taken.put_nowait
    ) as engine:
        config = (await js.stream_info(f"KV_{PRICES_BUCKET}")).config
        assert config.republish is not None
        await js.update_stream(dataclasses.replace(config, republish=None))
        try:
            written = (await js.stream_info(f"KV_{PRICES_BUCKET}")).state.last_seq
            localnet.markets.apply(MarketPatch(symbol="SOL-PERP", oracle_price=123_456_789))
            while True:  # nothing is republished now: only a reload can bring it
                accepted = await asyncio.wait_for(taken.get(), timeout=10)
                if accepted.bucket == PRICES_BUCKET and accepted.seq > written:
                    break
        finally:
            await js.update_stream(config)
        assert accepted.key.startswith(f"{NET}.")
        assert engine.stats.gap_reloads >= 1
