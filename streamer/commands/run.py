"""What the long-running `drift-stream` commands share: a streamer or the dashboard
started inside the command's exit stack (stopped, awaited and cleaned up in reverse
when it closes). Signals: `streamer.commands.signals`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import TYPE_CHECKING

from streamer.settings import Settings

if TYPE_CHECKING:
    from streamer.app import Streamer

__all__ = ["run_streamer", "start_dashboard"]


async def run_streamer(
    stack: contextlib.AsyncExitStack, settings: Settings, args: argparse.Namespace
) -> Streamer:
    """Start a streamer task inside `stack` (cancelled, and awaited, when it closes)."""
    from streamer.app import Streamer
    from streamer.feed.discovery import parse_markets
    from streamer.feed.pacing import PacingConfig
    from streamer.metrics import serve_metrics
    from streamer.source import DriftSource, SourceMode

    if settings.rpc_url is None:
        raise SystemExit("no RPC URL: set DRIFT_RPC_URL or give --rpc-url")
    rpc_url = settings.rpc_url.get_secret_value()
    mode = SourceMode(args.mode)
    pacing = PacingConfig(rate=settings.rpc_rate, method_rate=settings.rpc_method_rate)
    app = Streamer(
        settings,
        lambda: DriftSource(
            rpc_url,
            mode=mode,
            poll_interval_s=args.poll_interval,
            markets=parse_markets(settings.markets),
            pacing=pacing,
            max_keys=settings.rpc_max_keys,
            subscriptions_per_socket=settings.ws_max_subscriptions,
            decoder=settings.decoder,
        ),
        instance_id=args.instance_id,
        grace_s=args.grace,
    )
    task = asyncio.create_task(app.run(), name="streamer")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
    if args.metrics_port:
        runner = await serve_metrics(app.metrics, "127.0.0.1", args.metrics_port)
        stack.push_async_callback(runner.cleanup)
    ready = asyncio.create_task(app.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if task.done():
        task.result()  # raises what stopped it
    return app


async def start_dashboard(
    stack: contextlib.AsyncExitStack, settings: Settings, host: str, port: int
) -> str:
    """Start the dashboard (one engine of the library) inside `stack`; its URL."""
    from subscribers.client import DriftStreamClient
    from subscribers.dashboard.server import Dashboard, serve

    client = await stack.enter_async_context(
        DriftStreamClient(
            settings.network, nats_url=settings.nats_url.get_secret_value(), name="dashboard"
        )
    )
    runner, bound = await serve(Dashboard(client), host, port)
    stack.push_async_callback(runner.cleanup)
    return f"http://{host}:{bound}/"
