"""The leader's heartbeat on core NATS: published while leading, heard while standing by.

Beats go on `drift.<net>.leader` (a `LeaderBeat`), not through JetStream, so they keep
flowing while a stream fails over: a standby that hears them leaves a leader alone whose
renewals stall for a few seconds, and takes the lease over only when both fall silent
(`streamer.lease`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from schemas import LeaderBeat, decode, encode, leader_subject
from schemas.errors import SchemaError
from schemas.subjects import Network

__all__ = ["beat_publisher", "listen_to_beats"]

log = logging.getLogger("drift_stream.lease")


def beat_publisher(
    nc: Client,
    network: Network,
    instance_id: str,
    last_seqs: Callable[[], Mapping[str, int]] = dict,
) -> Callable[[int], Awaitable[None]]:
    """`await beat(epoch)` publishes one LeaderBeat of this instance, with `last_seqs()`
    (the stream sequence of its last acknowledged write, by data bucket)."""
    subject = leader_subject(network)

    async def beat(epoch: int) -> None:
        payload = LeaderBeat(
            network=network,
            ts=time.time(),
            instance_id=instance_id,
            epoch=epoch,
            last_seqs=dict(last_seqs()),
        )
        await nc.publish(subject, encode(payload))

    return beat


async def listen_to_beats(
    nc: Client, network: Network, heard: Callable[[str, int], None]
) -> Subscription:
    """Subscribe to the network's beats; `heard(instance_id, epoch)` for each valid one
    (a beat that does not parse is skipped)."""

    async def on_beat(msg: Msg) -> None:
        try:
            beat = decode(LeaderBeat, msg.data)
        except SchemaError:
            log.debug("skipped a leader beat that does not parse")
            return
        if beat.network == network:
            heard(beat.instance_id, beat.epoch)

    return await nc.subscribe(leader_subject(network), cb=on_beat)
