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
The supervisor (the Drift side: start, publish, back off, reconnect) is `streamer.supervisor`.
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
from importlib.metadata import PackageNotFoundError, version

import nats
from nats.aio.client import Client
from nats.js.kv import KeyValue

from schemas import (
    FundingRate,
    MarketList,
    ReconnectResult,
    SpotMarketSnapshot,
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
    SPOT_BUCKET,
    BucketSpec,
    bucket_specs,
    history_stream,
)
from streamer.buckets import ensure_buckets, ensure_stream
from streamer.errors import NotReadyError
from streamer.lease import LeaderLease
from streamer.metrics import Metrics
from streamer.presence import LifecycleMachine, PresenceTracker
from streamer.publisher import Publisher
from streamer.redact import redact
from streamer.service import ServiceHandle, start_service
from streamer.settings import Settings
from streamer.supervisor import SourceFactory, Supervisor
from streamer.waits import raise_if_cancelled, wait_event
from subscribers.connection import server_list

__all__ = ["SourceFactory", "Streamer", "__version__", "health_key", "health_ttl"]

log = logging.getLogger("drift_stream.streamer")
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
        self._grace_s = grace_s
        self._status_interval = status_interval_s
        self._nc = nc
        self._own_nc = nc is None
        self.metrics = Metrics(self.network)
        self.state = StreamerState.STANDBY
        self.epoch = 0
        self.consumers = 0
        self._drift = Supervisor(
            settings,
            source_factory,
            self.metrics,
            publish_interval_s=publish_interval_s,
            set_state=self._set_state,
            epoch=lambda: self.epoch,
        )
        self._publisher: Publisher | None = None
        self._lease: LeaderLease | None = None
        self._leader_task: asyncio.Task[None] | None = None
        self._state_changed = asyncio.Event()
        self.ready = asyncio.Event()  # set once NATS and the buckets are up

    # The supervisor's counters, read by status and tests.
    @property
    def reconnects(self) -> int:
        return self._drift.reconnects

    @property
    def rpc_errors(self) -> int:
        return self._drift.rpc_errors

    @property
    def last_error(self) -> str | None:
        return self._drift.last_error

    @property
    def max_backoff_s(self) -> float:
        """The longest retry wait so far (capped at backoff_cap_s)."""
        return self._drift.max_backoff_s

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
                SPOT_BUCKET: self.settings.cache_ttl_spot,
            }
            self._publisher = Publisher({b: kvs[b] for b in ttls}, self.network, ttls)
            self._drift.publisher = self._publisher
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
            spot_ttl=s.cache_ttl_spot,
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
                        supervisor = asyncio.create_task(self._drift.run(), name="supervisor")
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
        source = self._drift.source
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
            spot_markets=len(self._publisher.spots) if self._publisher is not None else 0,
            feed_age_s=health.slot_age_s if health is not None else None,
            last_slot=last_slot,
            reconnects=self.reconnects,
            rpc_errors=self.rpc_errors,
            last_error=self.last_error,
            markets_skipped=list(health.skipped) if health is not None else [],
            unpriced_markets=list(health.unpriced) if health is not None else [],
            config_error=health.problem if health is not None else None,
            rpc_requests=health.rpc_requests if health is not None else 0,
            rpc_rate_limited=health.rpc_rate_limited if health is not None else 0,
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

    def spot(self, market: str | int) -> SpotMarketSnapshot | None:
        if self._publisher is None or self._publisher.market_list is None:
            raise NotReadyError("no data yet: the DriftClient starts with the first consumer")
        return self._publisher.find_spot(market)

    async def reconnect(self) -> ReconnectResult:
        """force_reconnect: clean up the DriftClient, start a new one, report how long."""
        return await self._drift.reconnect()

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
