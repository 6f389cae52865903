"""A data bucket's stream in memory, with nats-server's conditioned writes: what the
publisher and the write fence are tested against without a server (`streamer.fence`'s
`FenceStream`; the real one: `streamer.fence_stream`, tested in tests/test_fence.py)."""

from __future__ import annotations

from collections.abc import Sequence

from streamer.fence import StaleSequenceError

__all__ = ["FakeFenceStream"]


class FakeFenceStream:
    """One bucket's stream: a write names the sequence it expects a subject's last
    message to have, and is refused (StaleSequenceError) if that moved. `puts` are the
    data values stored, (key, value), in stream order."""

    def __init__(self, bucket: str = "drift_funding") -> None:
        self.bucket = bucket
        self._seq = 0
        self._last: dict[str, tuple[int, bytes]] = {}
        self.puts: list[tuple[str, bytes]] = []

    def _store(self, subject: str, data: bytes) -> int:
        self._seq += 1
        self._last[subject] = (self._seq, data)
        return self._seq

    def _expect(self, subject: str, seq: int) -> None:
        if self._last.get(subject, (0, b""))[0] != seq:
            raise StaleSequenceError(f"wrong last sequence for {subject}")

    async def replicated(self) -> bool:
        return False

    async def last(self, subject: str) -> tuple[int, bytes] | None:
        return self._last.get(subject)

    async def put_fence(self, subject: str, data: bytes, *, expected: int) -> int:
        self._expect(subject, expected)
        return self._store(subject, data)

    async def put(self, key: str, data: bytes, *, fence: str, seq: int) -> int:
        self._expect(fence, seq)
        self.puts.append((key, data))
        return self._store(key, data)

    async def put_many(
        self, items: Sequence[tuple[str, bytes]], *, fence: str, seq: int
    ) -> list[int | BaseException]:
        answers: list[int | BaseException] = []
        for key, data in items:
            try:
                answers.append(await self.put(key, data, fence=fence, seq=seq))
            except StaleSequenceError as exc:
                answers.append(exc)
        return answers

    async def put_batch(
        self, items: Sequence[tuple[str, bytes]], *, fence: str, seq: int
    ) -> list[int]:
        self._expect(fence, seq)
        return [await self.put(k, v, fence=fence, seq=seq) for k, v in items]
