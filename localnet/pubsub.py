"""Solana pubsub over websocket: account, program and slot subscriptions.

The ledger calls `PubSub` synchronously on every write; each matching subscription's
notification goes into its connection's queue, and one writer task per connection
sends them in order. A connection that cannot keep up (queue full) is closed, as a
real node drops a slow subscriber. Under the faults in force, subscribes may be refused
(localnet.refusals) and connections closed after `ws_lifetime_s` (as of their opening).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from localnet.errors import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR, RpcError
from localnet.faults import FaultConfig
from localnet.ledger import Account, Ledger, matches_filters
from localnet.refusals import subscribe_refusal
from localnet.stats import Stats

__all__ = ["PubSub"]

log = logging.getLogger("drift_stream.localnet")
_QUEUE_LIMIT = 10_000
_KINDS = {"accountSubscribe": "account", "programSubscribe": "program", "slotSubscribe": "slot"}
_LIFETIME_CLOSE = 1001  # "going away": what a recycling load balancer or node sends


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(_QUEUE_LIMIT))
    subs: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Subscription:
    conn: _Connection
    kind: str  # account | program | slot
    key: str | None
    filters: Any
    encoding: str


class PubSub:
    """Websocket subscriptions, fed by the ledger's change listeners."""

    def __init__(self, ledger: Ledger, stats: Stats) -> None:
        self._ledger = ledger
        self._stats = stats
        self._subs: dict[int, _Subscription] = {}
        self._next_id = 1
        self._connections: set[_Connection] = set()
        self.faults = FaultConfig()
        self.latency_s = 0.0
        self.corrupt = False
        self._removers = [ledger.on_account(self._on_account), ledger.on_slot(self._on_slot)]

    # -- observation ---------------------------------------------------------------
    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def subscription_counts(self) -> dict[str, int]:
        counts = {"account": 0, "program": 0, "slot": 0}
        for sub in self._subs.values():
            counts[sub.kind] += 1
        return counts

    # -- connections ---------------------------------------------------------------
    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        """Run one websocket connection until it closes."""
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.add(conn)
        self._stats.ws_connections_total += 1
        writer = asyncio.create_task(self._write(conn), name="localnet-ws-writer")
        try:
            async with asyncio.timeout(self.faults.ws_lifetime_s):  # None: no deadline
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        self._handle(conn, msg.data)
        except TimeoutError:
            self._stats.ws_closed_lifetime += 1
            await ws.close(code=_LIFETIME_CLOSE, message=b"localnet: connection lifetime reached")
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._connections.discard(conn)
            for sub_id in conn.subs:
                self._subs.pop(sub_id, None)
        return ws

    async def close_all(self, reason: bytes = b"localnet: connections dropped") -> int:
        """Close every websocket (the drop fault, and shutdown); returns how many."""
        conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1011, message=reason)
        return len(conns)

    def close(self) -> None:
        for remove in self._removers:
            remove()

    async def _write(self, conn: _Connection) -> None:
        while True:
            text = await conn.queue.get()
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            try:
                await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def _send(self, conn: _Connection, message: dict[str, Any]) -> None:
        try:
            conn.queue.put_nowait(json.dumps(message, separators=(",", ":")))
        except asyncio.QueueFull:
            log.warning("websocket subscriber too slow, closing it")
            asyncio.get_running_loop().create_task(conn.ws.close(code=1008, message=b"too slow"))

    # -- requests ------------------------------------------------------------------
    def _handle(self, conn: _Connection, text: str) -> None:
        try:
            body = json.loads(text)
        except ValueError:
            self._send(conn, _error(None, RpcError(PARSE_ERROR, "Parse error")))
            return
        for req in body if isinstance(body, list) else [body]:
            rid = req.get("id") if isinstance(req, dict) else None
            try:
                self._send(conn, {"jsonrpc": "2.0", "result": self._call(conn, req), "id": rid})
            except RpcError as exc:
                self._stats.rpc_errors[exc.code] += 1
                self._send(conn, _error(rid, exc))

    def _call(self, conn: _Connection, req: object) -> Any:
        if not isinstance(req, dict) or not isinstance(req.get("method"), str):
            raise RpcError(INVALID_REQUEST, "Invalid request")
        method: str = req["method"]
        params = req.get("params") or []
        if not isinstance(params, list):
            raise RpcError(INVALID_PARAMS, "Invalid params: 'params' must be an array")
        self._stats.ws_calls[method] += 1
        if method in _KINDS:
            refused = subscribe_refusal(self.faults, method, len(conn.subs))
            if refused is not None:
                self._stats.subscriptions_refused[method] += 1
                raise refused
            return self._subscribe(conn, _KINDS[method], params)
        if method.endswith("Unsubscribe") and method.removesuffix("Unsubscribe") in _KINDS.values():
            if not params or not isinstance(params[0], int):
                raise RpcError(INVALID_PARAMS, "Invalid params: expected a subscription id")
            sub = self._subs.get(params[0])
            if sub is None or sub.conn is not conn:
                return False
            del self._subs[params[0]]
            conn.subs.discard(params[0])
            return True
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method[:64]}")

    def _subscribe(self, conn: _Connection, kind: str, params: list[Any]) -> int:
        key: str | None = None
        cfg: dict[str, Any] = {}
        if kind != "slot":
            if not params or not isinstance(params[0], str):
                raise RpcError(INVALID_PARAMS, f"Invalid params: {kind}Subscribe needs an address")
            key = params[0]
            if len(params) > 1 and isinstance(params[1], dict):
                cfg = params[1]
        encoding = cfg.get("encoding") or "base64"
        if encoding not in ("base64", "base58"):
            raise RpcError(INVALID_PARAMS, f"unsupported encoding {encoding!r}: use base64")
        filters = cfg.get("filters")
        if filters is not None:
            matches_filters(b"", filters)  # validates the filters now, not at notify time
        sub_id = self._next_id
        self._next_id += 1
        self._subs[sub_id] = _Subscription(conn, kind, key, filters, encoding)
        conn.subs.add(sub_id)
        return sub_id

    # -- notifications -------------------------------------------------------------
    def _on_account(self, address: str, account: Account) -> None:
        for sub_id, sub in self._subs.items():
            if sub.kind == "account" and sub.key == address:
                value: Any = account.to_json(sub.encoding, corrupt=self.corrupt)
                method = "accountNotification"
            elif (
                sub.kind == "program"
                and sub.key == account.owner
                and matches_filters(account.data, sub.filters)
            ):
                value = {
                    "pubkey": address,
                    "account": account.to_json(sub.encoding, corrupt=self.corrupt),
                }
                method = "programNotification"
            else:
                continue
            self._stats.notifications[sub.kind] += 1
            self._send(
                sub.conn,
                {
                    "jsonrpc": "2.0",
                    "method": method,
                    "params": {
                        "result": {"context": {"slot": account.slot}, "value": value},
                        "subscription": sub_id,
                    },
                },
            )

    def _on_slot(self, slot: int) -> None:
        for sub_id, sub in self._subs.items():
            if sub.kind == "slot":
                self._stats.notifications["slot"] += 1
                self._send(
                    sub.conn,
                    {
                        "jsonrpc": "2.0",
                        "method": "slotNotification",
                        "params": {
                            "result": {"parent": slot - 1, "root": slot - 32, "slot": slot},
                            "subscription": sub_id,
                        },
                    },
                )


def _error(rid: object, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": exc.to_json()}
