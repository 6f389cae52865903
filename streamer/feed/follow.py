"""Oracles the feed follows beyond those discovery found.

A market's oracle can change on chain after discovery. When a snapshot finds a market
naming an oracle the feed does not hold, `OracleFollower.follow` subscribes it on the
account stream (websocket mode) and reads it once in a task of its own; each address
is tried at most every 30 s. `extra` lists them, so refetches and polls read them too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection

from streamer.errors import SourceError
from streamer.feed.ws import AccountStream

__all__ = ["OracleFollower"]

log = logging.getLogger("drift_stream.source")
_RETRY_MISSING_S = 30.0


class OracleFollower:
    """Follows oracle addresses on demand; `read(keys)` reads accounts into the store."""

    def __init__(self, read: Callable[[list[str]], Awaitable[None]]) -> None:
        self._read = read
        self._attempted: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def extra(self, followed: Collection[str]) -> list[str]:
        """The addresses ever asked for that are not among `followed`."""
        return [k for k in self._attempted if k not in followed]

    def follow(self, oracles: list[str], stream: AccountStream | None) -> None:
        """Subscribe (on `stream`, if any) and read the oracles not tried in 30 s."""
        now = time.monotonic()
        new = [
            k
            for k in oracles
            if now - self._attempted.get(k, -_RETRY_MISSING_S) >= _RETRY_MISSING_S
        ]
        if not new:
            return
        for key in new:
            self._attempted[key] = now
        if stream is not None:
            stream.add(new)

        async def fetch() -> None:
            try:
                await self._read(new)
            except SourceError as exc:
                log.warning("could not read oracles %s: %s", ", ".join(new), exc)

        task = asyncio.create_task(fetch(), name="feed-follow")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self) -> list[asyncio.Task[None]]:
        """Cancel the reads under way; the tasks, for the caller to wait for."""
        tasks = list(self._tasks)
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        return tasks
