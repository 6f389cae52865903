"""Account subscriptions over a few websockets, refetched after every reconnect.

driftpy's explicit-index mode opens one websocket per account (about 88 on mainnet,
over the public RPC's 40 connections) and its find-all mode needs programSubscribe;
neither refetches anything after a reconnect. `AccountStream` puts up to
`per_connection` accountSubscribe on each connection (providers cap subscriptions per
connection; 100 is common), so mainnet's ~270 accounts take 3 sockets. When a socket
closes (a provider recycling it, an outage) it reconnects with capped, jittered
backoff, subscribes again, and only then calls `on_resubscribed(keys)`, which reads
those accounts once: an update made while the socket was down is not missed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from websockets.asyncio.client import ClientConnection, connect

from streamer.backoff import Backoff

__all__ = ["AccountStream"]

log = logging.getLogger("drift_stream.feed")
OnAccount = Callable[[str, int, bytes], None]
OnResubscribed = Callable[[list[str]], Awaitable[None]]
_MAX_MESSAGE = 1 << 24
_CLOSE_TIMEOUT_S = 1.0  # a close handshake over a dead link must not hold a stop up


class AccountStream:
    """Follows accounts on websockets of `per_connection` subscriptions each."""

    def __init__(
        self,
        ws_url: str,
        on_account: OnAccount,
        on_resubscribed: OnResubscribed,
        *,
        per_connection: int = 100,
        backoff_cap_s: float = 5.0,
    ) -> None:
        if not 1 <= per_connection <= 10_000:
            raise ValueError("per_connection must be between 1 and 10000")
        self._url = ws_url
        self._on_account = on_account
        self._on_resubscribed = on_resubscribed
        self._per_connection = per_connection
        self._backoff_cap = backoff_cap_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._refetches: set[asyncio.Task[None]] = set()
        self._subscribed: dict[int, int] = {}  # connection number -> live subscriptions
        self.keys: list[str] = []
        self.reconnects = 0  # connections re-established after a close
        self.refused = 0  # subscriptions the provider refused
        self.ready = asyncio.Event()  # every first connection has subscribed

    @property
    def subscribed(self) -> int:
        return sum(self._subscribed.values())

    @property
    def connections(self) -> int:
        return len(self._tasks)

    def add(self, keys: Sequence[str]) -> None:
        """Follow `keys` too (those not followed yet), on new connections."""
        new = [k for k in dict.fromkeys(keys) if k not in set(self.keys)]
        for start in range(0, len(new), self._per_connection):
            chunk = new[start : start + self._per_connection]
            number = len(self._tasks)
            self.ready.clear()
            task = asyncio.create_task(self._run(number, chunk), name=f"feed-ws-{number}")
            self._tasks.add(task)
        self.keys.extend(new)

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._refetches]
        self._tasks.clear()
        self._refetches.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._subscribed.clear()

    # -- one connection ------------------------------------------------------------
    async def _run(self, number: int, keys: list[str]) -> None:
        backoff = Backoff(base=0.1, cap=self._backoff_cap)
        first = True
        while True:
            try:
                async with connect(
                    self._url,
                    max_size=_MAX_MESSAGE,
                    open_timeout=10,
                    close_timeout=_CLOSE_TIMEOUT_S,
                    compression=None,
                ) as ws:
                    subs = await self._subscribe(ws, keys)
                    self._subscribed[number] = len(subs)
                    if first:
                        self._mark_ready()
                    else:
                        self.reconnects += 1
                        log.info(
                            "websocket %d reconnected: %d accounts resubscribed, refetching",
                            number,
                            len(subs),
                            extra={"connection": number, "accounts": len(subs)},
                        )
                        self._refetch(keys)
                    first = False
                    backoff.reset()
                    async for message in ws:
                        self._handle(subs, message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the socket closed or never opened: try again
                log.info(
                    "websocket %d closed: %s",
                    number,
                    _describe(exc),
                    extra={"connection": number},
                )
            self._subscribed[number] = 0
            if first:
                first = False  # the initial read covered the time before the first socket
                self._mark_ready()
            await asyncio.sleep(backoff.next_delay())

    def _mark_ready(self) -> None:
        if len(self._subscribed) >= len(self._tasks):
            self.ready.set()

    async def _subscribe(self, ws: ClientConnection, keys: list[str]) -> dict[int, str]:
        """Subscribe to every key; subscription id -> key (refused keys are logged)."""
        for number, key in enumerate(keys, start=1):
            params = [key, {"encoding": "base64", "commitment": "confirmed"}]
            request = {"jsonrpc": "2.0", "id": number, "method": "accountSubscribe"}
            await ws.send(json.dumps({**request, "params": params}))
        subs: dict[int, str] = {}
        answered = 0
        async with asyncio.timeout(30):
            while answered < len(keys):
                message = await ws.recv()
                reply = json.loads(message)
                request_id = reply.get("id") if isinstance(reply, dict) else None
                if not isinstance(request_id, int) or not 1 <= request_id <= len(keys):
                    self._handle(subs, message)  # a notification of a confirmed one
                    continue
                answered += 1
                key = keys[request_id - 1]
                if isinstance(reply.get("result"), int):
                    subs[reply["result"]] = key
                else:
                    self.refused += 1
                    log.warning(
                        "accountSubscribe %s refused: %s",
                        key,
                        str(reply.get("error"))[:200],
                        extra={"account": key},
                    )
        return subs

    def _handle(self, subs: dict[int, str], message: str | bytes) -> None:
        try:
            body = json.loads(message)
            params = body["params"]
            key = subs.get(params["subscription"])
            result = params["result"]
            slot = int(result["context"]["slot"])
            encoded, encoding = result["value"]["data"]
            data = base64.b64decode(encoded, validate=True) if encoding == "base64" else None
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            log.debug("websocket message skipped: %r", exc)
            return
        if key is not None and data is not None:
            self._on_account(key, slot, data)

    def _refetch(self, keys: list[str]) -> None:
        async def run() -> None:
            try:
                await self._on_resubscribed(keys)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next reconnect, or the watchdog, tries again
                log.warning("refetch after reconnect failed: %r", exc)

        task = asyncio.create_task(run(), name="feed-refetch")
        self._refetches.add(task)
        task.add_done_callback(self._refetches.discard)


def _describe(exc: BaseException) -> str:
    with contextlib.suppress(Exception):
        code = getattr(getattr(exc, "rcvd", None), "code", None)
        if code is not None:
            return f"{type(exc).__name__} (code {code})"
    return f"{type(exc).__name__}: {str(exc)[:120]}"
