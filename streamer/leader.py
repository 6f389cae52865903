"""Leadership: the lease a streamer holds or waits for, and what it runs while it leads.

```
Leadership.join ──► LeaderLease (renew, beat; standby: watch, take over) + beats heard
Leadership.contend ── elected ──► leader scope (a task; cancelled by deposed() and stop())
                         ├── the write fence raised in every data bucket (first of all)
                         ├── micro service drift-streamer (api)
                         ├── PresenceTracker.run ─► LifecycleMachine
                         └── lifecycle loop ─ should_run ─► Supervisor.run (a task)
```
The streamer (`streamer.app`) owns one Leadership; the Drift side it starts and stops
is `streamer.supervisor`, its writes go through `streamer.publisher` (fenced).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from nats.aio.client import Client
from nats.js.kv import KeyValue

from schemas import StreamerState
from schemas.buckets import LEADER_BUCKET
from streamer.beats import beat_publisher, listen_to_beats
from streamer.fence import FencedError
from streamer.journal import WriteJournal
from streamer.lease import LeaderLease
from streamer.metrics import Metrics
from streamer.presence import LifecycleMachine, PresenceTracker
from streamer.publisher import Publisher
from streamer.service import Controller, ServiceHandle, start_service
from streamer.settings import Settings
from streamer.supervisor import Supervisor
from streamer.waits import raise_if_cancelled, wait_event

__all__ = ["Leadership"]

log = logging.getLogger("drift_stream.streamer")


class Leadership:
    """One streamer's leadership: the epoch it was elected in, the consumer count, and
    the leader scope (the api, presence, the DriftClient while consumers exist)."""

    def __init__(
        self,
        settings: Settings,
        supervisor: Supervisor,
        controller: Controller,
        metrics: Metrics,
        *,
        instance_id: str,
        version: str,
        grace_s: float,
        set_state: Callable[[StreamerState], None],
    ) -> None:
        self.network = settings.network
        self._lease_ttl = settings.lease_ttl
        self.epoch = 0
        self.consumers = 0
        self._presence_interval = max(settings.presence_ttl / 3, 0.2)
        self._supervisor = supervisor
        self._controller = controller
        self._metrics = metrics
        self._instance_id = instance_id
        self._version = version
        self._grace_s = grace_s
        self._set_state = set_state
        self._task: asyncio.Task[None] | None = None
        self.lease: LeaderLease | None = None
        self.publisher: Publisher | None = None  # set once the buckets exist

    # -- the lease -----------------------------------------------------------------
    async def join(self, nc: Client, kv: KeyValue, journal: WriteJournal | None) -> LeaderLease:
        """Make this instance's lease on `kv` (drift_leader) and hear the others' beats."""
        lease = self.lease = LeaderLease(
            kv,
            self.network,
            self._instance_id,
            ttl=self._lease_ttl,
            beat=beat_publisher(nc, self.network, self._instance_id, self._last_seqs),
            on_write=(
                None
                if journal is None
                else lambda key, rev, epoch: journal.acked(LEADER_BUCKET, key, rev, epoch)
            ),
        )
        await listen_to_beats(nc, self.network, lease.heard_beat)
        return lease

    def _last_seqs(self) -> dict[str, int]:
        """What the beats carry: the last acknowledged write's sequence, by bucket."""
        return {} if self.publisher is None else self.publisher.last_seqs

    async def contend(self, nc: Client, consumers_kv: KeyValue) -> None:
        """Hold or wait for the lease until cancelled (then hand it over)."""
        assert self.lease is not None, "join() first"
        await self.lease.run(
            on_elected=lambda epoch: self.elected(epoch, nc, consumers_kv),
            on_deposed=self._lost,
        )

    @property
    def is_leader(self) -> bool:
        return self.lease is not None and self.lease.is_leader

    def standing_by(self) -> bool:
        """Another instance holds the lease: this one may take over at any moment."""
        lease = self.lease
        return (
            lease is not None
            and not lease.is_leader
            and lease.leader_id not in (None, self._instance_id)
        )

    def fenced(self, reason: str) -> None:
        """A write or the fence found a newer leader's fence: step down at once."""
        if self.lease is not None:
            self.lease.deposed(f"fenced out ({reason})")

    async def _lost(self) -> None:
        await self.deposed()
        if self.publisher is not None:
            self.publisher.lower_fences()

    async def _fence(self, epoch: int) -> None:
        assert self.publisher is not None
        assert self.lease is not None
        await self.publisher.fence(epoch, self._instance_id, self.lease.holds)

    # -- the leader scope ----------------------------------------------------------

    async def elected(self, epoch: int, nc: Client, consumers_kv: KeyValue) -> None:
        """The lease's `on_elected`: start the leader scope."""
        self.epoch = epoch
        self._metrics.leader.set(1)
        self._set_state(StreamerState.IDLE)
        log.info(
            "elected leader for %s (epoch %d)",
            self.network,
            epoch,
            extra={"network": self.network, "epoch": epoch},
        )
        self._task = asyncio.create_task(self._scope(nc, consumers_kv), name="leader")

    async def deposed(self) -> None:
        """The lease's `on_deposed`: stop the leader scope and stand by (a warning when
        the lease was lost, INFO when this streamer is stopping and hands it over)."""
        task = asyncio.current_task()
        stopping = task is not None and task.cancelling() > 0
        log.log(
            logging.INFO if stopping else logging.WARNING,
            "%s for %s",
            "stopping: leadership handed over" if stopping else "no longer leader",
            self.network,
            extra={"network": self.network},
        )
        await self.stop()
        self._metrics.leader.set(0)
        self._set_state(StreamerState.STANDBY)

    async def stop(self) -> None:
        """Cancel the leader scope (if it runs) and wait for its cleanup."""
        task, self._task = self._task, None
        if task is not None:
            await _cancel(task)

    async def _scope(self, nc: Client, consumers_kv: KeyValue) -> None:
        """Serve the api and run the DriftClient while consumers exist; cancelled on deposal."""
        service: ServiceHandle | None = None
        supervisor: asyncio.Task[None] | None = None
        machine = LifecycleMachine(self._grace_s)
        wake = asyncio.Event()

        async def on_count(old: int, new: int) -> None:
            machine.observe(new, time.monotonic())
            self.consumers = new
            self._metrics.consumers.set(new)
            log.info(
                "consumers %d -> %d",
                old,
                new,
                extra={"network": self.network, "consumers": new, "previous": old},
            )
            wake.set()

        tracker = PresenceTracker(consumers_kv, self.network, interval_s=self._presence_interval)
        try:
            if not await self._raise_fence():
                await asyncio.Event().wait()  # deposed: the lease cancels this scope
            service = await start_service(
                nc,
                self.network,
                self._controller,
                version=self._version,
                instance_id=self._instance_id,
            )
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(tracker.run(on_count))
                while True:
                    raise_if_cancelled()
                    now = time.monotonic()
                    machine.observe(self.consumers, now)
                    run = machine.should_run(now)
                    if run and supervisor is None:
                        supervisor = asyncio.create_task(self._supervisor.run(), name="supervisor")
                    elif not run and supervisor is not None:
                        log.info(
                            "no consumers for %.1f s: stopping the DriftClient",
                            self._grace_s,
                            extra={"network": self.network},
                        )
                        self._supervisor.retire()
                        await _cancel(supervisor)
                        supervisor = None
                        self._set_state(StreamerState.IDLE)
                    wake.clear()
                    await wait_event(wake, 0.25)
        finally:
            if supervisor is not None:
                self._supervisor.retire()
                await _cancel(supervisor)
            if service is not None:
                with contextlib.suppress(Exception):
                    await service.stop()

    async def _raise_fence(self) -> bool:
        """Fence every data bucket for this epoch before any write; False if a newer
        leader's fence stands (the lease is told). NATS errors are retried."""
        started = time.perf_counter()
        while True:
            raise_if_cancelled()
            try:
                await self._fence(self.epoch)
            except FencedError as exc:
                self.fenced(str(exc))
                return False
            except Exception as exc:  # NATS away or the streams failing over: again
                raise_if_cancelled()
                log.debug("raising the write fence failed: %r", exc)
                await asyncio.sleep(0.25)
                continue
            log.info(
                "write fence raised for epoch %d in %.0f ms",
                self.epoch,
                (time.perf_counter() - started) * 1000,
                extra={"network": self.network, "epoch": self.epoch},
            )
            return True


async def _cancel(task: asyncio.Task[None], within: float = 10.0) -> None:
    """Cancel a task and wait for it, but not forever: a cleanup stuck in a library
    (a websocket close that never completes) must not keep the process from stopping.
    A library can lose a cancellation (nats-py turns one into its timeout): it is sent
    again once before the task is left to finish on its own."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=within / 2)
    if not done:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=within / 2)
    if not done:
        log.error("task %s did not stop within %.0f s; leaving it", task.get_name(), within)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("task %s ended with %r", task.get_name(), task.exception())
