"""The Drift side of a leader: keep one source subscribed and publishing, with backoff.

```
Supervisor.run (while the leader has consumers)
 └── start the source ──► publish loop: watchdog, snapshot, publish, wait for changes
       ▲   SourceError: stop it (cleanup), back off, try again
       │   FencedError (a newer leader's fence): stop it, tell the lease, end
       └── reconnect(): stop and start under the source lock (the api's force_reconnect)
Supervisor.prepare (while another instance leads: a warm standby)
 └── a source that has read State and the market list, subscribed to nothing, which
     the next start uses (a takeover then only subscribes and reads the accounts)
```
The streamer (`streamer.app`) owns one Supervisor; its leader scope (`streamer.leader`)
runs it as a task while it should hold a DriftClient; cancelling the task stops the
source.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from schemas import ReconnectResult, StreamerState
from schemas.subjects import Network
from streamer.backoff import Backoff
from streamer.errors import SourceError
from streamer.metrics import Metrics
from streamer.publisher import FencedError, Publisher
from streamer.redact import redact
from streamer.settings import Settings
from streamer.source import MarketSource
from streamer.waits import raise_if_cancelled, wait_event
from streamer.warm import WarmFeed

__all__ = ["SourceFactory", "Supervisor"]

log = logging.getLogger("drift_stream.streamer")
SourceFactory = Callable[[], MarketSource]
# Event-driven passes are at least this far apart: a slot's burst of account updates
# (hundreds on mainnet) costs one snapshot pass (about 1-3 ms for 85 markets), not one each.
_MIN_PASS_GAP_S = 0.002
_PREPARE_WAIT_S = 10.0


class Supervisor:
    """Runs the Drift source of one network and counts its failures and reconnects."""

    def __init__(
        self,
        settings: Settings,
        source_factory: SourceFactory,
        metrics: Metrics,
        *,
        publish_interval_s: float,
        set_state: Callable[[StreamerState], None],
        epoch: Callable[[], int],
        on_fenced: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.network: Network = settings.network
        self.settings = settings
        self.metrics = metrics
        self.publisher: Publisher | None = None  # set once the buckets exist
        self.source: MarketSource | None = None
        self.reconnects = 0
        self.rpc_errors = 0
        self.last_error: str | None = None
        self.max_backoff_s = 0.0  # the longest retry wait so far (capped at backoff_cap_s)
        self._source_factory = source_factory
        self._publish_interval = publish_interval_s
        self._set_state = set_state
        self._epoch = epoch
        self._on_fenced = on_fenced
        self._source_lock = asyncio.Lock()
        self._warm = WarmFeed(
            source_factory, self._source_lock, lambda: self.source is not None, self.network
        )
        self._run_id = 0  # the current run's; retire() moves it on

    def retire(self) -> None:
        """End the current `run` at its next turn, even if its task lost a cancellation
        inside a library (the leader scope calls this when it stops)."""
        self._run_id += 1

    async def run(self) -> None:
        """Keep a DriftClient subscribed and publishing; restart it with backoff on failure."""
        self._run_id += 1
        run_id = self._run_id
        backoff = Backoff(
            base=0.5, factor=self.settings.retry_backoff, cap=self.settings.backoff_cap_s
        )
        failures = 0
        try:
            while run_id == self._run_id:
                raise_if_cancelled()
                self._set_state(StreamerState.STARTING if failures == 0 else StreamerState.DEGRADED)
                try:
                    await self._start_source()
                    failures = 0
                    backoff.reset()
                    self._set_state(StreamerState.RUNNING)
                    await self._publish_loop(run_id)
                except FencedError as exc:
                    log.warning(
                        "writes fenced out: another instance leads %s (%s)",
                        self.network,
                        exc,
                        extra={"network": self.network},
                    )
                    self._on_fenced(str(exc))
                    return
                except SourceError as exc:
                    failures += 1
                    self._record_error(exc)
                    await self._stop_source()
                    delay = backoff.next_delay()
                    self.max_backoff_s = max(self.max_backoff_s, delay)
                    level = (
                        logging.ERROR if failures >= self.settings.max_retries else logging.WARNING
                    )
                    log.log(
                        level,
                        "Drift source failed (%s, attempt %d): %s; retrying in %.2f s",
                        exc.kind,
                        failures,
                        redact(str(exc)),
                        delay,
                        extra={
                            "network": self.network,
                            "kind": exc.kind,
                            "attempt": failures,
                            "delay_s": round(delay, 3),
                        },
                    )
                    self._set_state(StreamerState.DEGRADED)
                    await asyncio.sleep(delay)
                    self.reconnects += 1
                    self.metrics.reconnects.inc()
        finally:
            await self._stop_source()

    async def _start_source(self) -> None:
        await self._warm.settled(_PREPARE_WAIT_S)  # a prepare under way is most of a start
        async with self._source_lock:
            await self._start_source_locked()

    async def _stop_source(self) -> None:
        async with self._source_lock:
            await self._stop_source_locked()

    async def prepare(self, *, max_age_s: float = 600.0) -> None:
        """Keep a prepared source for the next start (`streamer.warm`)."""
        await self._warm.prepare(max_age_s=max_age_s)

    async def keep_prepared(self, standby: Callable[[], bool], every_s: float = 1.0) -> None:
        """Until cancelled: keep a prepared source while `standby()` (another instance
        leads, so this one may have to take over at any moment)."""
        while True:
            if standby():
                await self._warm.prepare()
            await asyncio.sleep(every_s)

    async def close(self) -> None:
        """Stop the prepared source, if any (the running one stops with `run`)."""
        await self._warm.close()

    async def _start_source_locked(self) -> None:
        source = self._warm.take() or self._source_factory()
        self.metrics.op("subscribe")
        started = time.perf_counter()
        try:
            await source.start()
        except SourceError:
            self.metrics.subscribe_failures.inc()
            raise
        self.source = source
        self.metrics.client_running.set(1)
        if self.publisher is not None:
            self.publisher.forget()  # everything is re-sent after a (re)start
        log.info(
            "DriftClient subscribed in %.0f ms",
            (time.perf_counter() - started) * 1000,
            extra={"network": self.network},
        )

    async def _stop_source_locked(self) -> None:
        source, self.source = self.source, None
        if source is None:
            return
        finished = False
        try:
            await source.stop()  # never raises: unsubscribes, closes RPC and websockets
            finished = True
        finally:  # cancelled meanwhile: its sockets close in the background
            self.metrics.client_running.set(0)
            log.info(
                "DriftClient stopped%s",
                " and cleaned up" if finished else " (cleanup cut short: closing on its own)",
                extra={"network": self.network},
            )

    async def _publish_loop(self, run_id: int) -> None:
        assert self.publisher is not None
        was_stale = False
        while run_id == self._run_id:
            raise_if_cancelled()
            async with self._source_lock:
                source = self.source
                if source is None:
                    raise SourceError("the DriftClient went away", kind="stopped")
                source.check()  # SourceStaleError: the feed went quiet or driftpy's loop died
                health = source.health()
                if health.slot_age_s is not None:
                    self.metrics.feed_age.set(health.slot_age_s)
                    # A gap in slots means the websockets were down: driftpy does not
                    # refetch what changed meanwhile, so read everything once.
                    stale = health.slot_age_s > 2.0
                    if was_stale and not stale:
                        self.metrics.op("refetch")
                        await source.refetch()
                        log.info(
                            "feed resumed after a gap: refetched every account",
                            extra={"network": self.network},
                        )
                    was_stale = stale
                snapshot = await source.snapshot(int(time.time()))
            result = await self.publisher.publish(snapshot, epoch=self._epoch())
            for bucket, n in result.written.items():
                self.metrics.published(bucket, n)
            if result.failed:
                self.metrics.publish_failures.inc(result.failed)
            # The next pass: when driftpy stores an update (a burst arriving meanwhile
            # is one pass), at the latest after the publish interval (refresh, watchdog).
            await asyncio.sleep(_MIN_PASS_GAP_S)
            await wait_event(source.changed, self._publish_interval)
            source.changed.clear()

    def _record_error(self, exc: SourceError) -> None:
        self.rpc_errors += 1
        self.last_error = redact(f"{exc.kind}: {exc}")[:300]
        self.metrics.error(exc.kind)

    async def reconnect(self) -> ReconnectResult:
        """force_reconnect: clean up the DriftClient, start a new one, report how long."""
        started = time.perf_counter()
        if self.source is None:
            return ReconnectResult(
                network=self.network,
                ts=time.time(),
                ok=False,
                took_ms=0.0,
                error="no DriftClient is running (no consumers)",
            )
        error: str | None = None
        async with self._source_lock:  # the publish loop waits; it never sees a half-done swap
            await self._stop_source_locked()
            try:
                await self._start_source_locked()
            except SourceError as exc:
                self._record_error(exc)
                error = redact(f"{exc.kind}: {exc}")[:300]
        self.reconnects += 1
        self.metrics.reconnects.inc()
        took = (time.perf_counter() - started) * 1000
        log.info(
            "reconnect requested: %s in %.0f ms",
            "ok" if error is None else "failed",
            took,
            extra={"network": self.network, "took_ms": round(took, 1)},
        )
        return ReconnectResult(
            network=self.network, ts=time.time(), ok=error is None, took_ms=took, error=error
        )
