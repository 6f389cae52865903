"""A funding-rate engine: ranks markets by annualized funding and flags the extremes.

    python -m subscribers.examples.funding_engine --network local --threshold 10

It reads through `DriftAdapter` (the streamer by default; `--legacy --rpc-url URL`
opens a DriftClient of its own, as engines did before the streamer), waits until it has
funding for `--expect` markets or `--timeout` passes, and prints one JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from schemas import FundingRate
from subscribers.adapter import DriftAdapter

__all__ = ["EngineReport", "direct_client", "direct_markets", "parser", "rank", "run"]


@dataclass
class EngineReport:
    """What one engine run saw."""

    path: str
    markets: int = 0
    with_funding: int = 0
    none: int = 0
    errors: list[str] = field(default_factory=list)
    first_value_ms: float | None = None
    top: list[tuple[str, float]] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)


def rank(
    rates: list[FundingRate], threshold_pct: float
) -> tuple[list[tuple[str, float]], list[str]]:
    """Markets by |annualized funding|, largest first, and those over the threshold."""
    known = [(r.symbol, r.annualized_rate_pct) for r in rates if r.annualized_rate_pct is not None]
    ordered = sorted(known, key=lambda item: abs(item[1]), reverse=True)
    return ordered, [symbol for symbol, pct in ordered if abs(pct) >= threshold_pct]


async def run(
    adapter: DriftAdapter, *, expect: int, timeout_s: float, threshold_pct: float
) -> EngineReport:
    report = EngineReport(path="streamer" if adapter._using_singleton else "legacy")
    started = time.perf_counter()
    try:
        await adapter.connect()
    except Exception as exc:  # the legacy path fails here under a 429 storm
        report.errors.append(f"connect: {type(exc).__name__}: {str(exc)[:120]}")
        return report
    try:
        deadline = time.monotonic() + timeout_s
        rates: list[FundingRate] = []
        while True:
            markets = await adapter.get_all_perp_markets()
            rates = []
            report.none = 0
            for info in markets:
                try:
                    rate = await adapter.get_funding_rate(info.symbol)
                except KeyError as exc:  # what unsubscribed markets raised before
                    report.errors.append(f"KeyError {exc}")
                    rate = None
                if rate is None:
                    report.none += 1
                else:
                    rates.append(rate)
                    if report.first_value_ms is None:
                        report.first_value_ms = (time.perf_counter() - started) * 1000
            report.markets = len(markets)
            if len(rates) >= expect or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        report.with_funding = len(rates)
        ordered, report.flagged = rank(rates, threshold_pct)
        report.top = ordered[:5]
    finally:
        await adapter.disconnect()
    return report


def direct_markets() -> list[Any]:
    """The mainnet perp market configs a pre-streamer engine subscribed to by index."""
    from driftpy.constants.perp_markets import mainnet_perp_market_configs

    return list(mainnet_perp_market_configs)


def direct_client(rpc_url: str) -> Any:
    """A DriftClient the pre-streamer way (not yet subscribed): every perp market and
    its oracle by index, one websocket and one initial read each. driftpy is imported
    here only: the library itself never imports it."""
    from driftpy.account_subscription_config import AccountSubscriptionConfig
    from driftpy.drift_client import DriftClient
    from driftpy.types import OracleInfo
    from solana.rpc.async_api import AsyncClient
    from solders.keypair import Keypair

    configs = direct_markets()
    return DriftClient(
        AsyncClient(rpc_url),
        Keypair(),
        env="mainnet",
        account_subscription=AccountSubscriptionConfig("websocket"),
        perp_market_indexes=[c.market_index for c in configs],
        spot_market_indexes=[0],
        oracle_infos=[OracleInfo(c.oracle, c.oracle_source) for c in configs],
        sub_account_ids=[],
    )


async def run_direct(rpc_url: str, *, timeout_s: float) -> EngineReport:
    """The way engines worked before the streamer: a DriftClient each, subscribed to
    every market by index (one websocket and one initial read per market and oracle),
    reading accounts that may be missing (KeyError) or not yet loaded (None)."""
    report = EngineReport(path="direct")
    client = direct_client(rpc_url)
    connection = client.connection
    configs = direct_markets()
    try:
        async with asyncio.timeout(timeout_s):
            await client.subscribe()
    except Exception as exc:  # 429s, refused sockets, timeouts: the old failure modes
        report.errors.append(f"subscribe: {type(exc).__name__}: {str(exc)[:120]}")
    report.markets = len(configs)
    for config in configs:
        try:
            market = client.get_perp_market_account(config.market_index)
        except KeyError as exc:
            report.errors.append(f"KeyError {exc}")
            continue
        if market is None:
            report.none += 1
        else:
            report.with_funding += 1
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            await client.unsubscribe()
    with contextlib.suppress(Exception):
        await connection.close()
    return report


async def _forever(args: argparse.Namespace) -> None:
    """One report per period through one adapter, until the process is stopped."""
    adapter = DriftAdapter(network=args.network, nats_url=args.nats_url, name="funding-engine")
    while True:
        report = await run(
            adapter, expect=args.expect, timeout_s=args.timeout, threshold_pct=args.threshold
        )
        print(json.dumps(asdict(report)), flush=True)
        await asyncio.sleep(args.every)


def parser() -> argparse.ArgumentParser:
    """The command line (compose.yaml's engine service is checked against it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="mainnet", choices=("mainnet", "devnet", "local"))
    parser.add_argument(
        "--nats-url",
        default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        help="NATS (default: $NATS_URL)",
    )
    parser.add_argument("--legacy", action="store_true", help="DriftAdapter's direct path")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="the pre-streamer way: a DriftClient per engine, every market by index",
    )
    parser.add_argument("--rpc-url", default=None)
    parser.add_argument("--expect", type=int, default=85, help="markets to wait for")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--threshold", type=float, default=10.0, help="annualized %% to flag")
    parser.add_argument(
        "--every",
        type=float,
        default=None,
        help="run again every this many seconds, until stopped (a long-running engine)",
    )
    return parser


def main() -> None:
    args = parser().parse_args()
    if args.every is not None:
        asyncio.run(_forever(args))
    if args.direct:
        report = asyncio.run(run_direct(args.rpc_url, timeout_s=args.timeout))
    else:
        adapter = DriftAdapter(
            network=args.network,
            nats_url=args.nats_url,
            rpc_url=args.rpc_url,
            using_singleton=not args.legacy,
            name="funding-engine",
        )
        report = asyncio.run(
            run(adapter, expect=args.expect, timeout_s=args.timeout, threshold_pct=args.threshold)
        )
    print(json.dumps(asdict(report)), flush=True)
    sys.exit(0 if report.with_funding >= args.expect else 1)


if __name__ == "__main__":
    main()
