"""Which markets' funding updated since a watcher last looked: ccxt.pro's `watch_*`.

One `Updates` per watch: a task follows the client's `watch_funding` (the last values
first, then every update) and marks each market it sees; `updated()` hands the marked
markets over and clears them, waiting for the next update when none is marked. A
watcher that is slow gets each market once, at its newest, never a backlog; the values
themselves are read from the client when handed over, so an expired one is never
returned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection

from subscribers.ccxt.errors import ExchangeNotAvailable
from subscribers.client import DriftStreamClient
from subscribers.waits import wait_event

__all__ = ["Updates"]


class Updates:
    """The markets (Drift names) updated since the last `updated()`, among `symbols`
    (None: every market). Started at construction; `aclose()` stops it."""

    def __init__(self, client: DriftStreamClient, symbols: Collection[str] | None) -> None:
        self._marked: dict[str, None] = {}  # an ordered set: markets in arrival order
        self._handed: dict[str, object] = {}  # the value last handed over, by market
        self._event = asyncio.Event()
        wanted = None if symbols is None else sorted(symbols)
        self._task = asyncio.create_task(self._follow(client, wanted), name="ccxt watch")
        self._task.add_done_callback(lambda _: self._event.set())  # wake a waiter

    async def _follow(self, client: DriftStreamClient, symbols: list[str] | None) -> None:
        async for value in client.watch_funding(symbols):
            self._marked[value.symbol] = None
            self._event.set()

    async def updated(self, timeout: float | None = None) -> list[str]:  # noqa: ASYNC109
        """The markets updated since the last call, at least one: at once if any, else
        as soon as one is; [] after `timeout` seconds (None: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._marked:
            if self._task.done():
                raise ExchangeNotAvailable("drift: this watch has stopped") from (
                    None if self._task.cancelled() else self._task.exception()
                )
            self._event.clear()
            if deadline is None:
                await self._event.wait()
            elif not await wait_event(self._event, max(0.0, deadline - time.monotonic())):
                return []
        marked = list(self._marked)
        self._marked.clear()
        return marked

    def is_new(self, symbol: str, value: object) -> bool:
        """Whether `value` is not the one last handed over for `symbol` (then it is now):
        a value seen both in the last values and live is handed over once."""
        if self._handed.get(symbol) is value:
            return False
        self._handed[symbol] = value
        return True

    async def aclose(self) -> None:
        """Stop following (idempotent)."""
        self._task.cancel()
        await asyncio.wait({self._task})
