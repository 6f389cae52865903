"""`drift-stream funding`: a live terminal table of every market's funding and prices.

Reads the engine library's mirror (no RPC, no driftpy); redraws every `--refresh`
seconds. `--once` prints the table once and exits (for scripts and tests).
"""

from __future__ import annotations

import asyncio
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from schemas import FundingRate, MarketSnapshot
from schemas.subjects import Network
from subscribers.client import DriftStreamClient

__all__ = ["render", "run"]


def _pct(value: float | None, digits: int = 5) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:,.6g}"


def render(
    funding: dict[str, FundingRate], prices: dict[str, MarketSnapshot], *, network: str
) -> Table:
    """The table, markets by |annualized funding|, largest first."""
    table = Table(title=f"Drift funding ({network}) at {time.strftime('%H:%M:%S')}")
    for name in (
        "market",
        "hourly %",
        "annual %",
        "pred long %",
        "pred short %",
        "24h avg %",
        "oracle",
        "mark",
        "open interest",
    ):
        table.add_column(name, justify="left" if name == "market" else "right")
    rows = sorted(funding.values(), key=lambda f: abs(f.annualized_rate_pct or 0), reverse=True)
    for f in rows:
        snap = prices.get(f.symbol)
        table.add_row(
            f.symbol,
            _pct(f.hourly_rate_pct),
            _pct(f.annualized_rate_pct, 2),
            _pct(f.predicted_long_hourly_pct),
            _pct(f.predicted_short_hourly_pct),
            _pct(f.avg_24h_hourly_rate_pct),
            _price(snap.oracle_price if snap else None),
            _price(snap.mark_price if snap else None),
            _price(snap.open_interest if snap else None),
        )
    return table


async def _prices(client: DriftStreamClient, symbols: list[str]) -> dict[str, MarketSnapshot]:
    out = {}
    for symbol in symbols:
        snap = await client.market(symbol)
        if snap is not None:
            out[symbol] = snap
    return out


async def run(
    network: Network,
    nats_url: str,
    *,
    refresh_s: float = 1.0,
    once: bool = False,
    console: Console | None = None,
) -> None:
    console = console or Console()
    async with DriftStreamClient(network, nats_url=nats_url, name="funding-table") as client:
        if once:
            # the DriftClient starts with this first consumer: wait for data, not forever
            for _ in range(200):
                if await client.funding_all():
                    break
                await asyncio.sleep(0.05)
            funding = await client.funding_all()
            console.print(render(funding, await _prices(client, list(funding)), network=network))
            return
        with Live(console=console, auto_refresh=False) as live:
            while True:
                funding = await client.funding_all()
                live.update(
                    render(funding, await _prices(client, list(funding)), network=network),
                    refresh=True,
                )
                await asyncio.sleep(refresh_s)
