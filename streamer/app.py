"""The streamer process: NATS, the buckets, the lease, the heartbeat, and the api's answers.

```
Streamer.run
 ├── LeaderLease.run ── elected ──► leader scope (cancelled when deposed)
 │                                    ├── micro service drift-streamer (api)
 │                                    ├── PresenceTracker.run ─► LifecycleMachine
 │                                    └── lifecycle loop ─ should_run ─► supervisor
 │                                                                        (start with backoff,
 │                                                                         watchdog, snapshot,
 │                                                                         publish; stop = cleanup)
 └── heartbeat (drift_health always; drift.<net>.status while leader)
```
Only the leader holds a DriftClient and serves the api; a standby waits for the lease.
The leader scope is `streamer.leader`, the heartbeat `streamer.health`, and the
supervisor (the Drift side: start, publish, back off, reconnect) `streamer.supervisor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from importlib.metadata import PackageNotFoundError, version

from nats.aio.client import Client

from schemas import (
    FundingRate,
    MarketList,
    ReconnectResult,
    SpotMarketSnapshot,
    StreamerState,
    StreamerStatus,
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
from streamer.health import health_key, health_ttl, heartbeat
from streamer.leader import Leadership
from streamer.lease import LeaderLease
from streamer.metrics import Metrics
from streamer.publisher import Publisher
from streamer.settings import Settings
from streamer.supervisor import SourceFactory, Supervisor
from subscribers.connection import ErrorLog, connect

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
        self._status_interval = status_interval_s
        self._nc = nc
        self._own_nc = nc is None
        self._closing = False
        self._errors = ErrorLog(log, "streamer", {"network": self.network})
        self.metrics = Metrics(self.network)
        self.state = StreamerState.STANDBY
        self._drift = Supervisor(
            settings,
            source_factory,
            self.metrics,
            publish_interval_s=publish_interval_s,
            set_state=self._set_state,
            epoch=lambda: self.epoch,
        )
        self._leadership = Leadership(
            settings,
            self._drift,
            self,
            self.metrics,
            instance_id=self.instance_id,
            version=__version__,
            grace_s=grace_s,
            set_state=self._set_state,
        )
        self._publisher: Publisher | None = None
        self._lease: LeaderLease | None = None
        self._state_changed = asyncio.Event()
        self.ready = asyncio.Event()  # set once NATS and the buckets are up

    # The leadership's figures and the supervisor's counters, read by status and tests.
    @property
    def epoch(self) -> int:
        """The epoch this instance was last elected in (0: never)."""
        return self._leadership.epoch

    @property
    def consumers(self) -> int:
        """The consumer count, as the leader scope last saw it."""
        return self._leadership.consumers

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
        # A refused password raises AuthenticationError here (not retried); an
        # unreachable NATS is retried until it answers, logged once.
        nc = self._nc or await connect(
            self.settings.nats_url.get_secret_value(),
            name=f"drift-streamer {self.instance_id}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=self._errors,
            disconnected_cb=self._nats_disconnected,
            reconnected_cb=self._nats_reconnected,
        )
        self._nc = nc
        self._errors.connected()
        try:
            replicas = self.settings.kv_replicas
            kvs = await ensure_buckets(
                nc.jetstream(), self._bucket_specs(), replicas=replicas, align=True
            )
            await ensure_stream(nc.jetstream(), history_stream(), replicas=replicas)
            ttls = {
                FUNDING_BUCKET: self.settings.cache_ttl_funding,
                PRICES_BUCKET: self.settings.cache_ttl_price,
                MARKETS_BUCKET: self.settings.cache_ttl_markets,
                SPOT_BUCKET: self.settings.cache_ttl_spot,
            }
            self._publisher = Publisher({b: kvs[b] for b in ttls}, self.network, ttls)
            self._drift.publisher = self._publisher
            lease = self._lease = LeaderLease(
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
                    lease.run(
                        on_elected=lambda epoch: self._leadership.elected(
                            epoch, nc, kvs[CONSUMERS_BUCKET]
                        ),
                        on_deposed=self._leadership.deposed,
                    )
                )
                tasks.create_task(
                    heartbeat(
                        nc,
                        kvs[HEALTH_BUCKET],
                        self.network,
                        self.instance_id,
                        status=self.status,
                        is_leader=lambda: lease.is_leader,
                        changed=self._state_changed,
                        interval_s=self._status_interval,
                    )
                )
        finally:
            await self._leadership.stop()
            self._closing = True
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

    # -- state ---------------------------------------------------------------------
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
    async def _nats_disconnected(self) -> None:
        level = logging.INFO if self._closing else logging.WARNING  # ours, or lost
        log.log(level, "NATS disconnected", extra={"network": self.network})

    async def _nats_reconnected(self) -> None:
        self._errors.connected()
        log.info("NATS reconnected", extra={"network": self.network})
