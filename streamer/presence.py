"""Consumer presence: how many engines are alive, and whether a DriftClient should run.

Each consumer heartbeats `drift_consumers.<net>.<engine>.<consumer_id>` (engines of the
previous release `<net>.<consumer_id>`: both count); the bucket TTL removes the key of
one that crashed. Expiry is silent to watchers, so `PresenceTracker`
watches for prompt changes and also recounts on a timer. `LifecycleMachine` turns the
count into "run a DriftClient or not", with a grace period so a consumer that restarts
does not cost a full resubscribe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nats.js.kv import KeyValue

from schemas.keys import consumer_wildcard
from schemas.subjects import Network
from streamer.waits import raise_if_cancelled, wait_event
from subscribers.buckets import last_entries

__all__ = ["LifecycleMachine", "PresenceTracker"]

log = logging.getLogger("drift_stream.presence")


@dataclass
class LifecycleMachine:
    """Pure: `observe(count, now)`, then `should_run(now)`.

    Runs while the count is above 0, and for `grace_s` after it last was."""

    grace_s: float
    count: int = 0
    last_positive: float | None = None  # when the count was last seen above 0
    changes: list[tuple[int, int]] = field(default_factory=list)

    def observe(self, count: int, now: float) -> None:
        if count < 0:
            raise ValueError("a consumer count cannot be negative")
        if count != self.count:
            self.changes.append((self.count, count))
            del self.changes[:-100]  # keep the recent ones only
        if count > 0 or self.count > 0:
            self.last_positive = now
        self.count = count

    def should_run(self, now: float) -> bool:
        if self.count > 0:
            return True
        return self.last_positive is not None and now - self.last_positive < self.grace_s


class PresenceTracker:
    """Counts the live presence keys of one network and reports every change."""

    def __init__(
        self,
        kv: KeyValue,
        network: Network,
        *,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self.network = network
        self._keys = consumer_wildcard(network)  # both key forms
        self._interval = interval_s
        self._clock = clock
        self.count = 0
        self._known: set[str] = set()  # keys seen live, so heartbeats cause no recount

    async def live_count(self) -> int:
        """Keys under `<net>.` now, of either form; a value that does not parse still
        counts."""
        # whole values, not headers only: nats-server 2.15.1 panics turning a stored
        # 1-byte header block into a headers-only delivery (any engine can store one)
        entries = await last_entries(self._kv, self._keys)
        self._known = {entry.key for entry in entries}
        return len(self._known)

    async def run(self, on_count: Callable[[int, int], Awaitable[None]]) -> None:
        """Report count changes until cancelled: prompt on watch events, and a recount
        every `interval_s` (expiry is silent). NATS errors never end it."""
        changed = asyncio.Event()
        watcher = asyncio.create_task(self._watch(changed), name="presence-watch")
        try:
            while True:
                raise_if_cancelled()
                changed.clear()  # before counting: a key arriving meanwhile counts next
                try:
                    count = await self.live_count()
                except Exception as exc:  # NATS down: keep the last count, try again
                    log.debug("presence recount failed: %r", exc)
                else:
                    if count != self.count:
                        old, self.count = self.count, count
                        await on_count(old, count)
                await wait_event(changed, self._interval)
        finally:
            watcher.cancel()
            await asyncio.wait({watcher}, timeout=5)

    async def _watch(self, changed: asyncio.Event) -> None:
        """Set `changed` when a key appears or is deleted (a heartbeat of a known key
        changes nothing: with a thousand consumers that is 200 puts a second); re-create
        the watcher when it fails. Expiry is silent: the periodic recount sees it."""
        while True:
            raise_if_cancelled()
            try:
                watcher = await self._kv.watch(
                    self._keys, ignore_deletes=False, include_history=False
                )
                try:
                    async for entry in watcher:
                        if entry is None:
                            continue
                        if entry.operation in ("DEL", "PURGE"):
                            self._known.discard(entry.key)
                            changed.set()
                        elif entry.key not in self._known:
                            self._known.add(entry.key)
                            changed.set()
                finally:
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(2):
                            await watcher.stop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("presence watcher failed, re-creating: %r", exc)
            await asyncio.sleep(self._interval)
