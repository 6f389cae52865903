"""A consumer's presence: the key that tells the streamer an engine is alive.

`Presence` puts `drift_consumers.<net>.<engine>.<consumer_id>` (a `ConsumerPresence`),
renews it every TTL/3 and deletes it on a clean exit; if the process dies, the bucket TTL
removes it. `<engine>` is the engine's NATS user (`subscribers.identity`), the only user
allowed to write the key. Imports only schemas and nats (an engine never imports driftpy).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from types import TracebackType

from nats.js.kv import KeyValue

from schemas import ConsumerPresence, consumer_key, encode
from schemas.subjects import Network
from subscribers.waits import raise_if_cancelled

__all__ = ["Presence"]

log = logging.getLogger("drift_stream.presence")


class Presence:
    """An async context manager: present while inside, gone after (or after a crash).
    `engine` (the key's engine token) is `name` unless given."""

    def __init__(
        self,
        kv: KeyValue,
        network: Network,
        consumer_id: str,
        name: str,
        *,
        ttl_s: float,
        engine: str | None = None,
    ) -> None:
        self._kv = kv
        self.engine = name if engine is None else engine
        self.key = consumer_key(network, self.engine, consumer_id)
        self._value = ConsumerPresence(
            consumer_id=consumer_id,
            name=name,
            network=network,
            pid=os.getpid(),
            host=socket.gethostname(),
            started_ts=time.time(),
        )
        self._every = ttl_s / 3
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Presence:
        await self._put()
        self._task = asyncio.create_task(self._heartbeat(), name=f"presence {self.key}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_heartbeat()
        with contextlib.suppress(Exception):
            await self._kv.delete(self.key)

    def _stop_heartbeat(self) -> None:
        """Stop renewing without deleting: what a crash looks like (tests use it)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _put(self) -> None:
        value = self._value.model_copy(update={"ts": time.time()})
        await self._kv.put(self.key, encode(value))

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self._put()
            except Exception as exc:  # NATS away: the next beat tries again
                raise_if_cancelled()  # nats-py turns a cancellation into its timeout
                log.warning("presence heartbeat failed: %r", exc, extra={"key": self.key})
