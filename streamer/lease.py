"""The leader lease: one streamer per network writes, and a dead one is replaced in seconds.

The lease is the key `<net>` in bucket `drift_leader` (value: holder and epoch). A
standby takes it with `kv.create` when the key is absent (compare-and-set on an absent
key), or with `kv.update(last=revision)` (compare-and-set on the revision it last saw)
when the holder showed no life for `detect_after` seconds: neither a renewal (a new
revision) nor a `LeaderBeat` on `drift.<net>.leader`. A standby that cannot read the key
has no evidence either way and waits. The new revision is the new leader's epoch.

The leader renews every `renew_every` (at most 1 s), publishes a beat every half second,
and steps down on its own when it could not renew for `give_up_after` (2/3 of the TTL:
longer than a NATS stream failover, so a live leader survives one). The lease does not
make two leaders impossible (a standby takes over while a partitioned leader still
believes it leads): the write fence (`streamer.fence`) keeps the old one from writing,
and the old leader learns of its deposal at its next renewal, by a newer beat, by a
fenced write, or after `give_up_after` at the latest (DESIGN property 1).

`LeaseMachine` (`streamer.lease_machine`) is that logic as a pure state machine (time
passed in); `LeaderLease` drives it against a real KV bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from schemas.keys import leader_key
from schemas.subjects import Network
from streamer.lease_machine import (
    BEAT_EVERY_S,
    DETECT_AFTER_S,
    GIVE_UP_FRACTION,
    Action,
    LeaseMachine,
    holder_of,
)
from streamer.waits import raise_if_cancelled

__all__ = [
    "BEAT_EVERY_S",
    "DETECT_AFTER_S",
    "GIVE_UP_FRACTION",
    "Action",
    "LeaderLease",
    "LeaseKV",
    "LeaseMachine",
]

log = logging.getLogger("drift_stream.lease")

_TICK_S = 0.25


class LeaseKV(Protocol):
    """The part of nats-py's KeyValue the lease uses (a fake implements it in tests)."""

    async def create(self, key: str, value: bytes) -> int: ...
    async def update(self, key: str, value: bytes, last: int | None = None) -> int: ...
    async def delete(self, key: str, last: int | None = None) -> bool: ...
    async def get(self, key: str) -> Any: ...


class LeaderLease:
    """Holds or waits for the lease of one network; `run()` until cancelled."""

    def __init__(
        self,
        kv: LeaseKV,
        network: Network,
        instance_id: str,
        ttl: float,
        *,
        detect_after: float = DETECT_AFTER_S,
        beat: Callable[[int], Awaitable[None]] | None = None,
        on_write: Callable[[str, int, int | None], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self._on_write = on_write  # (key, revision, epoch) of each acknowledged write
        self._key = leader_key(network)
        self.network = network
        self.instance_id = instance_id
        self._beat = beat
        self._clock = clock
        self.machine = LeaseMachine(ttl, detect_after=detect_after)
        self.leader_id: str | None = None  # who holds it, as last seen
        self._since = time.time()
        self._deposed_by: str | None = None  # why to step down at the next step

    @property
    def is_leader(self) -> bool:
        return self.machine.leader

    @property
    def epoch(self) -> int | None:
        return self.machine.epoch

    def _value(self) -> bytes:
        return json.dumps(
            {"instance_id": self.instance_id, "since": self._since, "epoch": self.machine.epoch}
        ).encode()

    def _extra(self) -> dict[str, object]:
        return {
            "network": self.network,
            "instance_id": self.instance_id,
            "epoch": self.machine.epoch,
        }

    async def holds(self) -> bool:
        """Whether the lease key names this instance and its epoch now (read from KV)."""
        return self.machine.leader and await self._held_revision() is not None

    # -- what others tell us ---------------------------------------------------------
    def heard_beat(self, instance_id: str, epoch: int) -> None:
        """Another instance's LeaderBeat (the streamer's subscription calls this)."""
        if instance_id != self.instance_id and self.machine.saw_beat(epoch, self._clock()):
            self.deposed(f"a newer leader ({instance_id}, epoch {epoch}) is beating")

    def deposed(self, reason: str) -> None:
        """Step down at the next step: `reason` (a fenced write, a newer beat) says that
        another instance leads now."""
        if self.machine.leader:
            self._deposed_by = reason

    # -- the protocol ----------------------------------------------------------------
    async def step(self) -> tuple[bool, bool]:
        """One turn of the protocol at the clock's now: (elected, deposed) by this turn."""
        now = self._clock()
        deposed = False
        reason = self._deposed_by
        self._deposed_by = None
        if self.machine.leader and (reason is not None or self.machine.overdue(now)):
            log.warning(
                "stepping down: %s",
                reason or f"lease not renewed for {self.machine.give_up_after:.1f} s",
                extra=self._extra(),
            )
            self.machine.lost()
            deposed = True
        if not self.machine.leader:
            await self._observe(now)
        action = self.machine.next_action(now)
        if action is Action.ACQUIRE:
            return await self._acquire(now), deposed
        if action is Action.TAKE_OVER:
            return await self._take_over(now), deposed
        if action is Action.RENEW and not await self._renew(now):
            return False, True
        return False, deposed

    async def run(
        self,
        on_elected: Callable[[int], Awaitable[None]],
        on_deposed: Callable[[], Awaitable[None]],
    ) -> None:
        """Acquire, renew and step down as the machine says, and beat while leading (in a
        task of its own: a renewal that takes long must not hold the beats up); on
        cancel, hand over."""
        beats = asyncio.create_task(self._beats(), name="leader-beats")
        try:
            while True:
                raise_if_cancelled()
                elected, deposed = await self.step()
                if deposed:
                    await on_deposed()
                if elected:
                    assert self.machine.epoch is not None
                    await on_elected(self.machine.epoch)
                await asyncio.sleep(_TICK_S)
        finally:
            beats.cancel()
            await asyncio.wait({beats})
            if self.machine.leader:
                await self._release()
                await on_deposed()

    async def _beats(self) -> None:
        """A LeaderBeat every BEAT_EVERY_S while this instance leads (and is not overdue)."""
        while self._beat is not None:
            epoch = self.machine.epoch
            if epoch is not None and not self.machine.overdue(self._clock()):
                try:
                    await self._beat(epoch)
                except Exception as exc:  # NATS away: the next beat tries again
                    raise_if_cancelled()
                    log.debug("leader beat failed: %r", exc, extra=self._extra())
            await asyncio.sleep(BEAT_EVERY_S)

    async def _observe(self, now: float) -> None:
        """Read the key: who holds it and whether it moved (a standby's evidence)."""
        try:
            entry = await self._kv.get(self._key)
        except KeyNotFoundError:
            self.leader_id = None
            self.machine.saw_key(None, None, now)
            return
        except Exception as exc:  # NATS or the stream away: no evidence either way
            raise_if_cancelled()
            log.debug("lease read failed: %r", exc, extra=self._extra())
            self.machine.blind(now)
            return
        holder, epoch = holder_of(entry.value or b"")
        self.leader_id = holder
        # a value written at election holds no epoch yet: the election's revision is it
        self.machine.saw_key(entry.revision, entry.revision if epoch is None else epoch, now)

    async def _acquire(self, now: float) -> bool:
        try:
            revision = await self._kv.create(self._key, self._value())
        except KeyWrongLastSequenceError:
            self.machine.seen = False  # someone was faster: read it before judging
            return False
        except Exception as exc:  # NATS down or slow: try again next tick
            raise_if_cancelled()
            log.debug("lease acquire failed: %r", exc, extra=self._extra())
            return False
        return self._won(revision, now, "lease acquired")

    async def _take_over(self, now: float) -> bool:
        """Compare-and-set on the silent holder's revision: fails if it renewed since."""
        silent_for = now - (self.machine.alive_at or now)
        previous = self.leader_id
        try:
            revision = await self._kv.update(
                self._key, self._value(), last=self.machine.holder_revision
            )
        except KeyWrongLastSequenceError:
            self.machine.seen = False  # it moved: read it again before judging
            return False
        except Exception as exc:
            raise_if_cancelled()
            log.debug("lease takeover failed: %r", exc, extra=self._extra())
            return False
        return self._won(
            revision,
            now,
            f"lease taken over from {previous} (silent for {silent_for:.1f} s)",
        )

    def _won(self, revision: int, now: float, message: str) -> bool:
        self.machine.acquired(revision, now)
        self._wrote(revision)
        self.leader_id = self.instance_id
        log.info(message, extra=self._extra())
        return True

    async def _renew(self, sent_at: float) -> bool:
        """False when the lease is lost (someone else holds it)."""
        try:
            revision = await self._kv.update(self._key, self._value(), last=self.machine.revision)
        except KeyWrongLastSequenceError:
            # A renewal that timed out earlier may have been applied after all: only the
            # key's value says whether we still hold it (unread: ask again next tick).
            try:
                held = await self._held_revision()
            except Exception as exc:
                raise_if_cancelled()
                log.debug("lease read failed: %r", exc, extra=self._extra())
                return True
            if held is not None:
                self.machine.renewed(held, sent_at)
                return True
            log.warning("lease lost to %s", self.leader_id, extra=self._extra())
            self.machine.lost()
            return False
        except Exception as exc:  # transient: retry next tick until overdue
            raise_if_cancelled()
            log.debug("lease renew failed: %r", exc, extra=self._extra())
            return True
        self.machine.renewed(revision, sent_at)
        self._wrote(revision)
        return True

    def _wrote(self, revision: int) -> None:
        if self._on_write is not None:
            self._on_write(self._key, revision, self.machine.epoch)

    async def _held_revision(self) -> int | None:
        """The key's revision if it still names us with our epoch, None if it names
        another or is gone; a read that fails raises (it tells nothing)."""
        try:
            entry = await self._kv.get(self._key)
        except KeyNotFoundError:
            self.leader_id = None
            return None
        holder, epoch = holder_of(entry.value or b"")
        self.leader_id = holder
        epoch = entry.revision if epoch is None else epoch
        if holder == self.instance_id and epoch == self.machine.epoch:
            return int(entry.revision)
        return None

    async def _release(self) -> None:
        """Delete the key (compare-and-set) so a standby takes over at once."""
        revision = self.machine.revision
        self.machine.lost()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self._kv.delete(self._key, last=revision)
            log.info("lease released", extra=self._extra())
