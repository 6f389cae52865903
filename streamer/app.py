"""The streamer process: NATS, the buckets, the lease, the heartbeat, and the api's answers.

```
Streamer.run
 ├── LeaderLease.run ── elected ──► leader scope (cancelled when deposed)
 │    (renew, beat on drift.<net>.leader; │ ├── write fence raised in every data bucket
 │     standby: read the key, hear beats, │ ├── micro service drift-streamer (api)
 │     take over a silent holder)         │ ├── PresenceTracker.run ─► LifecycleMachine
 │                                        │ └── lifecycle loop ─ should_run ─► supervisor
 │                                                                        (start with backoff,
 │                                                                         watchdog, snapshot,
 │                                                                         fenced publish;
 │                                                                         stop = cleanup)
 ├── beats heard ─► LeaderLease.heard_beat
 ├── keep the feed prepared while another instance leads (a warm standby)
 └── heartbeat (drift_health always; drift.<net>.status while leader)
```
Only the leader holds a DriftClient and serves the api; a standby, connected and bound
to the buckets with State and the market list read, waits for the lease. The lease is
`streamer.lease`, the fence `streamer.fence`, the leader scope `streamer.leader`, the
heartbeat `streamer.health`, and the supervisor (the Drift side: start, publish, back
off, reconnect) `streamer.supervisor`.
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
    HEALTH_BUCKET,
    LEADER_BUCKET,
)
from streamer.errors import NotReadyError
from streamer.fence_stream import JetStreamFence
from streamer.health import health_key, health_ttl, heartbeat
from streamer.journal import WriteJournal
from streamer.leader import Leadership
from streamer.metrics import Metrics
from streamer.publisher import Publisher
from streamer.settings import Settings
from streamer.supervisor import SourceFactory, Supervisor
from streamer.wiring import CONNECT_OPTIONS, data_ttls, open_buckets, open_journal
from subscribers.connection import ErrorLog, connect, drop_pending

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
            on_fenced=lambda reason: self._leadership.fenced(reason),
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
        self._journal: WriteJournal | None = None
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
            error_cb=self._errors,
            disconnected_cb=self._nats_disconnected,
            reconnected_cb=self._nats_reconnected,
            **CONNECT_OPTIONS,
        )
        self._nc = nc
        self._errors.connected()
        try:
            kvs = await open_buckets(nc, self.settings, self._status_interval)
            ttls = data_ttls(self.settings)
            streams = {bucket: JetStreamFence(kvs[bucket]) for bucket in ttls}
            journal = self._journal = open_journal(self.settings, self.instance_id)
            self._publisher = Publisher(
                streams, self.network, ttls, on_ack=None if journal is None else journal.acked
            )
            self._drift.publisher = self._publisher
            self._leadership.publisher = self._publisher
            lease = await self._leadership.join(nc, kvs[LEADER_BUCKET], journal)
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
                tasks.create_task(self._leadership.contend(nc, kvs[CONSUMERS_BUCKET]))
                tasks.create_task(self._drift.keep_prepared(self._leadership.standing_by))
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
                        on_ack=(
                            None
                            if journal is None
                            else lambda key, rev: journal.acked(HEALTH_BUCKET, key, rev)
                        ),
                    )
                )
        finally:
            await self._leadership.stop()
            await self._drift.close()
            if self._journal is not None:
                self._journal.close()
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
            leader=lease.leader_id if (lease := self._leadership.lease) is not None else None,
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
        dropped = drop_pending(self._nc) if self._nc is not None else 0
        log.log(
            level,
            "NATS disconnected%s",
            f" (dropped {dropped} bytes not yet sent)" if dropped else "",
            extra={"network": self.network},
        )

    async def _nats_reconnected(self) -> None:
        self._errors.connected()
        log.info("NATS reconnected", extra={"network": self.network})
