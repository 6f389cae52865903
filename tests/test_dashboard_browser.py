"""The Funding Engine page in headless Chromium (Debian's chromium, driven by Playwright):
it loads, shows every market, follows a localnet change within seconds, marks a stale
market. Chromium is installed by `make` (see Makefile); a missing one fails the test."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from nats.aio.client import Client
from playwright.async_api import Browser, async_playwright

from localnet import MarketPatch
from localnet.server import LocalnetServer
from schemas import FundingRate, encode
from streamer.nats_server import NatsServer
from subscribers.client import DriftStreamClient
from subscribers.dashboard.server import Dashboard, serve
from tests.drift_clients import wait_until
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
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 500})
            await page.goto(f"http://127.0.0.1:{port}/")
            for symbol in ("SOL-PERP", "BTC-PERP", "ETH-PERP"):
                await page.wait_for_selector(f"#row-{symbol}", timeout=15_000)
            await page.wait_for_function(
                "document.getElementById('state').textContent === 'running'", timeout=15_000
            )

            await wait_until(lambda: localnet.stats_json()["subscriptions"]["program"] == 2)
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
            await page.close()
        finally:
            await runner.cleanup()
