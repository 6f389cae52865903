"""The dashboard server over HTTP: the page, the snapshot and the live event stream
(the page itself in a browser: test_dashboard_browser.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import aiohttp
import pytest
from nats.aio.client import Client

from localnet import MarketPatch
from localnet.server import LocalnetServer
from schemas import StreamerState, encode
from schemas.buckets import FUNDING_BUCKET, HISTORY_STREAM, bucket_specs, history_stream
from streamer.buckets import ensure_bucket, ensure_stream
from streamer.nats_server import NatsServer
from streamer.source import SourceSnapshot
from subscribers.client import DriftStreamClient
from subscribers.dashboard.server import Dashboard, read_history, serve
from tests.conftest import ConnectNats
from tests.drift_clients import feed_subscribed, wait_until, wait_until_async
from tests.factories import funding_rate
from tests.fixtures_streamer import StartStreamer
from tests.test_client import SPOTS, publisher_on


async def test_page_snapshot_and_live_events(
    start_streamer: StartStreamer, fresh_nats: NatsServer, localnet: LocalnetServer
) -> None:
    """The page loads; the snapshot has every market at once; a localnet change arrives
    on /events as a funding event."""
    app = await start_streamer()
    async with DriftStreamClient(
        "local", nats_url=fresh_nats.url, name="dashboard", presence_ttl_s=2
    ) as client:
        runner, port = await serve(Dashboard(client, status_interval_s=0.2), "127.0.0.1", 0)
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
            await wait_until(lambda: feed_subscribed(localnet))
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/") as resp:
                    page = await resp.text()
                assert resp.status == 200
                assert "Drift Funding Engine" in page
                assert 'EventSource("events")' in page

                async def snapshot() -> dict[str, object]:
                    async with http.get(base + "/api/snapshot") as r:
                        data: dict[str, object] = await r.json()
                        return data

                for _ in range(200):
                    snap = await snapshot()
                    if len(snap["markets"]) == 3:  # type: ignore[arg-type]
                        break
                    await asyncio.sleep(0.02)
                symbols = [m["symbol"] for m in snap["markets"]]  # type: ignore[attr-defined]
                assert symbols == ["SOL-PERP", "BTC-PERP", "ETH-PERP"]
                assert snap["markets"][0]["oracle_price"] is not None  # type: ignore[index]

                async with http.get(base + "/events") as stream:
                    assert stream.headers["Content-Type"] == "text/event-stream"
                    await stream.content.readline()  # ": connected"
                    localnet.markets.apply(
                        MarketPatch(symbol="ETH-PERP", last_funding_rate=-55_555)
                    )
                    async with asyncio.timeout(10):
                        while True:
                            line = (await stream.content.readline()).decode()
                            if line.startswith("data:") and '"ETH-PERP"' in line:
                                row = json.loads(line[5:])
                                if row["last_funding_rate"] == -55_555:
                                    break
                    assert row["status"] == "active"
        finally:
            await runner.cleanup()


async def test_history_endpoint_returns_the_funding_series(
    start_streamer: StartStreamer, fresh_nats: NatsServer, localnet: LocalnetServer
) -> None:
    """The history stream keeps every published FundingRate; /api/history returns the
    market's series oldest first, ending at the newest value; bad input is a 400."""
    app = await start_streamer()
    async with DriftStreamClient(
        "local", nats_url=fresh_nats.url, name="dash", presence_ttl_s=2
    ) as client:
        runner, port = await serve(Dashboard(client), "127.0.0.1", 0)
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
            await wait_until(lambda: feed_subscribed(localnet))
            # 0.5 % and then 0.25 % an hour at a 150 USD TWAP
            for rate in (750_000_000, 375_000_000):
                localnet.markets.apply(
                    MarketPatch(
                        symbol="SOL-PERP",
                        last_funding_rate=rate,
                        last_funding_oracle_twap=150_000_000,
                    )
                )
                await wait_until(lambda r=rate: _published(client, r), timeout=10)  # type: ignore[misc]
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/api/history?symbol=sol-perp&hours=1") as resp:
                    body = await resp.json()
                async with http.get(base + "/api/history?symbol=SOL.PERP") as bad:
                    assert bad.status == 400
            values = [v for _, v in body["points"]]
            assert body["symbol"] == "SOL-PERP"
            assert 0.5 in [round(v, 9) for v in values]
            assert round(values[-1], 9) == 0.25
            times = [t for t, _ in body["points"]]
            assert times == sorted(times)
        finally:
            await runner.cleanup()


async def test_history_reads_past_a_thousand_messages(
    fresh_nats: NatsServer, connect_nats: ConnectNats
) -> None:
    """A market's history of 2500 values: the chart ends at the newest (a consumer
    waiting for acks stopped at the 1000th)."""
    nc = await connect_nats(fresh_nats.url)
    js = nc.jetstream()
    # The history stream sources the bucket, which keeps one value per key: written back
    # to back, values are replaced before they are sourced (a funding rate changes once
    # an hour). So here into a bucket keeping 64 per key, 50 at a time, each batch
    # sourced before the next (on a busy machine sourcing runs far behind the writes).
    spec = dataclasses.replace(bucket_specs()[FUNDING_BUCKET], history=64)
    kv = await ensure_bucket(js, spec)
    await ensure_stream(js, history_stream())
    written = 0

    async def sourced() -> bool | None:
        return True if (await js.stream_info(HISTORY_STREAM)).state.messages == written else None

    for i in range(2500):
        await kv.put("local.SOL-PERP", encode(funding_rate(last_funding_rate=1_000_000 + i)))
        written += 1
        if written % 50 == 0:
            await wait_until_async(sourced, within=30)
    newest = funding_rate(last_funding_rate=1_000_000 + 2499)
    async with DriftStreamClient("local", nats_url=fresh_nats.url, name="dash") as client:
        points = await read_history(client, "SOL-PERP", hours=1)
    assert newest.hourly_rate_pct is not None
    assert points[-1][1] == newest.hourly_rate_pct


def _published(client: DriftStreamClient, rate: int) -> bool:
    assert client._funding is not None
    entry = client._funding.cache._entries.get("local.SOL-PERP")
    return entry is not None and entry.value.last_funding_rate == rate


async def test_snapshot_and_events_carry_spot_markets(
    fresh_nats: NatsServer, client: Client
) -> None:
    """Spot markets in drift_spot are in the snapshot (by index, with the bucket's TTL)
    and each update arrives on /events as a spot event."""
    publisher = await publisher_on(client)
    await publisher.publish(SourceSnapshot(slot=1, markets=(), spots=SPOTS), epoch=1)
    async with DriftStreamClient(
        "local", nats_url=fresh_nats.url, name="dashboard", presence_ttl_s=2
    ) as engine:
        runner, port = await serve(Dashboard(engine, status_interval_s=0.2), "127.0.0.1", 0)
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/api/snapshot") as resp:
                    snap = await resp.json()
                assert [s["symbol"] for s in snap["spots"]] == ["USDC", "wBTC", "jitoSOL"]
                assert snap["spot_ttl_s"] == 30
                assert snap["spots"][1]["oracle_price"] == 97_000.0
                async with http.get(base + "/events") as stream:
                    await stream.content.readline()  # ": connected"
                    changed = dataclasses.replace(SPOTS[2], borrow_rate=123_456)
                    await publisher.publish(
                        SourceSnapshot(slot=2, markets=(), spots=(changed,)), epoch=1
                    )
                    async with asyncio.timeout(10):
                        kind = ""
                        while True:
                            line = (await stream.content.readline()).decode()
                            if line.startswith("event:"):
                                kind = line[6:].strip()
                            elif line.startswith("data:") and kind == "spot":
                                row = json.loads(line[5:])
                                if row["borrow_rate_raw"] == 123_456:
                                    break
                    assert row["symbol"] == "jitoSOL"
                    assert row["borrow_apr_pct"] == pytest.approx(12.3456)
        finally:
            await runner.cleanup()
