"""localnet's server: JSON-RPC over HTTP on `port`, pubsub websocket on `port + 1`.

driftpy derives the websocket URL as the HTTP port + 1 (as solana-test-validator
serves 8899/8900), so both ports serve the same app. `/admin/` on either port
controls and observes it (see docs in README and `localnet/__init__.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import random
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from localnet.admin import admin_routes
from localnet.errors import INVALID_REQUEST, PARSE_ERROR, LocalnetError, RpcError
from localnet.faults import FaultConfig, FaultRequest, RateLimiter
from localnet.history import HistoryConfig
from localnet.ledger import Ledger
from localnet.markets import DriftMarkets
from localnet.mm_oracle import DEFAULT_MM_ORACLE_SHARE
from localnet.presets import preset as load_preset
from localnet.pubsub import PubSub
from localnet.rpc import RpcMethods
from localnet.simulation import MarketSimulator, SimulationConfig
from localnet.stats import Stats

__all__ = ["LocalnetServer"]

log = logging.getLogger("drift_stream.localnet")
_RATE_LIMITED = {
    "jsonrpc": "2.0",
    "id": None,
    "error": {"code": 429, "message": "Too many requests for a specific RPC call"},
}
_MAX_BATCH = 1_000


class _State(enum.Enum):
    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


class LocalnetServer:
    """A local Solana RPC serving Drift accounts; an async context manager, used once.

    `port=None` picks a free pair of ports. `slot_ms` is the slot clock period;
    `simulation=None` keeps prices and funding still (tests set values through
    `markets` or /admin/market and expect exactly them back). `mm_oracle_share` is
    about the share of perp markets with an MM oracle (default: the simulation's, or
    0.5 when still); `history` bounds the account versions kept for /admin/account.
    """

    def __init__(
        self,
        *,
        preset: str = "small",
        host: str = "127.0.0.1",
        port: int | None = None,
        slot_ms: float = 400.0,
        simulation: SimulationConfig | None = None,
        mm_oracle_share: float | None = None,
        history: HistoryConfig | None = None,
    ) -> None:
        if slot_ms <= 0:
            raise ValueError("slot_ms must be positive")
        if mm_oracle_share is None:
            mm_oracle_share = simulation.mm_oracle_share if simulation else DEFAULT_MM_ORACLE_SHARE
        if not 0 <= mm_oracle_share <= 1:
            raise ValueError("mm_oracle_share must be between 0 and 1")
        self.host = host
        self._requested_port = port
        self.port = port or 0
        self.slot_ms = slot_ms
        self.ledger = Ledger(history=history)
        self.markets = DriftMarkets(
            self.ledger, load_preset(preset), mm_oracle_share=mm_oracle_share
        )
        self.stats = Stats()
        self.rpc = RpcMethods(self.ledger)
        self.pubsub = PubSub(self.ledger, self.stats)
        self.faults = FaultConfig()
        self._limiter: RateLimiter | None = None
        self.simulator = MarketSimulator(self.markets, simulation) if simulation else None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._state = _State.UNOPENED

    # -- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port + 1}"

    async def __aenter__(self) -> LocalnetServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._state is not _State.UNOPENED:
            raise RuntimeError("a LocalnetServer can be started only once")
        self._state = _State.OPENED
        app = web.Application(client_max_size=4 << 20)
        app.add_routes(admin_routes(self))
        app.router.add_route("*", "/", self._root)
        # driftpy sends `content-encoding: gzip` on plain JSON: never decompress.
        self._runner = web.AppRunner(app, auto_decompress=False, access_log=None)
        await self._runner.setup()
        await self._bind()
        self._spawn(self._slot_clock(), "slot-clock")
        if self.simulator is not None:
            cfg = self.simulator.config
            self._spawn(self._every(cfg.price_interval_s, self.simulator.step_prices), "prices")
            self._spawn(
                self._every(cfg.funding_interval_s, self.simulator.update_funding), "funding"
            )
        log.info(
            "localnet listening on %s (websocket %s), %d perp markets",
            self.url,
            self.ws_url,
            len(self.markets.perps),
            extra={"url": self.url, "preset": self.markets.preset.name},
        )

    async def _bind(self) -> None:
        assert self._runner is not None
        attempts = 1 if self._requested_port else 50
        for _ in range(attempts):
            port = self._requested_port or _free_port(self.host)
            sites = [web.TCPSite(self._runner, self.host, p) for p in (port, port + 1)]
            try:
                for site in sites:
                    await site.start()
            except OSError as exc:
                for site in sites:
                    with contextlib.suppress(Exception):
                        await site.stop()
                if self._requested_port:
                    raise LocalnetError(
                        f"cannot listen on {self.host}:{port}/{port + 1}: {exc}"
                    ) from exc
                continue
            self.port = port
            return
        raise LocalnetError(f"found no free pair of ports on {self.host}")

    async def stop(self) -> None:
        if self._state is not _State.OPENED:
            self._state = _State.CLOSED
            return
        self._state = _State.CLOSED
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pubsub.close_all(b"localnet stopping")
        self.pubsub.close()
        if self._runner is not None:
            await self._runner.cleanup()
        log.info("localnet stopped", extra={"url": self.url})

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(f"localnet-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _slot_clock(self) -> None:
        period = self.slot_ms / 1000
        while True:
            await asyncio.sleep(period)
            self.ledger.advance_slot()

    async def _every(self, period: float, step: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                step()
            except LocalnetError:
                log.exception("simulation step failed")

    # -- observation -----------------------------------------------------------------
    def stats_json(self) -> dict[str, Any]:
        return self.stats.to_json(
            open_ws=self.pubsub.open_connections,
            subscriptions=self.pubsub.subscription_counts(),
            slot=self.ledger.slot,
        )

    async def set_faults(self, request: FaultRequest) -> FaultConfig:
        """Apply a fault request (the same as POST /admin/faults)."""
        self.faults = request.merged_into(self.faults)
        limit = self.faults.rate_limit
        if limit is None:
            self._limiter = None
        elif self._limiter is None or self._limiter.limit != limit:
            self._limiter = RateLimiter(limit)
        self.pubsub.latency_s = self.faults.latency_ms / 1000
        self.rpc.corrupt = self.pubsub.corrupt = self.faults.corrupt_accounts
        if request.drop_websockets:
            dropped = await self.pubsub.close_all()
            log.info("dropped %d websockets", dropped)
        log.info("faults now %s", self.faults.model_dump(exclude_defaults=True))
        return self.faults

    # -- JSON-RPC --------------------------------------------------------------------
    async def _root(self, request: web.Request) -> web.StreamResponse:
        if self.faults.refuse_connections:
            # Close the socket without an answer: the client sees a dropped connection.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)  # never sent: the socket is gone
        if request.headers.get("Upgrade", "").lower() == "websocket":
            cap = self.faults.max_connections
            if cap is not None and self.pubsub.open_connections >= cap:
                self.stats.ws_refused += 1
                self.stats.http_status[429] += 1
                return web.json_response(_RATE_LIMITED, status=429)
            return await self.pubsub.serve(request)
        if request.method != "POST":
            return web.json_response({"error": "POST JSON-RPC to /"}, status=405)
        self.stats.http_requests += 1
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        status, body = self._answer(await request.read())
        self.stats.http_status[status] += 1
        return web.Response(
            body=json.dumps(body, separators=(",", ":")),
            status=status,
            content_type="application/json",
        )

    def _answer(self, raw: bytes) -> tuple[int, Any]:
        try:
            body = json.loads(raw)
        except ValueError:
            self.stats.rpc_errors[PARSE_ERROR] += 1
            return 200, _error(None, RpcError(PARSE_ERROR, "Parse error: body is not JSON"))
        calls = body if isinstance(body, list) else [body]
        if not calls or len(calls) > _MAX_BATCH:
            self.stats.rpc_errors[INVALID_REQUEST] += 1
            return 200, _error(None, RpcError(INVALID_REQUEST, f"batch of {len(calls)} calls"))
        methods = [str(c.get("method")) if isinstance(c, dict) else "?" for c in calls]
        if self._limiter is not None and not self._limiter.admit(methods):
            return 429, _RATE_LIMITED
        answers = [self._answer_one(c, m) for c, m in zip(calls, methods, strict=True)]
        return 200, answers if isinstance(body, list) else answers[0]

    def _answer_one(self, call: object, method: str) -> dict[str, Any]:
        rid = call.get("id") if isinstance(call, dict) else None
        self.stats.rpc_calls[method] += 1
        try:
            if not isinstance(call, dict):
                raise RpcError(INVALID_REQUEST, "Invalid request: each call must be an object")
            injected = self.faults.errors.get(method)
            if injected is not None:
                self._consume_injected(method)
                raise RpcError(injected.code, injected.message, injected.error_data())
            return {
                "jsonrpc": "2.0",
                "result": self.rpc.call(call.get("method"), call.get("params")),
                "id": rid,
            }
        except RpcError as exc:
            self.stats.rpc_errors[exc.code] += 1
            return _error(rid, exc)

    def _consume_injected(self, method: str) -> None:
        injected = self.faults.errors[method]
        if injected.count is not None:
            if injected.count <= 1:
                self.faults.errors.pop(method)
            else:
                injected.count -= 1


def _error(rid: object, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": exc.to_json()}


def _free_port(host: str) -> int:
    """A port the OS says is free now, below the top so that port + 1 exists too."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port if port < 65535 else random.randint(20_000, 60_000)
