"""Fenced writes: a deposed leader's writes are refused by nats-server, not only by readers.

Each data bucket's stream holds one fence record per network, `_fence.<net>.leader` (a
`WriteFence`, kept forever whatever the bucket's TTL). A leader raises it when it is
elected, by compare-and-set on the record it read, and every write of that leader is
conditioned on the record still being the last one (`Nats-Expected-Last-Subject-Sequence`
with `Nats-Expected-Last-Subject-Sequence-Subject`, nats-server 2.11+). Once a newer
leader raised its fence, an older leader's writes, however late they arrive (a reconnect
buffer, a TCP retransmission after a partition), are refused (`FencedError`), and the old
leader learns that it was deposed.

A replicated stream admits one message per expected subject in flight (the others are
refused), so there a leader's writes to one bucket go as one atomic batch, conditioned
as a whole: all or nothing. An R1 stream checks each write on its own, so there they go
pipelined. `BucketFence` is that logic over a `FenceStream` (`streamer.fence_stream`
speaks nats-server's protocol; tests use a fake).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from schemas import WriteFence, decode, encode
from schemas.errors import SchemaError
from streamer.waits import raise_if_cancelled

__all__ = [
    "BucketFence",
    "FenceStream",
    "FencedError",
    "NotFencedError",
    "StaleSequenceError",
]

log = logging.getLogger("drift_stream.fence")

Outcome = int | BaseException  # a write's stream sequence, or why it failed


class FencedError(Exception):
    """A newer leader's fence stands in this bucket: this instance was deposed."""


class NotFencedError(RuntimeError):
    """A write was asked for before this leader raised its fence."""


class StaleSequenceError(Exception):
    """The server refused a conditioned write: the subject's last sequence is another."""


class FenceStream(Protocol):
    """One bucket's stream, as the fence needs it."""

    bucket: str

    async def replicated(self) -> bool:
        """Whether the stream has more than one replica."""
        ...

    async def last(self, subject: str) -> tuple[int, bytes] | None:
        """The last message on `subject`: (stream sequence, data), or None."""
        ...

    async def put_fence(self, subject: str, data: bytes, *, expected: int) -> int:
        """Store a fence record that never expires, if `subject`'s last sequence is
        `expected` (0: none); its sequence. StaleSequenceError otherwise."""
        ...

    async def put_many(
        self, items: Sequence[tuple[str, bytes]], *, fence: str, seq: int
    ) -> list[int | BaseException]:
        """Store each value if `fence`'s last sequence is `seq`, each on its own
        (pipelined); per value its sequence, or StaleSequenceError or another error."""
        ...

    async def put_batch(
        self, items: Sequence[tuple[str, bytes]], *, fence: str, seq: int
    ) -> list[int]:
        """Store every value or none, if `fence`'s last sequence is `seq`; their
        sequences. StaleSequenceError otherwise."""
        ...


class BucketFence:
    """The fence of one network in one data bucket, and the writes conditioned on it."""

    def __init__(self, stream: FenceStream, subject: str) -> None:
        self._stream = stream
        self.subject = subject
        self.seq: int | None = None  # the stream sequence of the fence this leader raised
        self.epoch: int | None = None
        self._replicated = False

    @property
    def bucket(self) -> str:
        return self._stream.bucket

    def lower(self) -> None:
        """Forget the fence (deposed): writes raise NotFencedError until raised again."""
        self.seq = self.epoch = None

    async def raise_fence(
        self, fence: WriteFence, holds_lease: Callable[[], Awaitable[bool]]
    ) -> int:
        """Make `fence` the bucket's last fence record; its stream sequence.

        FencedError when a newer leader's fence is there, unless `holds_lease()` says this
        instance holds the lease now (then the newer-looking fence is from an earlier life
        of the lease bucket, whose revisions started over)."""
        self.lower()
        self._replicated = await self._stream.replicated()
        while True:
            raise_if_cancelled()
            seq, last = await self._last()
            if last is not None and last.epoch > fence.epoch and not await holds_lease():
                raise FencedError(
                    f"{self.bucket}: fenced by {last.instance_id} (epoch {last.epoch} > "
                    f"{fence.epoch})"
                )
            try:
                raised = await self._stream.put_fence(self.subject, encode(fence), expected=seq)
            except StaleSequenceError:
                continue  # another fence landed since we read it: judge that one
            self.seq, self.epoch = raised, fence.epoch
            return raised

    async def _last(self) -> tuple[int, WriteFence | None]:
        """The last fence record's stream sequence (0: none) and value (None: none, or
        unreadable)."""
        found = await self._stream.last(self.subject)
        if found is None:
            return 0, None
        seq, data = found
        try:
            return seq, decode(WriteFence, data)
        except SchemaError:
            log.warning("%s: the fence record does not parse; replacing it", self.bucket)
            return seq, None

    async def write(self, puts: Sequence[tuple[str, bytes]]) -> list[Outcome]:
        """Put each (key, value) conditioned on this leader's fence; per put, its stream
        sequence or the exception (FencedError when another leader's fence stands)."""
        seq = self.seq
        if seq is None:
            raise NotFencedError(f"{self.bucket}: no fence raised")
        if not puts:
            return []
        if not self._replicated or len(puts) == 1:
            try:
                answers = await self._stream.put_many(puts, fence=self.subject, seq=seq)
            except Exception as exc:  # NATS away: none of them was written
                raise_if_cancelled()
                return [self._outcome(exc)] * len(puts)
            return [self._outcome(answer) for answer in answers]
        try:
            return list(await self._stream.put_batch(puts, fence=self.subject, seq=seq))
        except Exception as exc:  # NATS away, or refused: none of them was written
            raise_if_cancelled()
            return [self._outcome(exc)] * len(puts)

    def _outcome(self, answer: int | BaseException) -> Outcome:
        if isinstance(answer, StaleSequenceError):
            return FencedError(f"{self.bucket}: {answer}")
        return answer
