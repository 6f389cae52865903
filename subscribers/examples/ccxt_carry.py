"""A CCXT-style carry bot: Drift's perp markets ranked by annualized funding.

    python -m subscribers.examples.ccxt_carry --network local --once

Each market comes with the side that earns its funding (longs pay shorts when the rate
is positive). Written against CCXT's unified funding API (`subscribers.ccxt.DriftExchange`, used as
one uses `ccxt.pro.binance()`), so the same ranking code runs on any CCXT exchange's
`fetch_funding_rates()`. Without `--once` it reprints the ranking whenever funding
changed, at most every `--every` seconds, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence

from subscribers.ccxt import CcxtFundingRate, DriftExchange, iso8601
from subscribers.ccxt.structures import milliseconds
from subscribers.errors import DriftStreamError

__all__ = ["Carry", "main", "parser", "rank", "render", "run"]

_HOURS_PER_YEAR = 24 * 365.25
Carry = tuple[str, float, str, CcxtFundingRate]
"""(CCXT symbol, annualized funding in percent, the side that earns it, the rate)."""


def _periods_per_year(interval: str | None) -> float:
    """How often a year pays funding at CCXT's `interval` ("1h", "8h"; hourly if unknown)."""
    if interval and interval.endswith("h") and interval[:-1].isdigit() and int(interval[:-1]):
        return _HOURS_PER_YEAR / int(interval[:-1])
    return _HOURS_PER_YEAR


def _side(rate: float) -> str:
    """Who is paid: longs pay shorts when the rate is positive."""
    return "shorts earn" if rate > 0 else "longs earn" if rate < 0 else "nobody earns"


def rank(rates: Mapping[str, CcxtFundingRate]) -> list[Carry]:
    """Markets by |annualized fundingRate|, largest first (those with a rate)."""
    carries = [
        (symbol, rate * _periods_per_year(r["interval"]) * 100, _side(rate), r)
        for symbol, r in rates.items()
        if (rate := r["fundingRate"]) is not None
    ]
    return sorted(carries, key=lambda c: abs(c[1]), reverse=True)


def render(carries: Sequence[Carry], *, network: str, top: int, now: float) -> str:
    """The ranking as text: a header line, then one line per market (at most `top`)."""
    lines = [
        f"Drift funding carry ({network}) at {iso8601(milliseconds(now))}:"
        f" {len(carries)} markets, best first"
    ]
    shown = carries[:top]
    width = max((len(symbol) for symbol, *_ in shown), default=0)  # names whole, aligned
    for symbol, annual_pct, side, r in shown:
        hourly = (r["fundingRate"] or 0.0) * 100
        lines.append(
            f"  {symbol:<{width}} {annual_pct:+9.2f} %/yr  {side:<12}"
            f"  ({hourly:+.6f} %/{r['interval']}, settles {r['fundingDatetime']})"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    """Print the ranking (once, or on every change until stopped); the exit code."""
    async with DriftExchange(
        network=args.network, nats_url=args.nats_url, name="ccxt-carry", timeout=args.timeout
    ) as drift:
        while True:
            carries = rank(await drift.fetch_funding_rates())
            if not carries:
                print("ccxt_carry: no live funding from the streamer", file=sys.stderr)
                return 1
            print(render(carries, network=args.network, top=args.top, now=time.time()), flush=True)
            if args.once:
                return 0
            await asyncio.sleep(args.every)
            await drift.watch_funding_rates()  # at once if anything changed meanwhile


def parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--network", default="mainnet", choices=("mainnet", "devnet", "local"))
    parser.add_argument(
        "--nats-url",
        default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        help="NATS (default: $NATS_URL)",
    )
    parser.add_argument("--once", action="store_true", help="print the ranking once and exit")
    parser.add_argument("--top", type=int, default=10, help="markets to show")
    parser.add_argument(
        "--every", type=float, default=5.0, help="seconds at least between two rankings"
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=10_000,
        help="CCXT's timeout: ms to wait for NATS and the first values",
    )
    parser.add_argument("--verbose", action="store_true", help="log the library's warnings")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run until done or Ctrl-C (exit 130); a connection problem is one line, exit 1."""
    args = parser().parse_args(argv)
    # The library logs every NATS retry; this bot says what went wrong in one line.
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    except DriftStreamError as exc:  # NATS unreachable or refusing, no streamer...
        print(f"ccxt_carry: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
