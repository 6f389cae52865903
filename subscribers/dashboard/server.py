"""The dashboard server: one page (funding and spot views), a JSON snapshot and a
server-sent event stream.

The server is one engine of the library (one presence, one mirror per bucket);
browsers get the last values at once from `/api/snapshot` and every update from
`/events`, so N open pages cost NATS nothing more than one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from aiohttp import web
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from schemas import FundingRate, StreamerStatus, decode, funding_subject, validate_symbol
from schemas.buckets import HISTORY_STREAM
from schemas.errors import SchemaError
from subscribers.buckets import BucketUnavailableError
from subscribers.client import ApiError, DriftStreamClient

__all__ = ["Dashboard", "read_history", "serve"]

log = logging.getLogger("drift_stream.dashboard")
_PAGE = resources.files("subscribers.dashboard").joinpath("static/index.html")


class Dashboard:
    """Serves the Funding Engine page (funding and spot views) for one client (connected
    by the caller)."""

    def __init__(self, client: DriftStreamClient, *, status_interval_s: float = 2.0) -> None:
        self.client = client
        self._status_interval = status_interval_s
        self._streams: set[asyncio.Queue[str | None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._status: StreamerStatus | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/api/snapshot", self._snapshot)
        app.router.add_get("/events", self._events)
        app.router.add_get("/api/history", self._history)
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._end_streams)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, app: web.Application) -> None:
        self._tasks = [
            asyncio.create_task(self._pump_funding(), name="dashboard-funding"),
            asyncio.create_task(self._pump_spot(), name="dashboard-spot"),
            asyncio.create_task(self._pump_status(), name="dashboard-status"),
        ]

    async def _end_streams(self, app: web.Application) -> None:
        """Let every open event stream finish, so shutdown does not wait on browsers."""
        for queue in list(self._streams):
            queue.put_nowait(None)

    async def _stop(self, app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _broadcast(self, kind: str, data: Any) -> None:
        text = f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        for queue in list(self._streams):
            if queue.qsize() < 1000:  # a stuck browser must not grow memory without bound
                queue.put_nowait(text)

    async def _pump_funding(self) -> None:
        async for update in self.client.watch_funding():
            self._broadcast("funding", await self._row(update))

    async def _pump_spot(self) -> None:
        try:
            async for update in self.client.watch_spot():
                self._broadcast("spot", update.model_dump(mode="json"))
        except BucketUnavailableError as exc:  # a streamer older than spot markets
            log.warning("no spot view: %s", exc)

    async def _pump_status(self) -> None:
        while True:
            try:
                self._status = await self.client.request_status()
            except (ApiError, Exception) as exc:  # no streamer answering: show it as unknown
                log.debug("status request failed: %r", exc)
                self._status = None
            self._broadcast("status", self._status_json())
            await asyncio.sleep(self._status_interval)

    def _status_json(self) -> dict[str, Any] | None:
        return None if self._status is None else self._status.model_dump(mode="json")

    async def _row(self, funding: FundingRate) -> dict[str, Any]:
        snap = await self.client.market(funding.symbol)
        row = funding.model_dump(mode="json")
        if snap is not None:
            row.update(
                oracle_price=snap.oracle_price,
                mark_price=snap.mark_price,
                open_interest=snap.open_interest,
                market_ts=snap.ts,
                status=snap.status,
            )
        return row

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=_PAGE.read_text(), content_type="text/html")

    async def _snapshot(self, request: web.Request) -> web.Response:
        rows = [await self._row(f) for f in (await self.client.funding_all()).values()]
        rows.sort(key=lambda r: r["market_index"])
        spots = sorted((await self.client.spots()).values(), key=lambda s: s.market_index)
        client = self.client
        return web.json_response(
            {
                "network": client.network,
                "server_ts": time.time(),
                "funding_ttl_s": client._funding.cache.ttl_s if client._funding else None,
                "spot_ttl_s": client._spot.cache.ttl_s if client._spot else None,
                "status": self._status_json(),
                "markets": rows,
                "spots": [s.model_dump(mode="json") for s in spots],
            }
        )

    async def _history(self, request: web.Request) -> web.Response:
        """`?symbol=SOL-PERP&hours=24`: the market's hourly funding over time, from the
        history stream, thinned to at most MAX_POINTS points."""
        try:
            symbol = validate_symbol(request.query.get("symbol", ""))
            hours = float(request.query.get("hours", "24"))
            if not math.isfinite(hours):  # min/max let NaN through
                raise ValueError(f"hours must be a number, not {hours}")
            hours = min(max(hours, 0.01), 24 * 7)
        except (SchemaError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        points = await read_history(self.client, symbol, hours)
        return web.json_response({"symbol": symbol, "points": points})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._streams.add(queue)
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    async with asyncio.timeout(15):
                        text = await queue.get()
                except TimeoutError:
                    text = ": keep-alive\n\n"
                if text is None:  # the server is shutting down
                    break
                await response.write(text.encode())
        except ConnectionResetError:  # the browser went away
            pass
        finally:
            self._streams.discard(queue)
        with contextlib.suppress(Exception):
            await response.write_eof()
        return response


MAX_POINTS = 500
_READ_LIMIT = 20_000


async def read_history(client: DriftStreamClient, symbol: str, hours: float) -> list[list[float]]:
    """[[ts, hourly_rate_pct], ...] for the last `hours`, oldest first."""
    assert client._nc is not None
    js = client._nc.jetstream()
    start = datetime.now(UTC) - timedelta(hours=hours)
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=start.isoformat().replace("+00:00", "Z"),  # type: ignore[arg-type]  # sent as given: RFC 3339
        inactive_threshold=30,
        # no acks: with the default explicit ack a pull consumer stops delivering after
        # 1000 unacknowledged messages, and the chart ended at the window's 1000th value
        ack_policy=AckPolicy.NONE,
    )
    points: list[list[float]] = []
    try:
        sub = await js.pull_subscribe(
            funding_subject(client.network, symbol),
            durable=None,
            stream=HISTORY_STREAM,
            config=config,
        )
    except Exception as exc:  # no history stream yet: an empty chart, not an error page
        log.debug("history unavailable: %r", exc)
        return points
    try:
        while len(points) < _READ_LIMIT:
            try:
                msgs = await sub.fetch(batch=1000, timeout=0.3)
            except (NatsTimeoutError, TimeoutError):  # nats-py raises either
                break
            for msg in msgs:
                with contextlib.suppress(SchemaError):
                    f = decode(FundingRate, msg.data)
                    if f.hourly_rate_pct is not None:
                        points.append([f.ts, f.hourly_rate_pct])
            if len(msgs) < 1000:
                break
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    step = max(1, len(points) // MAX_POINTS)
    thinned = points[::step]
    if points and thinned[-1] is not points[-1]:
        thinned.append(points[-1])  # always end at the newest value
    return thinned


async def serve(dashboard: Dashboard, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve the dashboard on host:port (0: a free port); the caller cleans up the runner."""
    runner = web.AppRunner(dashboard.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    for address in runner.addresses:  # (host, port) of every listening socket
        bound = int(address[1])
    return runner, int(bound)
