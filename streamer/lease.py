"""The leader lease: at most one streamer per network holds a DriftClient.

The lease is the key `<net>` in bucket `drift_leader`, whose bucket TTL makes a key
that nobody renews disappear. `kv.create` (compare-and-set on an absent key) takes it;
`kv.update(last=revision)` (compare-and-set) renews it every TTL/3. A leader that could
not renew for 2/3 of the TTL steps down on its own, before the key can expire and
another instance can take it: so two instances never both believe they lead.

`LeaseMachine` is that logic as a pure state machine (time passed in); `LeaderLease`
drives it against a real KV bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from schemas.subjects import Network, leader_key
from streamer.waits import raise_if_cancelled

__all__ = ["Action", "LeaderLease", "LeaseKV", "LeaseMachine"]

log = logging.getLogger("drift_stream.lease")


class Action(enum.Enum):
    ACQUIRE = "acquire"
    RENEW = "renew"
    WAIT = "wait"


@dataclass
class LeaseMachine:
    """What a lease holder (or hopeful) does at time `now`. Pure: no I/O, no clock."""

    ttl: float
    leader: bool = False
    epoch: int | None = None  # the revision that granted the lease: stable while held
    revision: int | None = None  # the newest revision we wrote, for compare-and-set
    renewed_at: float | None = None

    @property
    def renew_every(self) -> float:
        return self.ttl / 3

    @property
    def give_up_after(self) -> float:
        return self.ttl * 2 / 3

    def overdue(self, now: float) -> bool:
        """A leader whose last confirmed renewal is too old must step down now."""
        return (
            self.leader
            and self.renewed_at is not None
            and now - self.renewed_at >= self.give_up_after
        )

    def next_action(self, now: float) -> Action:
        if not self.leader:
            return Action.ACQUIRE
        if self.renewed_at is None or now - self.renewed_at >= self.renew_every:
            return Action.RENEW
        return Action.WAIT

    def acquired(self, revision: int, now: float) -> None:
        self.leader, self.epoch, self.revision, self.renewed_at = True, revision, revision, now

    def renewed(self, revision: int, sent_at: float) -> None:
        """`sent_at`: when the renewal was sent (the key's new TTL runs from about then)."""
        self.revision, self.renewed_at = revision, sent_at

    def lost(self) -> None:
        self.leader, self.epoch, self.revision, self.renewed_at = False, None, None, None


class LeaseKV(Protocol):
    """The part of nats-py's KeyValue the lease uses (a fake implements it in tests)."""

    async def create(self, key: str, value: bytes) -> int: ...
    async def update(self, key: str, value: bytes, last: int | None = None) -> int: ...
    async def delete(self, key: str, last: int | None = None) -> bool: ...


class LeaderLease:
    """Holds or waits for the lease of one network; `run()` until cancelled."""

    def __init__(
        self,
        kv: LeaseKV,
        network: Network,
        instance_id: str,
        ttl: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self._key = leader_key(network)
        self.network = network
        self.instance_id = instance_id
        self._clock = clock
        self.machine = LeaseMachine(ttl)
        self.leader_id: str | None = None  # who holds it, as last seen
        self._held_revision: int | None = None  # the key's revision, as last read
        self._since = time.time()

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

    async def step(self) -> tuple[bool, bool]:
        """One turn of the protocol at the clock's now: (elected, deposed) by this turn."""
        now = self._clock()
        deposed = False
        if self.machine.overdue(now):
            log.warning("lease not renewed in time: stepping down", extra=self._extra())
            self.machine.lost()
            deposed = True
        action = self.machine.next_action(now)
        if action is Action.ACQUIRE:
            return await self._acquire(now), deposed
        if action is Action.RENEW and not await self._renew(now):
            return False, True
        return False, deposed

    async def run(
        self,
        on_elected: Callable[[int], Awaitable[None]],
        on_deposed: Callable[[], Awaitable[None]],
    ) -> None:
        """Acquire, renew and step down as the machine says; on cancel, hand over."""
        tick = min(self.machine.renew_every / 2, 1.0)
        try:
            while True:
                raise_if_cancelled()
                elected, deposed = await self.step()
                if deposed:
                    await on_deposed()
                if elected:
                    assert self.machine.epoch is not None
                    await on_elected(self.machine.epoch)
                await asyncio.sleep(tick)
        finally:
            if self.machine.leader:
                await self._release()
                await on_deposed()

    async def _acquire(self, now: float) -> bool:
        try:
            revision = await self._kv.create(self._key, self._value())
        except KeyWrongLastSequenceError:
            await self._read_holder()
            return False
        except Exception as exc:  # NATS down or slow: try again next tick
            log.debug("lease acquire failed: %r", exc, extra=self._extra())
            return False
        self.machine.acquired(revision, now)
        self.leader_id = self.instance_id
        log.info("lease acquired", extra=self._extra())
        return True

    async def _renew(self, sent_at: float) -> bool:
        """False when the lease is lost (someone else holds it)."""
        try:
            revision = await self._kv.update(self._key, self._value(), last=self.machine.revision)
        except KeyWrongLastSequenceError:
            # A renewal that timed out earlier may have been applied after all: only the
            # key's value says whether we still hold it.
            if await self._read_holder() == self.instance_id and self._held_revision is not None:
                self.machine.renewed(self._held_revision, sent_at)
                return True
            log.warning("lease lost to %s", self.leader_id, extra=self._extra())
            self.machine.lost()
            return False
        except Exception as exc:  # transient: retry next tick until overdue
            log.debug("lease renew failed: %r", exc, extra=self._extra())
            return True
        self.machine.renewed(revision, sent_at)
        return True

    async def _read_holder(self) -> str | None:
        get = getattr(self._kv, "get", None)
        if get is None:
            return None
        try:
            entry = await get(self._key)
            self.leader_id = json.loads(entry.value or b"{}").get("instance_id")
            self._held_revision = entry.revision
        except (KeyNotFoundError, ValueError, AttributeError):
            self.leader_id, self._held_revision = None, None
        except Exception as exc:
            log.debug("lease read failed: %r", exc)
        return self.leader_id

    async def _release(self) -> None:
        """Delete the key (compare-and-set) so a standby takes over at once."""
        revision = self.machine.revision
        self.machine.lost()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self._kv.delete(self._key, last=revision)
            log.info("lease released", extra=self._extra())
