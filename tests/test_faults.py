"""Faults the pipeline survives, each measured: nats-server crash and restart, localnet
faults (slow answers, refused connections, broken account data), a slow consumer, and
a thousand consumers. Everything on loopback; the figures print with `-s`.
"""

from __future__ import annotations

import asyncio
import time

import nats
import pytest
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from localnet import MarketPatch
from localnet.faults import FaultRequest
from localnet.server import LocalnetServer
from schemas import FundingRate, StreamerState, decode
from schemas.buckets import CONSUMERS_BUCKET, FUNDING_BUCKET
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from subscribers.client import DriftStreamClient
from subscribers.presence import Presence
from tests.drift_clients import feed_subscribed, wait_until
from tests.fixtures_streamer import StartStreamer


def _engine(server: NatsServer, name: str = "engine") -> DriftStreamClient:
    # reconnect against a slow RPC takes seconds: a generous request timeout
    return DriftStreamClient(
        "local", nats_url=server.url, name=name, presence_ttl_s=2, request_timeout_s=30
    )


async def _next_rate(updates: object, rate: int, within: float) -> float:
    """Seconds until the watched market shows `rate` (at most `within` in all)."""
    started = time.perf_counter()
    async with asyncio.timeout(within):
        while True:
            value = await anext(updates)  # type: ignore[call-overload]
            if value.last_funding_rate == rate:
                return time.perf_counter() - started


async def _kv_value(kv: KeyValue, key: str) -> FundingRate | None:
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    return decode(FundingRate, entry.value or b"")


@pytest.mark.timeout(90)
async def test_nats_server_crash_and_restart(
    start_streamer: StartStreamer, fresh_nats: NatsServer, localnet: LocalnetServer
) -> None:
    """SIGKILL nats-server, restart it on its file store: the KV's last values are still
    there, the streamer and the engine reconnect, the engine's watches are re-created,
    and a new funding rate reaches the engine; the time to recover prints."""
    app = await start_streamer(lease_ttl=15, presence_ttl=15)
    async with _engine(fresh_nats) as engine:
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
        await wait_until(lambda: feed_subscribed(localnet))
        updates = engine.watch_funding(["BTC-PERP"])
        localnet.markets.apply(MarketPatch(symbol="BTC-PERP", last_funding_rate=-111))
        await _next_rate(updates, -111, 10)

        await fresh_nats.kill()
        await fresh_nats.restart()
        restarted = time.perf_counter()
        nc = await nats.connect(fresh_nats.url)
        kv = await nc.jetstream().key_value(FUNDING_BUCKET)
        survived = await _kv_value(kv, "local.BTC-PERP")
        assert survived is not None
        assert survived.last_funding_rate == -111

        localnet.markets.apply(MarketPatch(symbol="BTC-PERP", last_funding_rate=-222))
        await _next_rate(updates, -222, 30)
        recovered = time.perf_counter() - restarted
        await updates.aclose()
        assert engine.reconnects >= 1
        status = await engine.request_status()
        assert status.state is StreamerState.RUNNING
        assert status.consumers == 1
        assert status.epoch == app.epoch  # the lease (15 s) outlived the outage
        await nc.close()
    print(f"\nnats-server restart -> engine has a new value: {recovered:.2f} s")


async def _fault(localnet: LocalnetServer, **faults: object) -> None:
    await localnet.set_faults(FaultRequest.model_validate(faults))


@pytest.mark.timeout(90)
async def test_localnet_faults_degrade_then_recover(
    start_streamer: StartStreamer, fresh_nats: NatsServer, localnet: LocalnetServer
) -> None:
    """Slow answers, then refused connections with dropped websockets: the streamer
    says degraded (status and last_error), its values expire instead of lying, and it
    recovers by itself once the faults clear; then broken account data is skipped
    without a crash."""
    app = await start_streamer(cache_ttl_funding=3, cache_ttl_price=3)
    async with _engine(fresh_nats) as engine:
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
        await wait_until(lambda: feed_subscribed(localnet))
        await wait_until(
            lambda: engine._funding is not None and bool(engine._funding.cache._entries)
        )

        # slow answers alone: 300 ms per call is still a working feed
        await _fault(localnet, latency_ms=300)
        assert (await engine.request_reconnect()).ok
        assert app.state is StreamerState.RUNNING

        # the RPC goes away: refused connections and dropped websockets
        await _fault(localnet, refuse_connections=True, drop_websockets=True)
        await wait_until(lambda: app.state is StreamerState.DEGRADED, timeout=20)
        status = await engine.request_status()
        assert status.state is StreamerState.DEGRADED
        assert status.last_error
        # nothing refreshes the values: they expire (3 s) rather than go stale
        expired = time.perf_counter()
        while await engine.funding_all():  # the mirror drops values at KV write + TTL
            assert time.perf_counter() - expired < 15, "values outlived their TTL"
            await asyncio.sleep(0.1)
        assert await engine.funding("SOL-PERP") is None

        await _fault(localnet, clear=True)
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=45)
        updates = engine.watch_funding(["SOL-PERP"])
        assert (await asyncio.wait_for(anext(updates), 15)).symbol == "SOL-PERP"
        await updates.aclose()
        assert app.max_backoff_s <= app.settings.backoff_cap_s

        # broken account data on every answer: a decode error, degraded, no crash
        await _fault(localnet, corrupt_accounts=True)
        result = await engine.request_reconnect()
        assert not result.ok
        assert result.error
        await wait_until(lambda: app.state is StreamerState.DEGRADED, timeout=20)
        await _fault(localnet, clear=True)
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=45)
        assert (await engine.request_status()).state is StreamerState.RUNNING


async def test_slow_consumer_does_not_hold_up_others(
    start_streamer: StartStreamer, fresh_nats: NatsServer, localnet: LocalnetServer
) -> None:
    """An engine that never reads its watch queue does not stall the streamer or a
    second engine: updates keep reaching the fast one."""
    app = await start_streamer()
    async with _engine(fresh_nats, "slow") as slow, _engine(fresh_nats, "fast") as fast:
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
        await wait_until(lambda: feed_subscribed(localnet))
        stalled = slow.watch_funding()
        await anext(stalled)  # subscribed, then never read again
        updates = fast.watch_funding(["ETH-PERP"])
        for rate in range(1, 41):
            localnet.markets.apply(MarketPatch(symbol="ETH-PERP", last_funding_rate=rate * 10))
            await _next_rate(updates, rate * 10, 10)
        await updates.aclose()
        assert app.state is StreamerState.RUNNING
        assert (await slow.funding("ETH-PERP")) is not None  # reads still work
        await stalled.aclose()


@pytest.mark.timeout(120)
async def test_a_thousand_consumers(
    start_streamer: StartStreamer, fresh_nats: NatsServer, localnet: LocalnetServer
) -> None:
    """1000 consumers register (a heartbeat each, TTL/3): the streamer counts them
    all, one DriftClient serves them, and when they crash without release the count
    falls to 0 and the DriftClient is cleaned up. A heartbeat of a known consumer
    causes no recount (the presence watch is O(1) per beat)."""
    app: Streamer = await start_streamer(presence_ttl=3)
    n = 1000
    conns = [await nats.connect(fresh_nats.url) for _ in range(10)]
    kvs = [await c.jetstream().key_value(CONSUMERS_BUCKET) for c in conns]
    started = time.perf_counter()
    presences = [
        Presence(kvs[i % len(kvs)], "local", f"c{i:04d}", "load", ttl_s=3) for i in range(n)
    ]
    await asyncio.gather(*(p.__aenter__() for p in presences))
    counted = await wait_until(lambda: app.consumers == n, timeout=30)
    registered = time.perf_counter() - started
    await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
    await wait_until(lambda: feed_subscribed(localnet))
    assert feed_subscribed(localnet)  # one feed

    for p in presences:
        p._stop_heartbeat()  # a crash: no release
    # Expiry is silent: the streamer's recount (every TTL/3) lists 1000 keys, which on
    # a busy 2-core CI machine took over 30 s once; 60 s bounds it with room.
    await wait_until(lambda: app.consumers == 0, timeout=60)
    await wait_until(lambda: app.state is StreamerState.IDLE, timeout=15)
    await wait_until(lambda: localnet.stats_json()["ws_connections_open"] == 0, timeout=15)
    for c in conns:
        await c.close()
    print(f"\n{n} consumers registered and counted in {registered:.2f} s (counted {counted:.2f})")


@pytest.mark.timeout(180)
async def test_a_thousand_engines_past_the_servers_consumer_limit(
    start_streamer: StartStreamer, fresh_nats: NatsServer, localnet: LocalnetServer
) -> None:
    """1100 engines (full clients, 10 shared connections) connect: nats-server caps a
    stream at 1000 consumers, but engines hold none while running (live values on plain
    subscriptions; last values read with a consumer deleted at once), so every one
    loads, registers, and receives a new funding rate."""
    app = await start_streamer(presence_ttl=15)
    n = 1100
    conns = [await nats.connect(fresh_nats.url) for _ in range(10)]
    engines = [
        DriftStreamClient("local", nc=conns[i % len(conns)], name=f"e{i}", consumer_id=f"e{i:04d}")
        for i in range(n)
    ]
    try:
        started = time.perf_counter()
        for batch in range(0, n, 100):
            await asyncio.gather(*(e.connect() for e in engines[batch : batch + 100]))
        connected = time.perf_counter() - started
        await wait_until(lambda: app.consumers == n, timeout=30)
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
        await wait_until(lambda: feed_subscribed(localnet))
        localnet.markets.apply(MarketPatch(symbol="ETH-PERP", last_funding_rate=-31_337))
        started = time.perf_counter()

        def everyone_has_it() -> bool:
            funding = (e._funding.cache._entries.get("local.ETH-PERP") for e in engines)  # type: ignore[union-attr]
            return all(f is not None and f.value.last_funding_rate == -31_337 for f in funding)

        await wait_until(everyone_has_it, timeout=30)
        fanned = time.perf_counter() - started
    finally:
        await asyncio.gather(*(e.close() for e in engines), return_exceptions=True)
        for c in conns:
            await c.close()
    print(
        f"\n{n} engines connected in {connected:.2f} s; a funding change reached all of "
        f"them in {fanned * 1000:.0f} ms"
    )
