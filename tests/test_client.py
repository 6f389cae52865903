"""The engine library against a real streamer, nats-server and localnet (spot markets:
against values a real Publisher wrote; end to end in test_spot_e2e.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys

import pytest
from nats.aio.client import Client

from localnet import MarketPatch
from localnet.server import LocalnetServer
from schemas import StreamerState, bucket_specs
from streamer.buckets import ensure_buckets
from streamer.fence_stream import JetStreamFence
from streamer.nats_server import NatsServer
from streamer.publisher import Publisher
from streamer.source import SourceSnapshot
from subscribers.client import Accepted, ApiError, DriftStreamClient
from tests.drift_clients import feed_subscribed, wait_until
from tests.factories import funding_rate
from tests.fixtures_streamer import StartStreamer
from tests.test_publisher import TTLS, spot_state


def _client(server: NatsServer, name: str) -> DriftStreamClient:
    return DriftStreamClient("local", nats_url=server.url, name=name, presence_ttl_s=2)


async def test_engine_reads_watches_and_requests(
    start_streamer: StartStreamer, fresh_nats: NatsServer, localnet: LocalnetServer
) -> None:
    """A first engine starts the DriftClient; a second one has last values on its first
    call; watch_funding and watch_market give last values then live updates; api errors
    are ApiError."""
    app = await start_streamer()
    async with _client(fresh_nats, "first") as first:
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
        await wait_until(lambda: feed_subscribed(localnet))
        await wait_until(lambda: len(first._funding.cache._entries) == 3)  # type: ignore[union-attr]
        async with _client(fresh_nats, "second") as second:
            sol = await second.funding("SOL-PERP")  # no waiting: the mirror loaded on connect
            assert sol is not None
            assert sol.symbol == "SOL-PERP"
            assert (await second.funding(1)) is not None  # by index, via the market list
            assert (await second.market("eth-perp")) is not None
            assert await second.funding("NOPE-PERP") is None  # unknown: None, not KeyError
            assert await second.funding("SOL.PERP") is None  # malformed: None
            assert set(await second.funding_all()) == {"SOL-PERP", "BTC-PERP", "ETH-PERP"}
            assert second.stats.cache["drift_funding"].hits >= 2
            assert second.stats.cache["drift_funding"].misses >= 1  # the unknown market

            updates = second.watch_funding(["BTC-PERP"])
            assert (await anext(updates)).symbol == "BTC-PERP"  # the last value first
            localnet.markets.apply(MarketPatch(symbol="BTC-PERP", last_funding_rate=-123_456))
            while (await asyncio.wait_for(anext(updates), 10)).last_funding_rate != -123_456:
                pass
            await updates.aclose()

            prices = second.watch_market(["ETH-PERP"])
            assert (await anext(prices)).symbol == "ETH-PERP"  # the last value first
            localnet.markets.apply(MarketPatch(symbol="ETH-PERP", oracle_price=3_333_000_000))
            while (await asyncio.wait_for(anext(prices), 10)).oracle_price_raw != 3_333_000_000:
                pass
            await prices.aclose()

            status = await second.request_status()
            assert status.consumers == 2
            assert (await second.request_funding("SOL-PERP")).symbol == "SOL-PERP"
            with pytest.raises(ApiError) as info:
                await second.request_funding("NOPE-PERP")
            assert info.value.code == 404


async def test_invalid_values_are_skipped(
    start_streamer: StartStreamer, fresh_nats: NatsServer, client: Client
) -> None:
    """A value that fails validation is logged, counted and skipped; others still read."""
    await start_streamer()
    async with _client(fresh_nats, "engine") as engine:
        kv = await client.jetstream().key_value("drift_funding")
        await kv.put("local.FAKE-PERP", b'{"not": "a funding rate"}')
        await wait_until(lambda: engine.stats.invalid >= 1)
        assert await engine.funding("FAKE-PERP") is None


async def test_live_values_keep_stream_order(fresh_nats: NatsServer, client: Client) -> None:
    """Live values arrive on the republished subject: an older stream sequence never
    replaces a newer value, and a message without KV headers is counted and skipped."""
    async with _client(fresh_nats, "engine") as engine:
        updates = engine.watch_funding(["SOL-PERP"])

        async def send(seq: int, rate: int, headers: bool = True) -> None:
            value = funding_rate("SOL-PERP", 0, last_funding_rate=rate)
            kv_headers = {
                "Nats-Subject": "$KV.drift_funding.local.SOL-PERP",
                "Nats-Sequence": str(seq),
                "Nats-Time-Stamp": "2026-11-24T16:15:22.744702492Z",
            }
            await client.publish(
                "drift.local.funding.SOL-PERP",
                value.model_dump_json().encode(),
                headers=kv_headers if headers else None,
            )

        await send(10, 10)
        assert (await asyncio.wait_for(anext(updates), 5)).last_funding_rate == 10
        await send(5, 5)  # older: ignored
        await send(11, 11, headers=False)  # no KV headers: skipped
        await send(12, 12)
        assert (await asyncio.wait_for(anext(updates), 5)).last_funding_rate == 12
        assert engine.stats.invalid == 1
        await updates.aclose()


async def publisher_on(client: Client, epoch: int = 1) -> Publisher:
    """A real Publisher for `local` on the buckets of `client`'s server (created here),
    its write fence raised for `epoch`."""
    kvs = await ensure_buckets(client.jetstream(), bucket_specs())
    publisher = Publisher({b: JetStreamFence(kvs[b]) for b in TTLS}, "local", TTLS)

    async def holds() -> bool:
        return True

    await publisher.fence(epoch, "test", holds)
    return publisher


SPOTS = (
    spot_state(0, "USDC"),
    spot_state(3, "wBTC", decimals=8, oracle_price=97_000_000_000),
    spot_state(6, "jitoSOL", decimals=9, oracle_price=180_000_000),
)


async def test_engine_reads_and_watches_spot_markets(
    fresh_nats: NatsServer, client: Client
) -> None:
    """Spot markets a Publisher wrote: the engine has them on connect, by symbol in any
    case or by index (None for unknown or malformed ids), equal to what was published;
    watch_spot gives the last value, then only the wanted market's updates."""
    publisher = await publisher_on(client)
    await publisher.publish(SourceSnapshot(slot=1, markets=(), spots=SPOTS), epoch=1)
    async with _client(fresh_nats, "spot-engine") as engine:
        spots = await engine.spots()
        assert sorted(spots) == ["USDC", "jitoSOL", "wBTC"]
        assert spots["wBTC"] == publisher.find_spot("wBTC")
        for market, symbol in (
            ("USDC", "USDC"),
            ("usdc", "USDC"),
            ("WBTC", "wBTC"),
            ("JitoSol", "jitoSOL"),
            (3, "wBTC"),
            ("6", "jitoSOL"),
            (0, "USDC"),
        ):
            found = await engine.spot(market)
            assert found is not None, market
            assert found.symbol == symbol
        unknowns: tuple[str | int, ...] = (
            "NOPE",
            "w.BTC",
            "",
            99,
            "99",
            "\u00b2",
            "9" * 5000,
            True,
        )
        for unknown in unknowns:
            assert await engine.spot(unknown) is None
        assert await engine.funding("USDC") is None  # perps and spots do not mix
        assert engine.stats.cache["drift_spot"].hits >= 7

        updates = engine.watch_spot(["JITOSOL"])
        first = await asyncio.wait_for(anext(updates), 5)
        assert (first.symbol, first.deposit_rate_raw) == ("jitoSOL", 35_000)
        usdc = dataclasses.replace(SPOTS[0], deposit_rate=1)
        jito = dataclasses.replace(SPOTS[2], deposit_rate=2)
        for state in (usdc, jito):  # one pass each: USDC's update comes first
            await publisher.publish(
                SourceSnapshot(slot=2, markets=(), spots=(state, *SPOTS[1:2])), epoch=1
            )
        update = await asyncio.wait_for(anext(updates), 5)
        assert (update.symbol, update.deposit_rate_raw) == ("jitoSOL", 2)
        await updates.aclose()
        changed = await engine.spot("usdc")
        assert changed is not None
        assert changed.deposit_rate_raw == 1
        with pytest.raises(ValueError, match="invalid spot market symbol"):
            await anext(engine.watch_spot(["w.BTC"]))


def test_the_library_never_imports_driftpy() -> None:
    """Importing the engine library and the adapter loads no driftpy (engines stay small)."""
    code = (
        "import sys, subscribers, subscribers.funding_table, subscribers.examples.funding_engine; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('driftpy', 'solana', 'solders', 'anchorpy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.timeout(60)
async def test_funding_table_shows_every_market(
    start_streamer: StartStreamer, fresh_nats: NatsServer
) -> None:
    """`drift-stream funding --once` (a first consumer) prints every market's row."""
    await start_streamer()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamer.cli",
        "funding",
        "--once",
        "--network",
        "local",
        "--nats-url",
        fresh_nats.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 45)
    text = out.decode()
    assert proc.returncode == 0
    assert "Drift funding (local)" in text
    for symbol in ("SOL-PERP", "BTC-PERP", "ETH-PERP"):
        assert symbol in text


def test_public_api_is_pinned() -> None:
    """The names engines import from `subscribers` (changing them breaks engines)."""
    import subscribers

    assert subscribers.__all__ == [
        "Accepted",
        "ApiError",
        "AuthenticationError",
        "BucketUnavailableError",
        "CacheManager",
        "CacheStats",
        "ClientStats",
        "DriftAdapter",
        "DriftStreamClient",
        "DriftStreamError",
        "EngineIdentityError",
        "Presence",
    ]


async def test_a_tap_sees_the_first_load_and_every_update(
    fresh_nats: NatsServer, client: Client
) -> None:
    """`tap=` sees each value of the first load with its stream sequence and write time;
    `tap()` after connecting sees only what comes next; untapping stops it."""
    publisher = await publisher_on(client)
    await publisher.publish(SourceSnapshot(slot=1, markets=(), spots=SPOTS), epoch=1)
    first: list[Accepted] = []
    engine = DriftStreamClient("local", nats_url=fresh_nats.url, name="tapped", tap=first.append)
    async with engine:
        spot_kv = await client.jetstream().key_value("drift_spot")
        stored = {k: (await spot_kv.get(k)).revision for k in ("local.USDC", "local.wBTC")}
        loaded = {a.key: a.seq for a in first if a.bucket == "drift_spot"}
        assert {k: loaded[k] for k in stored} == stored
        assert all(a.written_at is not None and a.written_at <= a.received_at for a in first)
        later: list[Accepted] = []
        untap = engine.tap(later.append)
        changed = dataclasses.replace(SPOTS[0], borrow_rate=70_000)
        await publisher.publish(SourceSnapshot(slot=2, markets=(), spots=(changed,)), epoch=1)
        await wait_until(lambda: any(a.key == "local.USDC" for a in later))
        assert [a.key for a in later] == ["local.USDC"]
        untap()
        again = dataclasses.replace(SPOTS[0], borrow_rate=80_000)
        await publisher.publish(SourceSnapshot(slot=3, markets=(), spots=(again,)), epoch=1)
        await wait_until(lambda: [a.key for a in first].count("local.USDC") == 3)
        assert len(later) == 1
