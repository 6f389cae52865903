"""`drift-stream localnet`: run localnet standalone until Ctrl-C.

`--snapshot DIR` serves a snapshot folder instead of a preset; its prices and funding
stay as captured unless `--simulate` is given too. Without `--snapshot`, `--simulate`
changes nothing: a preset simulates unless `--no-simulation`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from localnet.history import DEFAULT_MAX_VERSIONS, DEFAULT_WINDOW_SLOTS, HistoryConfig
from localnet.mm_oracle import DEFAULT_MM_ORACLE_SHARE
from localnet.presets import PRESETS, SYNTHETIC_MAX, preset
from localnet.providers import PROVIDERS
from localnet.server import LocalnetServer
from localnet.simulation import SimulationConfig

__all__ = ["add_arguments", "describe", "run", "server_options", "simulation_from_args"]


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _preset_name(name: str) -> str:
    try:
        preset(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name


def add_arguments(parser: argparse.ArgumentParser, *, port: int | None = 8899) -> None:
    """The localnet options, shared by `drift-stream localnet` and `drift-stream up`."""
    parser.add_argument(
        "--preset",
        type=_preset_name,
        default="mainnet",
        help=f"markets to serve: {', '.join(PRESETS)} or synthetic-N (N perp markets, up to "
        f"{SYNTHETIC_MAX}; default: mainnet, every Drift perp market)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=port,
        help="JSON-RPC port; the websocket is on port + 1 (default: %(default)s)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--slot-ms", type=float, default=400.0, help="slot clock period")
    parser.add_argument(
        "--price-interval",
        type=float,
        default=1.0,
        help="seconds between simulated oracle price steps",
    )
    parser.add_argument(
        "--funding-interval",
        type=float,
        default=60.0,
        help="seconds between simulated funding updates (on chain: 3600)",
    )
    parser.add_argument(
        "--no-simulation",
        action="store_true",
        help="keep prices and funding still (change them via /admin/market)",
    )
    parser.add_argument("--seed", type=int, default=0, help="simulation random seed")
    parser.add_argument(
        "--mm-oracle-share",
        type=_share,
        default=DEFAULT_MM_ORACLE_SHARE,
        help="about this share of perp markets get a market makers' oracle (default: %(default)s)",
    )
    parser.add_argument(
        "--history-slots",
        type=_positive,
        default=DEFAULT_WINDOW_SLOTS,
        help="slots of account history /admin/account can read (default: %(default)s)",
    )
    parser.add_argument(
        "--history-versions",
        type=_positive,
        default=DEFAULT_MAX_VERSIONS,
        help="account versions kept per account at most (default: %(default)s)",
    )
    parser.add_argument(
        "--provider",
        choices=list(PROVIDERS),
        default=None,
        help="behave like a kind of RPC provider (limits, refusals; docs/LOCALNET.md "
        '"Provider profiles"); /admin/faults can change it later',
    )
    parser.add_argument(
        "--snapshot",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve this snapshot folder (account files, manifest.json) instead of --preset",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="with --snapshot: move its prices and funding (a preset moves unless --no-simulation)",
    )


def simulation_from_args(args: argparse.Namespace) -> SimulationConfig | None:
    """The simulation the options ask for: a preset's unless --no-simulation; a
    snapshot's only with --simulate (and not --no-simulation)."""
    if args.no_simulation or (args.snapshot is not None and not args.simulate):
        return None
    return SimulationConfig(
        price_interval_s=args.price_interval,
        funding_interval_s=args.funding_interval,
        mm_oracle_share=args.mm_oracle_share,
        seed=args.seed,
    )


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """`LocalnetServer` keyword arguments from the options `add_arguments` adds."""
    return {
        "preset": args.preset,
        "host": args.host,
        "port": args.port or None,
        "slot_ms": args.slot_ms,
        "simulation": simulation_from_args(args),
        "mm_oracle_share": args.mm_oracle_share,
        "history": HistoryConfig(
            window_slots=args.history_slots, max_versions=args.history_versions
        ),
        "provider": args.provider,
        "snapshot": args.snapshot,
    }


def describe(server: LocalnetServer) -> str:
    """What the server serves, in one line: the preset or the snapshot, and the
    provider profile it plays, if any."""
    provider = server.faults.provider
    played = "" if provider is None else f"; provider {provider}"
    simulated = "simulated" if server.simulator is not None else "still"
    if server.snapshot is None:
        return (
            f"{len(server.markets.perps)} perp markets ({server.markets.preset.name} preset, "
            f"{simulated}){played}"
        )
    moving = (
        f"{simulated}: {len(server.markets.perps)} perp and {len(server.markets.spots)} "
        "spot markets"
        if server.simulator is not None
        else "as captured"
    )
    return f"{server.snapshot.describe()}; {moving}{played}"


async def run(args: argparse.Namespace) -> None:
    """Serve until cancelled (`drift-stream localnet` cancels it on SIGINT or SIGTERM),
    then stop cleanly."""
    server = LocalnetServer(**server_options(args))
    async with server:
        print(f"localnet: {describe(server)}")
        for warning in server.warnings:
            print(f"  warning: {warning}")
        print(f"  JSON-RPC   {server.url}")
        print(f"  websocket  {server.ws_url}")
        if args.provider is not None:
            print(f"  provider   {args.provider}  ({_fault_summary(server)})")
        print(f"  admin      {server.url}/admin/stats  (Ctrl-C stops)", flush=True)
        await asyncio.get_running_loop().create_future()  # until cancelled


def _fault_summary(server: LocalnetServer) -> str:
    """The provider's faults in force, as /admin/faults would set them."""
    fields = server.faults.model_dump(exclude_defaults=True, exclude={"provider"})
    return json.dumps(fields, separators=(",", ":"))
