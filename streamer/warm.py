"""A warm standby's feed: a source prepared ahead (State and the market list read,
nothing subscribed) that the supervisor's next start takes, so a takeover only
subscribes and reads the accounts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from schemas.subjects import Network
from streamer.errors import SourceError
from streamer.redact import redact
from streamer.source import MarketSource
from streamer.waits import wait_event

__all__ = ["WarmFeed"]

log = logging.getLogger("drift_stream.streamer")


class WarmFeed:
    """At most one prepared source. `lock` is the supervisor's source lock; `running()`
    says whether a source runs (then nothing is prepared)."""

    def __init__(
        self,
        factory: Callable[[], MarketSource],
        lock: asyncio.Lock,
        running: Callable[[], bool],
        network: Network,
    ) -> None:
        self._factory = factory
        self._lock = lock
        self._running = running
        self._network = network
        self._prepared: MarketSource | None = None
        self._prepared_at = 0.0
        self._idle = asyncio.Event()  # set while no prepare is under way
        self._idle.set()

    def take(self) -> MarketSource | None:
        """The prepared source, now the caller's (under the lock); None if there is none."""
        source, self._prepared = self._prepared, None
        return source

    async def settled(self, within_s: float) -> None:
        """Until no prepare is under way, `within_s` seconds at most."""
        await wait_event(self._idle, within_s)

    async def prepare(self, *, max_age_s: float = 600.0) -> None:
        """Keep a prepared source (unless one runs); one older than `max_age_s` is
        prepared again. A failure is logged, and the next start goes the whole way."""
        async with self._lock:
            if self._running():
                return
            if self._prepared is not None and time.monotonic() - self._prepared_at < max_age_s:
                return
            old, self._prepared = self._prepared, None
            self._idle.clear()
        try:
            if old is not None:
                await old.stop()
            await self._prepare_one()
        finally:
            self._idle.set()

    async def _prepare_one(self) -> None:
        source = self._factory()
        started = time.perf_counter()
        try:
            await source.prepare()
        except SourceError as exc:
            await source.stop()
            log.info(
                "could not prepare the Drift feed ahead (%s): %s",
                exc.kind,
                redact(str(exc)),
                extra={"network": self._network},
            )
            return
        async with self._lock:
            kept = not self._running() and self._prepared is None
            if kept:
                self._prepared, self._prepared_at = source, time.monotonic()
        if not kept:  # a source started meanwhile: this one is not needed
            await source.stop()
            return
        log.info(
            "Drift feed prepared in %.0f ms (State and market list read, nothing subscribed)",
            (time.perf_counter() - started) * 1000,
            extra={"network": self._network},
        )

    async def close(self) -> None:
        """Stop the prepared source, if any."""
        async with self._lock:
            prepared = self.take()
        if prepared is not None:
            await prepared.stop()
