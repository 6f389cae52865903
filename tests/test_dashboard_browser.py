"""The Funding Engine page in headless Chromium (Debian's chromium, driven by Playwright):
it loads, shows every market, follows a localnet change within seconds, marks a stale
market; its Spot view and the funding settlement clock. Chromium is installed by `make`
(see Makefile); a missing one fails the test."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from nats.aio.client import Client
from playwright.async_api import Browser, Page, async_playwright

from localnet import MarketPatch
from localnet.server import LocalnetServer
from schemas import FundingRate, bucket_specs, encode
from streamer.buckets import ensure_buckets
from streamer.nats_server import NatsServer
from subscribers.client import DriftStreamClient
from subscribers.dashboard.server import Dashboard, serve
from tests.drift_clients import feed_subscribed, wait_until
from tests.factories import funding_rate, spot_market
from tests.fixtures_streamer import StartStreamer

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian chromium (no browser download: `playwright install` is not used)."""
    executable = shutil.which("chromium")
    assert executable, "chromium is missing: `make check` installs it (apt-get install chromium)"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.mark.timeout(90)
async def test_page_shows_markets_follows_changes_marks_stale(
    browser: Browser,
    start_streamer: StartStreamer,
    fresh_nats: NatsServer,
    localnet: LocalnetServer,
    client: Client,
    tmp_path: Path,
) -> None:
    """Every market shows; a funding change at localnet shows within seconds; a value
    nobody refreshes is marked stale."""
    await start_streamer()
    async with DriftStreamClient(
        "local", nats_url=fresh_nats.url, name="dashboard", presence_ttl_s=2
    ) as engine:
        runner, port = await serve(Dashboard(engine, status_interval_s=0.5), "127.0.0.1", 0)
        page = await browser.new_page(viewport={"width": 1400, "height": 500})
        try:
            await page.goto(f"http://127.0.0.1:{port}/")
            for symbol in ("SOL-PERP", "BTC-PERP", "ETH-PERP"):
                await page.wait_for_selector(f"#row-{symbol}", timeout=15_000)
            await page.wait_for_function(
                "document.getElementById('state').textContent === 'running'", timeout=15_000
            )

            await wait_until(lambda: feed_subscribed(localnet))
            # 1% an hour: 0.01 * 150 USD * 1e9 at a 150 USD TWAP
            started = time.perf_counter()
            localnet.markets.apply(
                MarketPatch(
                    symbol="SOL-PERP",
                    last_funding_rate=1_500_000_000,
                    last_funding_oracle_twap=150_000_000,
                )
            )
            await page.wait_for_function(
                "document.querySelector('#row-SOL-PERP').textContent.includes('1.00000')",
                timeout=10_000,
            )
            shown_after = time.perf_counter() - started
            assert shown_after < 10

            old = FundingRate.from_raw(
                network="local",
                slot=1,
                ts=time.time() - 600,
                market_index=99,
                symbol="OLD-PERP",
                last_funding_rate=1,
                last_funding_rate_ts=1,
                last_funding_oracle_twap=1_000_000,
                last_oracle_price_twap=1_000_000,
                last24h_avg_funding_rate=1,
                funding_period_s=3600,
                epoch=10**9,
            )
            kv = await client.jetstream().key_value("drift_funding")
            await kv.put("local.OLD-PERP", encode(old))
            await page.wait_for_selector("#row-OLD-PERP.stale", timeout=10_000)
            assert "(stale)" not in (await page.inner_text("#row-SOL-PERP"))

            await page.click("#row-SOL-PERP")  # its funding chart, from the history stream
            await page.wait_for_selector("#chart-svg polyline", timeout=10_000)
            line = await page.get_attribute("#chart-svg polyline", "points")
            assert line is not None
            assert len(line.split()) >= 2  # the value before and after the change

            await page.fill("#filter", "btc")
            await page.wait_for_function("document.querySelectorAll('#rows tr').length === 1")
            await page.fill("#filter", "")
            shot = Path(os.environ.get("DRIFT_STREAM_SCREENSHOT", tmp_path / "dashboard.png"))
            image = await page.screenshot(path=str(shot), full_page=True)
            assert len(image) > 10_000
        finally:
            await page.close()  # first: the server's cleanup waits for open streams
            await runner.cleanup()


def _clock_rate(symbol: str, index: int, *, last_ts: int, next_ts: int) -> FundingRate:
    """A fresh FundingRate whose funding settles at `next_ts` (last settled at `last_ts`)."""
    return funding_rate(
        symbol,
        index,
        epoch=1,
        last_funding_rate_ts=last_ts,
        next_funding_ts=next_ts,
        predicted_long=10,
        predicted_short=-10,
    )


async def _cell(page: Page, selector: str) -> str:
    return (await page.inner_text(selector)).strip()


async def _order(page: Page) -> list[str]:
    ids = await page.eval_on_selector_all("#spot-rows tr", "rows => rows.map(r => r.id)")
    return [i.removeprefix("spot-row-") for i in ids if i.removeprefix("spot-row-") in SPOT_SYMBOLS]


SPOT_SYMBOLS = ("wBTC", "jitoSOL", "PYUSD")


@pytest.mark.timeout(90)
async def test_spot_view_and_the_funding_clock(
    browser: Browser, fresh_nats: NatsServer, client: Client
) -> None:
    """The Spot view lists every spot market with its price, rates and pool sizes,
    sorts by a clicked column (again: the other way) and follows updates. On the
    funding view the predicted rate counts down to next_funding_ts ("settles in
    mm:ss"), says "funding update due" once it has passed, and counts down again when
    a newer settlement arrives. Time is driven by the values' timestamps, not by waiting."""
    js = client.jetstream()
    kvs = await ensure_buckets(js, bucket_specs())
    spot_kv, funding_kv = kvs["drift_spot"], kvs["drift_funding"]
    values = (
        spot_market("wBTC", 3, decimals=8, oracle_price=97_000_000_000, deposit_rate=1_000),
        spot_market("jitoSOL", 6, decimals=9, oracle_price=180_000_000, deposit_rate=60_000),
        spot_market("PYUSD", 22, oracle_price=999_800, deposit_rate=35_000),
    )
    for value in values:
        await spot_kv.put(f"local.{value.symbol}", encode(value))
    now = int(time.time())
    clocks = {
        "CLOCK-PERP": _clock_rate("CLOCK-PERP", 90, last_ts=now - 3510, next_ts=now + 90),
        "DUE-PERP": _clock_rate("DUE-PERP", 91, last_ts=now - 3605, next_ts=now - 5),
        "SOON-PERP": _clock_rate("SOON-PERP", 92, last_ts=now - 3597, next_ts=now + 3),
    }
    for symbol, rate in clocks.items():
        await funding_kv.put(f"local.{symbol}", encode(rate))
    async with DriftStreamClient(
        "local", nats_url=fresh_nats.url, name="dashboard", presence_ttl_s=2
    ) as engine:
        runner, port = await serve(Dashboard(engine, status_interval_s=0.5), "127.0.0.1", 0)
        page = await browser.new_page(viewport={"width": 1400, "height": 500})
        try:
            await page.goto(f"http://127.0.0.1:{port}/")
            await page.wait_for_selector("#row-CLOCK-PERP", timeout=15_000)
            shown = await _cell(page, "#row-CLOCK-PERP .next-funding")
            left = now + 90 - time.time()  # however long the page took to load
            match = re.fullmatch(r"settles in (\d\d):(\d\d)", shown)
            assert match is not None, shown
            assert left - 3 <= int(match[1]) * 60 + int(match[2]) <= left + 1, (shown, left)
            assert await _cell(page, "#row-DUE-PERP .next-funding") == "funding update due"
            assert (await _cell(page, "#row-SOON-PERP .next-funding")).startswith("settles in 00:0")
            await page.wait_for_function(  # the clock passes next_funding_ts
                "document.querySelector('#row-SOON-PERP .next-funding').textContent"
                " === 'funding update due'",
                timeout=10_000,
            )
            settled = _clock_rate("SOON-PERP", 92, last_ts=now + 3, next_ts=now + 3603)
            await funding_kv.put("local.SOON-PERP", encode(settled))  # a newer settlement
            await page.wait_for_function(
                "/^settles in (59|60):/.test("
                "document.querySelector('#row-SOON-PERP .next-funding').textContent)",
                timeout=10_000,
            )

            await page.click("#tab-spot")
            assert await page.is_hidden("#view-funding")
            for symbol in SPOT_SYMBOLS:
                await page.wait_for_selector(f"#spot-row-{symbol}", timeout=10_000)
            cells = await page.eval_on_selector_all(
                "#spot-row-wBTC td", "cells => cells.map(c => c.textContent)"
            )
            # symbol, oracle, deposit APR, borrow APR, utilization, deposits, borrows
            assert cells == [
                "wBTC",
                "97000.0",
                "0.10",
                "6.00",
                "60.00",
                "1,500,000.00",
                "900,000.00",
            ]
            assert "spot" in await page.evaluate("location.hash")

            await page.click("#spot-table th[data-key=deposit_apr_pct]")
            assert await _order(page) == ["jitoSOL", "PYUSD", "wBTC"]  # highest first
            await page.click("#spot-table th[data-key=deposit_apr_pct]")
            assert await _order(page) == ["wBTC", "PYUSD", "jitoSOL"]
            await page.click("#spot-table th[data-key=symbol]")
            assert await _order(page) == sorted(SPOT_SYMBOLS, key=str.casefold)

            update = spot_market("wBTC", 3, decimals=8, oracle_price=98_500_000_000)
            await spot_kv.put("local.wBTC", encode(update))
            await page.wait_for_function(
                "document.querySelector('#spot-row-wBTC').textContent.includes('98500.0')",
                timeout=10_000,
            )
            assert int(await _cell(page, "#spot-count")) >= 3
            await page.reload()  # the view is in the address: a reload stays on Spot
            await page.wait_for_selector("#spot-row-wBTC", timeout=10_000)
            assert await page.is_hidden("#view-funding")
        finally:
            await page.close()  # first: the server's cleanup waits for open streams
            await runner.cleanup()
