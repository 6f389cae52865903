"""The streamer process: lease, presence, the supervised Drift source, publishing, api.

```
Streamer.run
 ├── LeaderLease.run ── elected ──► leader scope (cancelled when deposed)
 │                                    ├── micro service drift-streamer (api)
 │                                    ├── PresenceTracker.run ─► LifecycleMachine
 │                                    └── lifecycle loop ─ should_run ─► supervisor
 │                                                                        (start with backoff,
 │                                                                         watchdog, snapshot,
 │                                                                         publish; stop = cleanup)
 └── status loop (drift.<net>.status while leader)
```
Only the leader holds a DriftClient and serves the api; a standby waits for the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import nats
from nats.aio.client import Client
from nats.js.kv import KeyValue

from schemas import (
    FundingRate,
    MarketList,
    ReconnectResult,
    StreamerState,
    StreamerStatus,
    encode,
    status_subject,
)
from schemas.buckets import (
    CONSUMERS_BUCKET,
    FUNDING_BUCKET,
    HEALTH_BUCKET,
    LEADER_BUCKET,
    MARKETS_BUCKET,
    PRICES_BUCKET,
    BucketSpec,
    bucket_specs,
    history_stream,
)
from streamer.backoff import Backoff
from streamer.buckets import ensure_buckets, ensure_stream
from streamer.errors import NotReadyError, SourceError
from streamer.lease import LeaderLease
from streamer.metrics import Metrics
from streamer.presence import LifecycleMachine, PresenceTracker
from streamer.publisher import Publisher
from streamer.redact import redact
from streamer.service import ServiceHandle, start_service
from streamer.settings import Settings
from streamer.source import MarketSource
from streamer.waits import raise_if_cancelled, wait_event
from subscribers.connection import server_list

__all__ = ["SourceFactory", "Streamer", "__version__", "health_key", "health_ttl"]

log = logging.getLogger("drift_stream.streamer")
SourceFactory = Callable[[], MarketSource]
# Event-driven passes are at least this far apart: a slot's burst of account updates
# (hundreds on mainnet) costs one snapshot pass (about 1-3 ms for 85 markets), not one each.
_MIN_PASS_GAP_S = 0.002
try:
    __version__ = version("drift-stream")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"


class Streamer:
    """One network's streamer. `run()` until cancelled; the api controller too."""

    def __init__(
        self,
        settings: Settings,
        source_factory: SourceFactory,
        *,
        instance_id: str | None = None,
        publish_interval_s: float = 0.25,
        grace_s: float = 10.0,
        status_interval_s: float = 2.0,
        nc: Client | None = None,
    ) -> None:
        self.settings = settings
        self.network = settings.network
        self.instance_id = (
            instance_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        )
        self._source_factory = source_factory
        self._publish_interval = publish_interval_s
        self._grace_s = grace_s
        self._status_interval = status_interval_s
        self._nc = nc
        self._own_nc = nc is None
        self.metrics = Metrics(self.network)
        self.state = StreamerState.STANDBY
        self.epoch = 0
        self.consumers = 0
        self.reconnects = 0
        self.rpc_errors = 0
        self.last_error: str | None = None
        self.max_backoff_s = 0.0  # the longest retry wait so far (capped at backoff_cap_s)
        self._source: MarketSource | None = None
        self._source_lock = asyncio.Lock()
        self._publisher: Publisher | None = None
        self._lease: LeaderLease | None = None
        self._leader_task: asyncio.Task[None] | None = None
        self._state_changed = asyncio.Event()
        self.ready = asyncio.Event()  # set once NATS and the buckets are up

    # -- the process ---------------------------------------------------------------
    async def run(self) -> None:
        nc = self._nc or await nats.connect(
            server_list(self.settings.nats_url.get_secret_value()),
            name=f"drift-streamer {self.instance_id}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=self._nats_error,
            disconnected_cb=self._nats_disconnected,
            reconnected_cb=self._nats_reconnected,
        )
        self._nc = nc
        try:
            replicas = self.settings.kv_replicas
            kvs = await ensure_buckets(nc.jetstream(), self._bucket_specs(), replicas=replicas)
            await ensure_stream(nc.jetstream(), history_stream(), replicas=replicas)
            ttls = {
                FUNDING_BUCKET: self.settings.cache_ttl_funding,
                PRICES_BUCKET: self.settings.cache_ttl_price,
                MARKETS_BUCKET: self.settings.cache_ttl_markets,
            }
            self._publisher = Publisher({b: kvs[b] for b in ttls}, self.network, ttls)
            self._lease = LeaderLease(
                kvs[LEADER_BUCKET], self.network, self.instance_id, ttl=self.settings.lease_ttl
            )
            log.info(
                "streamer %s up for %s (standby until it holds the lease)",
                self.instance_id,
                self.network,
                extra={
                    "network": self.network,
                    "instance_id": self.instance_id,
                    "settings": self.settings.safe_dict(),
                },
            )
            self.ready.set()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(
                    self._lease.run(
                        on_elected=lambda epoch: self._elected(epoch, kvs[CONSUMERS_BUCKET]),
                        on_deposed=self._deposed,
                    )
                )
                tasks.create_task(self._status_loop(kvs[HEALTH_BUCKET]))
        finally:
            await self._stop_leader_scope()
            if self._own_nc:
                # every write was awaited already: flush what is buffered and close
                # (drain would wait for subscriptions that are being torn down)
                with contextlib.suppress(Exception):
                    await nc.flush(timeout=1)
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await nc.close()
            log.info("streamer %s stopped", self.instance_id, extra={"network": self.network})

    def _bucket_specs(self) -> dict[str, BucketSpec]:
        s = self.settings
        return bucket_specs(
            funding_ttl=s.cache_ttl_funding,
            price_ttl=s.cache_ttl_price,
            markets_ttl=s.cache_ttl_markets,
            presence_ttl=s.presence_ttl,
            lease_ttl=s.lease_ttl,
            health_ttl=health_ttl(self._status_interval),
        )

    # -- leadership ----------------------------------------------------------------
    async def _elected(self, epoch: int, consumers_kv: KeyValue) -> None:
        self.epoch = epoch
        self.metrics.leader.set(1)
        self._set_state(StreamerState.IDLE)
        log.info(
            "elected leader for %s (epoch %d)",
            self.network,
            epoch,
            extra={"network": self.network, "epoch": epoch},
        )
        self._leader_task = asyncio.create_task(self._leader_scope(consumers_kv), name="leader")

    async def _deposed(self) -> None:
        log.warning("no longer leader for %s", self.network, extra={"network": self.network})
        await self._stop_leader_scope()
        self.metrics.leader.set(0)
        self._set_state(StreamerState.STANDBY)

    async def _stop_leader_scope(self) -> None:
        task, self._leader_task = self._leader_task, None
        if task is not None:
            await _cancel(task)

    async def _leader_scope(self, consumers_kv: KeyValue) -> None:
        """Serve the api and run the DriftClient while consumers exist; cancelled on deposal."""
        assert self._nc is not None
        service: ServiceHandle | None = None
        supervisor: asyncio.Task[None] | None = None
        machine = LifecycleMachine(self._grace_s)
        wake = asyncio.Event()

        async def on_count(old: int, new: int) -> None:
            machine.observe(new, time.monotonic())
            self.consumers = new
            self.metrics.consumers.set(new)
            log.info(
                "consumers %d -> %d",
                old,
                new,
                extra={"network": self.network, "consumers": new, "previous": old},
            )
            wake.set()

        tracker = PresenceTracker(
            consumers_kv, self.network, interval_s=max(self.settings.presence_ttl / 3, 0.2)
        )
        try:
            service = await start_service(
                self._nc, self.network, self, version=__version__, instance_id=self.instance_id
            )
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(tracker.run(on_count))
                while True:
                    raise_if_cancelled()
                    now = time.monotonic()
                    machine.observe(self.consumers, now)
                    run = machine.should_run(now)
                    if run and supervisor is None:
                        supervisor = asyncio.create_task(self._supervise(), name="supervisor")
                    elif not run and supervisor is not None:
                        log.info(
                            "no consumers for %.1f s: stopping the DriftClient",
                            self._grace_s,
                            extra={"network": self.network},
                        )
                        await _cancel(supervisor)
                        supervisor = None
                        self._set_state(StreamerState.IDLE)
                    wake.clear()
                    await wait_event(wake, 0.25)
        finally:
            if supervisor is not None:
                await _cancel(supervisor)
            if service is not None:
                with contextlib.suppress(Exception):
                    await service.stop()

    # -- the Drift side ------------------------------------------------------------
    async def _supervise(self) -> None:
        """Keep a DriftClient subscribed and publishing; restart it with backoff on failure."""
        backoff = Backoff(
            base=0.5, factor=self.settings.retry_backoff, cap=self.settings.backoff_cap_s
        )
        failures = 0
        try:
            while True:
                raise_if_cancelled()
                self._set_state(StreamerState.STARTING if failures == 0 else StreamerState.DEGRADED)
                try:
                    await self._start_source()
                    failures = 0
                    backoff.reset()
                    self._set_state(StreamerState.RUNNING)
                    await self._publish_loop()
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
        async with self._source_lock:
            await self._start_source_locked()

    async def _stop_source(self) -> None:
        async with self._source_lock:
            await self._stop_source_locked()

    async def _start_source_locked(self) -> None:
        source = self._source_factory()
        self.metrics.op("subscribe")
        started = time.perf_counter()
        try:
            await source.start()
        except SourceError:
            self.metrics.subscribe_failures.inc()
            raise
        self._source = source
        self.metrics.client_running.set(1)
        if self._publisher is not None:
            self._publisher.forget()  # everything is re-sent after a (re)start
        log.info(
            "DriftClient subscribed in %.0f ms",
            (time.perf_counter() - started) * 1000,
            extra={"network": self.network},
        )

    async def _stop_source_locked(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            await source.stop()  # never raises: unsubscribes, closes RPC and websockets
            self.metrics.client_running.set(0)
            log.info("DriftClient stopped and cleaned up", extra={"network": self.network})

    async def _publish_loop(self) -> None:
        assert self._publisher is not None
        was_stale = False
        while True:
            raise_if_cancelled()
            async with self._source_lock:
                source = self._source
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
            result = await self._publisher.publish(snapshot, epoch=self.epoch)
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

    # -- status --------------------------------------------------------------------
    def _set_state(self, state: StreamerState) -> None:
        if state is not self.state:
            log.info(
                "state %s -> %s",
                self.state.value,
                state.value,
                extra={"network": self.network, "state": state.value},
            )
            self.state = state
            self._state_changed.set()

    async def _status_loop(self, health: KeyValue) -> None:
        """Status on `drift.<net>.status` while leader; this instance's health heartbeat
        (leader or standby) in `drift_health`, read by `drift-stream streamer --check`."""
        key = health_key(self.network, self.instance_id)
        while True:
            raise_if_cancelled()
            status = encode(self.status())
            try:
                await health.put(key, status)
                if self._lease is not None and self._lease.is_leader and self._nc is not None:
                    await self._nc.publish(status_subject(self.network), status)
            except Exception as exc:  # NATS down: the next turn tries again
                raise_if_cancelled()
                log.debug("status publish failed: %r", exc)
            await wait_event(self._state_changed, self._status_interval)
            self._state_changed.clear()

    # -- Controller (the api) ------------------------------------------------------
    def status(self) -> StreamerStatus:
        source = self._source
        health = source.health() if source is not None else None
        last_slot = health.last_slot if health is not None else None
        return StreamerStatus(
            network=self.network,
            slot=last_slot or 0,
            ts=time.time(),
            state=self.state,
            instance_id=self.instance_id,
            leader=self._lease.leader_id if self._lease is not None else None,
            epoch=self.epoch,
            consumers=self.consumers,
            markets=len(self._publisher.funding) if self._publisher is not None else 0,
            feed_age_s=health.slot_age_s if health is not None else None,
            last_slot=last_slot,
            reconnects=self.reconnects,
            rpc_errors=self.rpc_errors,
            last_error=self.last_error,
            version=__version__,
        )

    def markets(self) -> MarketList:
        if self._publisher is None or self._publisher.market_list is None:
            raise NotReadyError(
                "no market list yet: the DriftClient starts with the first consumer"
            )
        return self._publisher.market_list

    def funding(self, market: str | int) -> FundingRate | None:
        if self._publisher is None or not self._publisher.funding:
            raise NotReadyError("no funding yet: the DriftClient starts with the first consumer")
        return self._publisher.find_funding(market)

    async def reconnect(self) -> ReconnectResult:
        """force_reconnect: clean up the DriftClient, start a new one, report how long."""
        started = time.perf_counter()
        if self._source is None:
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

    # -- NATS callbacks ------------------------------------------------------------
    async def _nats_error(self, exc: Exception) -> None:
        log.warning("NATS: %s", redact(repr(exc)), extra={"network": self.network})

    async def _nats_disconnected(self) -> None:
        log.warning("NATS disconnected", extra={"network": self.network})

    async def _nats_reconnected(self) -> None:
        log.info("NATS reconnected", extra={"network": self.network})


def health_ttl(status_interval_s: float) -> float:
    """The health bucket's TTL: a heartbeat missed three times in a row means unhealthy."""
    return max(3 * status_interval_s, 5.0)


def health_key(network: str, instance_id: str) -> str:
    """`<net>.<instance_id>`, the instance id reduced to the characters KV keys allow."""
    return f"{network}.{re.sub(r'[^A-Za-z0-9_-]', '_', instance_id)}"


async def _cancel(task: asyncio.Task[None], within: float = 10.0) -> None:
    """Cancel a task and wait for it, but not forever: a cleanup stuck in a library
    (a websocket close that never completes) must not keep the process from stopping."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=within)
    if not done:
        log.error("task %s did not stop within %.0f s; leaving it", task.get_name(), within)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("task %s ended with %r", task.get_name(), task.exception())
