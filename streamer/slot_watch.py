"""The newest slot of the chain, watched on a websocket of the source's own (or by
`getSlot` polls), so the source notices a feed that went quiet: driftpy never does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from solana.rpc.async_api import AsyncClient
from solana.rpc.websocket_api import connect

from streamer.backoff import Backoff
from streamer.waits import raise_if_cancelled

__all__ = ["SlotWatch"]

log = logging.getLogger("drift_stream.source")


class SlotWatch:
    """Tracks the newest slot on a websocket of its own, reconnecting with backoff."""

    def __init__(self, ws_url: str) -> None:
        self._ws_url = ws_url
        self.last_slot: int | None = None
        self.last_at: float | None = None
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None

    def start(self, slot: int, poll: AsyncClient | None = None, every_s: float = 3.0) -> None:
        """Watch slots on the websocket, or with getSlot every `every_s` given `poll`."""
        self.last_slot, self.last_at = slot, time.monotonic()
        run = self._run() if poll is None else self._poll(poll, every_s)
        self._task = asyncio.create_task(run, name="slot-watch")

    async def _poll(self, connection: AsyncClient, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                slot = (await connection.get_slot()).value
            except Exception as exc:  # the watchdog sees the gap
                log.debug("getSlot failed: %r", exc)
                continue
            if slot != self.last_slot:
                self.last_slot, self.last_at = slot, time.monotonic()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = Backoff(base=0.1, cap=5.0)
        first = True
        while True:
            raise_if_cancelled()
            try:
                # a close handshake over a dead link must not hold a stop up
                async with connect(self._ws_url, ping_interval=None, close_timeout=1) as ws:
                    if not first:
                        self.reconnects += 1
                    first = False
                    await ws.slot_subscribe()
                    await ws.recv()  # the subscription id
                    backoff.reset()
                    async for messages in ws:
                        for msg in messages:
                            slot = getattr(getattr(msg, "result", None), "slot", None)
                            if isinstance(slot, int):
                                self.last_slot, self.last_at = slot, time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the feed watchdog sees the gap; keep trying
                log.debug("slot websocket: %r", exc)
            first = False
            await asyncio.sleep(backoff.next_delay())
