"""A streamer instance's heartbeat: its status, written to `drift_health` whether leader
or standby (what `drift-stream streamer --check` reads) and published on
`drift.<net>.status` while it leads; every `interval_s`, and at once on a state change."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

from nats.aio.client import Client
from nats.js.kv import KeyValue

from schemas import StreamerStatus, encode, status_subject
from schemas.subjects import Network
from streamer.waits import raise_if_cancelled, wait_event

__all__ = ["health_key", "health_ttl", "heartbeat"]

log = logging.getLogger("drift_stream.streamer")


def health_ttl(status_interval_s: float) -> float:
    """The health bucket's TTL: a heartbeat missed three times in a row means unhealthy."""
    return max(3 * status_interval_s, 5.0)


def health_key(network: str, instance_id: str) -> str:
    """`<net>.<instance_id>`, the instance id reduced to the characters KV keys allow."""
    return f"{network}.{re.sub(r'[^A-Za-z0-9_-]', '_', instance_id)}"


async def heartbeat(
    nc: Client,
    health: KeyValue,
    network: Network,
    instance_id: str,
    *,
    status: Callable[[], StreamerStatus],
    is_leader: Callable[[], bool],
    changed: asyncio.Event,
    interval_s: float,
    on_ack: Callable[[str, int], None] | None = None,
) -> None:
    """Write (and, while leader, publish) `status()` until cancelled; NATS errors never
    end it. `changed` wakes it early (it is cleared after each wait)."""
    key = health_key(network, instance_id)
    while True:
        raise_if_cancelled()
        payload = encode(status())
        try:
            revision = await health.put(key, payload)
            if on_ack is not None:
                on_ack(key, revision)
            if is_leader():
                await nc.publish(status_subject(network), payload)
        except Exception as exc:  # NATS down: the next turn tries again
            raise_if_cancelled()
            log.debug("status publish failed: %r", exc)
        await wait_event(changed, interval_s)
        changed.clear()
