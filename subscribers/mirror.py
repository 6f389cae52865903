"""The client's last-value mirror of one KV bucket: last values loaded, live values followed.

Live values come on a plain subscription to the bucket's republished subject (no
JetStream consumer while running: a thousand engines cost the server a thousand
subscriptions, and a stream leader failover costs them nothing). The last values are
read (`last_entries`, a short pull consumer) at start and again after every reconnect,
slow-consumer drop, or a value the leader's beat says was written but never came
(`reload`; `subscribers.gaps`). Both carry the stream sequence, so an older value never
replaces a newer one whatever the order they arrive in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.kv import KeyValue

from schemas import MarketList, decode
from schemas.errors import SchemaError
from schemas.models.base import SchemaModel
from schemas.subjects import Network
from subscribers.buckets import last_entries
from subscribers.cache import CacheManager
from subscribers.waits import raise_if_cancelled

__all__ = ["Accepted", "Mirror", "MirrorCounts", "timestamp"]

log = logging.getLogger("drift_stream.client")
M = TypeVar("M", bound=SchemaModel)
_LOAD_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Accepted:
    """A value a mirror took: its bucket and key, the KV stream sequence, the value, when
    it was written to KV (server time, unix seconds; None if unknown) and when it
    arrived here (unix seconds)."""

    bucket: str
    key: str
    seq: int
    value: SchemaModel
    written_at: float | None
    received_at: float


@dataclass
class MirrorCounts:
    """What every mirror of one client took and skipped (shared by its mirrors)."""

    updates: int = 0
    invalid: int = 0
    stale_epoch: int = 0


class Mirror(Generic[M]):
    """One bucket mirrored into a CacheManager, with listeners for live updates.

    Keys are the bucket's own (`<net>.<SYMBOL>`, a spot symbol with its case, or
    `<net>`); `resolve` finds a key whatever the case it is asked in.
    """

    def __init__(
        self,
        kv: KeyValue,
        nc: Client,
        subject: str,
        network: Network,
        model: type[M],
        ttl_s: float,
        counts: MirrorCounts,
    ) -> None:
        self.kv, self.network, self.model = kv, network, model
        self.cache: CacheManager[M] = CacheManager(ttl_s)
        self.listeners: set[asyncio.Queue[M]] = set()
        self.taps: set[Callable[[Accepted], None]] = set()  # told of every value taken
        self.loaded = asyncio.Event()
        self.reload = asyncio.Event()
        self._nc, self._subject = nc, subject
        self._sub: Subscription | None = None
        self._prefix = f"$KV.{kv._name}."
        self._counts = counts
        self._epochs: dict[str, int] = {}
        self._seqs: dict[str, int] = {}
        self.high = 0  # the highest stream sequence seen (reset by each load)
        self._high_since_load = 0
        self._folded: dict[str, str] = {}  # upper-case key -> the key as written

    @property
    def bucket(self) -> str:
        return self.kv._name

    @property
    def backlog(self) -> int:
        """Live messages received and not yet applied (a busy engine is behind, not
        missing anything)."""
        return 0 if self._sub is None else self._sub.pending_msgs

    def resolve(self, key: str) -> str:
        """The key as written for `key` in any case (`key` itself if none was seen)."""
        return self._folded.get(key.upper(), key)

    async def run(self) -> None:
        """Subscribe (live first: nothing falls between), then load; reload on demand."""
        pattern = f"{self.network}.*" if self.model is not MarketList else self.network
        sub = self._sub = await self._nc.subscribe(self._subject, cb=self._on_message)
        try:
            while True:
                raise_if_cancelled()
                self.reload.clear()
                # The load is the truth: a nats-server killed before it wrote its last
                # messages restarts with lower sequences, which must not look old to us.
                self._seqs.clear()
                try:
                    async with asyncio.timeout(_LOAD_TIMEOUT_S):
                        await self._load(pattern)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # NATS down or a stalled load: again shortly
                    raise_if_cancelled()  # nats-py turns a cancellation into its timeout
                    log.warning("loading %s failed, retrying: %r", self.bucket, exc)
                    await asyncio.sleep(0.5)
                    continue
                await self.reload.wait()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _load(self, pattern: str) -> None:
        self._high_since_load = 0
        for entry in await last_entries(self.kv, pattern):
            await self._apply(entry)
        self.high = self._high_since_load  # the load's, and what came live meanwhile
        self.loaded.set()

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers or {}
        subject = headers.get("Nats-Subject", "")
        try:
            seq = int(headers.get("Nats-Sequence", ""))
        except ValueError:
            seq = -1
        if not subject.startswith(self._prefix) or seq < 0:
            self._counts.invalid += 1
            log.warning("skipped a message on %s without KV headers", msg.subject)
            return
        await self._apply_raw(
            subject[len(self._prefix) :],
            seq,
            headers.get("KV-Operation"),
            msg.data,
            timestamp(headers.get("Nats-Time-Stamp")),
        )

    async def _apply(self, entry: KeyValue.Entry) -> None:
        await self._apply_raw(
            entry.key, entry.revision or 0, entry.operation, entry.value, _seconds(entry.created)
        )

    async def _apply_raw(
        self,
        key: str,
        seq: int,
        operation: str | None,
        data: bytes | None,
        written_at: float | None,
    ) -> None:
        self.high = max(self.high, seq)
        self._high_since_load = max(self._high_since_load, seq)
        if seq and seq <= self._seqs.get(key, 0):  # already have this or a newer one
            return
        if seq:
            self._seqs[key] = seq
        if operation in ("DEL", "PURGE") or not data:
            await self.cache.delete(key)
            return
        try:
            value = decode(self.model, data)
        except SchemaError as exc:
            self._counts.invalid += 1
            log.warning("skipped an invalid %s at %s: %s", self.model.__name__, key, exc)
            return
        epoch = getattr(value, "epoch", 0)
        if epoch < self._epochs.get(key, 0):  # a deposed leader's late write
            self._counts.stale_epoch += 1
            return
        self._epochs[key] = epoch
        self._folded[key.upper()] = key
        await self.cache.set(key, value, written_at=written_at)
        self._counts.updates += 1
        for queue in list(self.listeners):
            queue.put_nowait(value)
        if self.taps:
            accepted = Accepted(self.bucket, key, seq, value, written_at, time.time())
            for tap in list(self.taps):
                tap(accepted)


def _seconds(created: object) -> float | None:
    """A KV entry's server timestamp as unix seconds (nats-py gives a float or a datetime)."""
    if created is None:
        return None
    if hasattr(created, "timestamp"):
        return float(created.timestamp())
    value = float(created)  # type: ignore[arg-type]
    return value / 1e9 if value > 1e12 else value


def timestamp(text: str | None) -> float | None:
    """`Nats-Time-Stamp` (RFC 3339, nanoseconds, Z) as unix seconds; None if unreadable."""
    if not text:
        return None
    head, dot, frac = text.rstrip("Z").partition(".")
    try:
        whole = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
        return whole + (float(f"0.{frac}") if dot and frac.isdigit() else 0.0)
    except ValueError:
        return None
