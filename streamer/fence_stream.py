"""A data bucket's stream as the write fence uses it, over nats-server's JetStream.

- A fence record is published with `Nats-TTL: never` (the bucket stream allows message
  TTLs; nats-py creates KV streams so) and `Nats-Expected-Last-Subject-Sequence`.
- Values are published to `$KV.<bucket>.<key>` with `Nats-Expected-Last-Subject-Sequence`
  and `Nats-Expected-Last-Subject-Sequence-Subject` naming the fence (nats-py's
  `kv.put` takes no headers), pipelined, their answers gathered at once
  (`streamer.acks`).
- An atomic batch (nats-server 2.12+, `allow_atomic` on the stream: `schemas.buckets`)
  sends every message with `Nats-Batch-Id` and `Nats-Batch-Sequence`, the condition on
  the first, `Nats-Batch-Commit: 1` on the last; only the commit is answered, and the
  server stores all of them or none.

A refusal because of a sequence (err_code 10071) is `StaleSequenceError`; every other
error is nats-py's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from nats.js.errors import APIError, NotFoundError
from nats.js.kv import KeyValue

from streamer.acks import AckInbox, acked_seq
from streamer.fence import StaleSequenceError

__all__ = ["JetStreamFence"]

WRONG_LAST_SEQUENCE = 10071  # nats-server's JSStreamWrongLastSequenceErr
_EXPECTED_SEQ = "Nats-Expected-Last-Subject-Sequence"
_EXPECTED_SUBJECT = "Nats-Expected-Last-Subject-Sequence-Subject"
_BATCH_ID, _BATCH_SEQ, _BATCH_COMMIT = "Nats-Batch-Id", "Nats-Batch-Sequence", "Nats-Batch-Commit"
_MAX_BATCH = 1000  # nats-server's default atomic batch size limit


class JetStreamFence:
    """`FenceStream` of one KV bucket, through that bucket's nats-py KeyValue."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._js = kv._js
        self._nc = kv._js._nc
        self.bucket = kv._name
        self._acks = AckInbox(self._nc, self._js._timeout)

    async def replicated(self) -> bool:
        info = await self._js.stream_info(self._kv._stream)
        return (info.config.num_replicas or 1) > 1

    async def last(self, subject: str) -> tuple[int, bytes] | None:
        try:
            msg = await self._js.get_last_msg(self._kv._stream, subject)
        except NotFoundError:
            return None
        return int(msg.seq or 0), msg.data or b""

    async def put_fence(self, subject: str, data: bytes, *, expected: int) -> int:
        headers = {_EXPECTED_SEQ: str(expected), "Nats-TTL": "never"}
        return await self._publish(subject, data, headers)

    async def put_many(
        self, items: Sequence[tuple[str, bytes]], *, fence: str, seq: int
    ) -> list[int | BaseException]:
        headers = {_EXPECTED_SEQ: str(seq), _EXPECTED_SUBJECT: fence}
        pre = self._kv._pre
        answers = await self._acks.publish_all([(f"{pre}{k}", d) for k, d in items], headers)
        return [_stale(a) if isinstance(a, APIError) else a for a in answers]

    async def put_batch(
        self, items: Sequence[tuple[str, bytes]], *, fence: str, seq: int
    ) -> list[int]:
        if len(items) > _MAX_BATCH:
            raise ValueError(f"an atomic batch holds at most {_MAX_BATCH} messages")
        batch = uuid.uuid4().hex
        count = len(items)
        for n, (key, data) in enumerate(items[:-1], start=1):
            headers = {_BATCH_ID: batch, _BATCH_SEQ: str(n)}
            if n == 1:
                headers |= {_EXPECTED_SEQ: str(seq), _EXPECTED_SUBJECT: fence}
            await self._nc.publish(f"{self._kv._pre}{key}", data, headers=headers)
        key, data = items[-1]
        headers = {_BATCH_ID: batch, _BATCH_SEQ: str(count), _BATCH_COMMIT: "1"}
        if count == 1:
            headers |= {_EXPECTED_SEQ: str(seq), _EXPECTED_SUBJECT: fence}
        reply = await self._nc.request(
            f"{self._kv._pre}{key}", data, timeout=self._js._timeout, headers=headers
        )
        last = _acked(json.loads(reply.data))
        return [last - count + n for n in range(1, count + 1)]

    async def _publish(self, subject: str, data: bytes, headers: dict[str, str]) -> int:
        try:
            ack = await self._js.publish(subject, data, headers=headers)
        except APIError as exc:
            raise _stale(exc) from exc
        return int(ack.seq)


def _stale(exc: APIError) -> BaseException:
    """A refusal because of the expected sequence as StaleSequenceError; others as they are."""
    if exc.err_code == WRONG_LAST_SEQUENCE:
        return StaleSequenceError(exc.description or "wrong last sequence")
    return exc


def _acked(answer: object) -> int:
    """The stream sequence a JetStream publish answer acknowledges; its error raised."""
    try:
        return acked_seq(answer)
    except APIError as exc:
        raise _stale(exc) from exc
