"""`drift-stream funding`: a live terminal table of every market's funding and prices.

Reads the engine library's mirror (no RPC, no driftpy); redraws every `--refresh`
seconds. `--once` prints the table once and exits (for scripts and tests). Market names
are never cut: on a narrow terminal or pipe the least useful columns are left out
until the rest fits unwrapped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.console import Console
from rich.live import Live
from rich.measure import Measurement
from rich.table import Table

from schemas import FundingRate, MarketSnapshot
from schemas.subjects import Network
from subscribers.client import DriftStreamClient

__all__ = ["render", "run"]


def _pct(value: float | None, digits: int = 5) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:,.6g}"


Cell = Callable[[FundingRate, MarketSnapshot | None], str]
# Every column, in display order, with its rank: on a narrow console the highest ranks
# are left out first (the market name, ranked 0, always stays, whole).
_COLUMNS: tuple[tuple[str, int, Cell], ...] = (
    ("market", 0, lambda f, s: f.symbol),
    ("hourly %", 2, lambda f, s: _pct(f.hourly_rate_pct)),
    ("annual %", 1, lambda f, s: _pct(f.annualized_rate_pct, 2)),
    ("pred long %", 3, lambda f, s: _pct(f.predicted_long_hourly_pct)),
    ("pred short %", 4, lambda f, s: _pct(f.predicted_short_hourly_pct)),
    ("24h avg %", 7, lambda f, s: _pct(f.avg_24h_hourly_rate_pct)),
    ("oracle", 5, lambda f, s: _price(s.oracle_price if s else None)),
    ("mark", 6, lambda f, s: _price(s.mark_price if s else None)),
    ("open interest", 8, lambda f, s: _price(s.open_interest if s else None)),
)


def render(
    funding: dict[str, FundingRate],
    prices: dict[str, MarketSnapshot],
    *,
    network: str,
    console: Console | None = None,
) -> Table:
    """The table, markets by |annualized funding|, largest first; with a `console`, only
    the columns that fit its width without wrapping (by rank)."""
    rows = sorted(funding.values(), key=lambda f: abs(f.annualized_rate_pct or 0), reverse=True)
    columns = list(_COLUMNS)
    while True:
        table = _table(rows, prices, columns, network)
        if console is None or len(columns) == 1:
            return table
        unbounded = console.options.update_width(10_000)  # the table's natural width
        if Measurement.get(console, unbounded, table).maximum <= console.width:
            return table
        columns.remove(max(columns, key=lambda c: c[1]))


def _table(
    rows: list[FundingRate],
    prices: dict[str, MarketSnapshot],
    columns: list[tuple[str, int, Cell]],
    network: str,
) -> Table:
    table = Table(title=f"Drift funding ({network}) at {time.strftime('%H:%M:%S')}")
    for name, rank, _ in columns:
        table.add_column(name, justify="left" if rank == 0 else "right", no_wrap=True)
    for f in rows:
        snap = prices.get(f.symbol)
        table.add_row(*(cell(f, snap) for _, _, cell in columns))
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
            prices = await _prices(client, list(funding))
            console.print(render(funding, prices, network=network, console=console))
            return
        with Live(console=console, auto_refresh=False) as live:
            while True:
                funding = await client.funding_all()
                prices = await _prices(client, list(funding))
                live.update(render(funding, prices, network=network, console=console), refresh=True)
                await asyncio.sleep(refresh_s)
