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
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from localnet.admin import admin_routes
from localnet.adopt import adopt_markets
from localnet.errors import LocalnetError
from localnet.faults import FaultConfig, FaultRequest, provider_faults
from localnet.history import HistoryConfig
from localnet.http_rpc import HttpRpc
from localnet.ledger import Ledger
from localnet.markets import DriftMarkets
from localnet.mm_oracle import DEFAULT_MM_ORACLE_SHARE
from localnet.presets import preset as load_preset
from localnet.pubsub import PubSub
from localnet.refusals import RATE_LIMITED_BODY
from localnet.rpc import RpcMethods
from localnet.simulation import MarketSimulator, SimulationConfig
from localnet.snapshot import load_snapshot
from localnet.stats import Stats

__all__ = ["LocalnetServer"]

log = logging.getLogger("drift_stream.localnet")


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
    `provider` names a provider profile (`localnet.providers`) applied at start;
    `limiter_clock` is the rate limiter's clock (tests pass a fake one).

    `snapshot` serves a snapshot folder instead of a preset (`preset` and
    `mm_oracle_share` then do not apply): the ledger holds exactly its accounts, as
    captured, and the slot clock starts at its manifest's `max_slot`. Its markets are
    adopted (`localnet.adopt`), so `simulation` and /admin/ work on them; `warnings`
    says what the folder lacks. A bad folder raises `SnapshotError` here.
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
        provider: str | None = None,
        limiter_clock: Callable[[], float] = time.monotonic,
        snapshot: Path | None = None,
    ) -> None:
        if slot_ms <= 0:
            raise ValueError("slot_ms must be positive")
        if mm_oracle_share is None:
            mm_oracle_share = simulation.mm_oracle_share if simulation else DEFAULT_MM_ORACLE_SHARE
        if not 0 <= mm_oracle_share <= 1:
            raise ValueError("mm_oracle_share must be between 0 and 1")
        self._provider = None if provider is None else provider_faults(provider)
        self.host = host
        self._requested_port = port
        self.port = port or 0
        self.slot_ms = slot_ms
        self.snapshot = None if snapshot is None else load_snapshot(snapshot)
        self.warnings: list[str] = []
        if self.snapshot is None:
            self.ledger = Ledger(history=history)
            self.markets = DriftMarkets(
                self.ledger, load_preset(preset), mm_oracle_share=mm_oracle_share
            )
        else:
            self.ledger = Ledger(self.snapshot.start_slot, history=history)
            self.ledger.load(self.snapshot.accounts, self.snapshot.start_slot)
            self.markets, adopted = adopt_markets(self.ledger, self.snapshot)
            self.warnings = [*self.snapshot.warnings, *adopted]
        self.stats = Stats()
        self.rpc = RpcMethods(self.ledger)
        self.pubsub = PubSub(self.ledger, self.stats)
        self.faults = FaultConfig()
        self.http_rpc = HttpRpc(self.rpc, self.stats, clock=limiter_clock)
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
        if self._provider is not None:
            await self.set_faults(FaultRequest(provider=self._provider.provider))
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
        self.http_rpc.set_faults(self.faults)
        self.pubsub.faults = self.faults
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
                return web.json_response(RATE_LIMITED_BODY, status=429)
            return await self.pubsub.serve(request)
        if request.method != "POST":
            return web.json_response({"error": "POST JSON-RPC to /"}, status=405)
        self.stats.http_requests += 1
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        status, body, headers = self.http_rpc.answer(await request.read())
        self.stats.http_status[status] += 1
        return web.Response(
            body=json.dumps(body, separators=(",", ":")),
            status=status,
            headers=headers,
            content_type="application/json",
        )


def _free_port(host: str) -> int:
    """A port the OS says is free now, below the top so that port + 1 exists too."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port if port < 65535 else random.randint(20_000, 60_000)
