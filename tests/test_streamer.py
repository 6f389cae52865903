"""The streamer end to end: real nats-server, real driftpy against localnet."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from localnet import FaultRequest, MarketPatch
from localnet.server import LocalnetServer
from schemas import FundingRate, MarketSnapshot, StreamerState, decode, fence_key
from schemas.buckets import CONSUMERS_BUCKET, FUNDING_BUCKET, MARKETS_BUCKET, PRICES_BUCKET
from schemas.subjects import Network
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers.client import DriftStreamClient
from subscribers.presence import Presence
from tests.drift_clients import feed_subscribed, wait_until, wait_until_async
from tests.fixtures_streamer import StartStreamer

NET: Network = "local"


@contextlib.asynccontextmanager
async def consumer(nc: Client, name: str = "engine-1", ttl_s: float = 2) -> AsyncIterator[Presence]:
    kv = await nc.jetstream().key_value(CONSUMERS_BUCKET)
    async with Presence(kv, NET, name, name, ttl_s=ttl_s) as presence:
        yield presence


async def _kv(nc: Client, bucket: str) -> KeyValue:
    return await nc.jetstream().key_value(bucket)


async def _value(kv: KeyValue, key: str) -> bytes | None:
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    return entry.value


async def _running(app: Streamer, localnet: LocalnetServer) -> None:
    """The streamer runs and its feed follows every account (the feed subscribes before
    its first read, so a change after this shows)."""
    await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=40)
    await wait_until(lambda: feed_subscribed(localnet), timeout=10)


async def _wait_leader(*apps: Streamer) -> Streamer:
    await wait_until(lambda: any(a.state is not StreamerState.STANDBY for a in apps), timeout=10)
    return next(a for a in apps if a.state is not StreamerState.STANDBY)


async def test_funding_change_reaches_kv_and_subject(
    start_streamer: StartStreamer, client: Client, localnet: LocalnetServer
) -> None:
    """A localnet funding change lands in KV and on drift.local.funding.SOL-PERP, in
    DESIGN.md's units, with slot, ts and the leader's epoch."""
    app = await start_streamer()
    sub = await client.subscribe(f"drift.{NET}.funding.SOL-PERP")
    async with consumer(client):
        await _running(app, localnet)
        localnet.markets.apply(
            MarketPatch(
                symbol="SOL-PERP", last_funding_rate=1_250_000, last_funding_oracle_twap=150_000_000
            )
        )
        while True:
            msg = await sub.next_msg(timeout=10)
            funding = decode(FundingRate, msg.data)
            if funding.last_funding_rate == 1_250_000:
                break
        # 1.25e6 / 1e9 = 0.00125 USD per SOL per hour, at 150 USD: 0.000833...% hourly
        assert funding.hourly_rate_pct == pytest.approx(0.00125 / 150 * 100, rel=1e-12)
        assert funding.annualized_rate_pct == pytest.approx(0.00125 / 150 * 100 * 8766, rel=1e-12)
        assert funding.epoch == app.epoch > 0
        assert funding.slot > 0
        stored = await _value(await _kv(client, FUNDING_BUCKET), f"{NET}.SOL-PERP")
        assert stored is not None
        assert decode(FundingRate, stored).last_funding_rate == 1_250_000
        price = await _value(await _kv(client, PRICES_BUCKET), f"{NET}.SOL-PERP")
        assert price is not None
        snap = decode(MarketSnapshot, price)
        assert snap.oracle_price == localnet.markets.perp("SOL-PERP").oracle_price / 1e6
        markets = await _value(await _kv(client, MARKETS_BUCKET), NET)
        assert markets is not None
        assert len(json.loads(markets)["markets"]) == 3


async def test_publishing_follows_account_updates_not_a_timer(
    fresh_nats: NatsServer, client: Client, localnet: LocalnetServer
) -> None:
    """With a timed pass only every 60 s, a localnet change still reaches the subject
    at once: passes run when driftpy stores an account update."""
    settings = Settings(network=NET, rpc_url=localnet.url, nats_url=fresh_nats.url, presence_ttl=2)
    app = Streamer(settings, lambda: DriftSource(localnet.url), publish_interval_s=60)
    task = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.ready.wait(), 10)
        sub = await client.subscribe(f"drift.{NET}.funding.BTC-PERP")
        async with consumer(client):
            await _running(app, localnet)
            localnet.markets.apply(MarketPatch(symbol="BTC-PERP", last_funding_rate=-4_321))
            while (
                decode(FundingRate, (await sub.next_msg(timeout=5)).data).last_funding_rate
                != -4_321
            ):
                pass
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_values_expire_when_the_streamer_stops(
    start_streamer: StartStreamer, client: Client
) -> None:
    """With the streamer stopped, KV values expire after their TTL: readers get None."""
    app = await start_streamer(cache_ttl_funding=2, cache_ttl_price=1, cache_ttl_markets=3)
    funding_kv = await _kv(client, FUNDING_BUCKET)
    async with consumer(client):
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
        await wait_until_async(lambda: _value(funding_kv, f"{NET}.BTC-PERP"), within=10)
    # the consumer left: after the grace period the DriftClient stops and nothing refreshes
    await wait_until(lambda: app.state is StreamerState.IDLE, timeout=10)
    await wait_until_async(lambda: _none(_value(funding_kv, f"{NET}.BTC-PERP")), within=2 + 3)
    prices_kv = await _kv(client, PRICES_BUCKET)
    assert await _value(prices_kv, f"{NET}.BTC-PERP") is None


async def _none(value: Awaitable[bytes | None]) -> bool | None:
    return True if await value is None else None


async def test_presence_drives_the_drift_client(
    start_streamer: StartStreamer, client: Client, localnet: LocalnetServer
) -> None:
    """No consumers: no DriftClient and no RPC traffic. A consumer: data flows. A consumer
    killed without release: its presence expires and the DriftClient is cleaned up."""
    app = await start_streamer(grace_s=0.3)
    await _wait_leader(app)
    assert app.state is StreamerState.IDLE
    stats = localnet.stats_json()
    assert stats["http_requests"] == 0
    assert stats["ws_connections_total"] == 0

    kv = await _kv(client, CONSUMERS_BUCKET)
    crashed = Presence(kv, NET, "crashy", "crashy", ttl_s=2)
    await crashed.__aenter__()
    await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
    assert app.consumers == 1
    funding_kv = await _kv(client, FUNDING_BUCKET)
    await wait_until_async(lambda: _value(funding_kv, f"{NET}.ETH-PERP"), within=10)
    assert feed_subscribed(localnet)

    crashed._stop_heartbeat()  # dies without deleting its key
    await wait_until(lambda: app.consumers == 0, timeout=10)
    await wait_until(lambda: app.state is StreamerState.IDLE, timeout=10)
    await wait_until(lambda: localnet.stats_json()["ws_connections_open"] == 0, timeout=10)
    assert localnet.stats_json()["subscriptions_active"] == 0


async def test_recovers_from_429_storms_and_dropped_websockets(
    start_streamer: StartStreamer, client: Client, localnet: LocalnetServer
) -> None:
    """A 429 storm at (re)subscribe and dropped websockets: the streamer retries with
    capped backoff, reports it, and data resumes by itself once the RPC recovers."""
    app = await start_streamer()
    sub = await client.subscribe(f"drift.{NET}.funding.BTC-PERP")
    async with consumer(client):
        await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
        await localnet.set_faults(
            FaultRequest.model_validate(
                {"rate_limit": {"requests": 1, "per_s": 30}, "drop_websockets": True}
            )
        )
        result = await app.reconnect()  # a resubscribe now meets the storm
        assert result.ok is False
        assert "429" in (result.error or "")
        await wait_until(lambda: app.state is StreamerState.DEGRADED, timeout=10)
        assert app.rpc_errors >= 1
        assert localnet.stats_json()["rate_limited"] >= 1
        await localnet.set_faults(FaultRequest.model_validate({"clear": True}))
        await _running(app, localnet)
        localnet.markets.apply(MarketPatch(symbol="BTC-PERP", last_funding_rate=-4_242_000))
        while (
            decode(FundingRate, (await sub.next_msg(timeout=10)).data).last_funding_rate
            != -4_242_000
        ):
            pass
    assert app.max_backoff_s <= 30.0
    assert app.status().reconnects >= 1
    metrics = app.metrics.text().decode()
    assert 'drift_stream_rpc_errors_total{kind="rpc_429",network="local"}' in metrics
    assert 'drift_stream_publishes_total{bucket="drift_funding",network="local"}' in metrics


@pytest.mark.timeout(90)
async def test_two_streamers_one_drift_client_and_takeover(
    fresh_nats: NatsServer,
    localnet: LocalnetServer,
    start_streamer: StartStreamer,
    client: Client,
    tmp_path: Path,
) -> None:
    """Two streamers on one network: exactly one DriftClient (localnet's subscriptions
    prove it). SIGKILL the leader: the standby takes over after the lease TTL (time
    printed), and a reader drops a late write carrying the deposed leader's epoch."""
    env = {
        **os.environ,
        "DRIFT_NETWORK": NET,
        "DRIFT_RPC_URL": localnet.url,
        "NATS_URL": fresh_nats.url,
        "DRIFT_LEASE_TTL": "2",
        "DRIFT_PRESENCE_TTL": "2",
    }
    leader = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamer.cli",
        "streamer",
        "--instance-id",
        "first",
        "--grace",
        "1",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert leader.stdout is not None
        await asyncio.wait_for(leader.stdout.readline(), 20)  # its start line: it is up
        async with consumer(client):
            funding_kv = await _kv(client, FUNDING_BUCKET)
            await wait_until_async(lambda: _value(funding_kv, f"{NET}.SOL-PERP"), within=20)
            standby = await start_streamer(grace_s=1)
            await wait_until(
                lambda: standby.consumers == 0 and standby.state is StreamerState.STANDBY, timeout=5
            )
            assert feed_subscribed(localnet)  # one feed
            epoch_before = decode(
                FundingRate, (await funding_kv.get(f"{NET}.SOL-PERP")).value or b""
            ).epoch
            leader.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            await leader.wait()
            await wait_until(lambda: standby.state is StreamerState.RUNNING, timeout=20)
            takeover = time.perf_counter() - killed
            assert standby.epoch > epoch_before
            await wait_until(lambda: feed_subscribed(localnet), timeout=10)
            localnet.markets.apply(MarketPatch(symbol="SOL-PERP", last_funding_rate=777_000))

            async def taken_over() -> bool | None:
                raw = await _value(funding_kv, f"{NET}.SOL-PERP")
                f = decode(FundingRate, raw) if raw else None
                return (
                    True
                    if f and f.last_funding_rate == 777_000 and f.epoch == standby.epoch
                    else None
                )

            await wait_until_async(taken_over, within=10)
            published = time.perf_counter() - killed

            # the deposed leader's late write (its epoch, a newer KV revision): dropped
            async with DriftStreamClient(
                NET, nats_url=fresh_nats.url, name="reader", presence_ttl_s=2
            ) as reader:
                current = await reader.funding("SOL-PERP")
                assert current is not None
                assert current.epoch == standby.epoch
                late = current.model_copy(update={"epoch": epoch_before, "last_funding_rate": 1})
                await funding_kv.put(f"{NET}.SOL-PERP", late.model_dump_json().encode())
                await wait_until(lambda: reader.stats.stale_epoch == 1)
                kept = await reader.funding("SOL-PERP")
                assert kept is not None
                assert kept.last_funding_rate == 777_000
            print(
                f"\nSIGKILL of the leader -> standby running after {takeover:.2f} s, its first "
                f"value published after {published:.2f} s (lease TTL 2 s)"
            )
    finally:
        if leader.returncode is None:
            leader.kill()
            await leader.wait()


async def test_the_write_journal_holds_every_acknowledged_write(
    start_streamer: StartStreamer, client: Client, localnet: LocalnetServer, tmp_path: Path
) -> None:
    """DRIFT_WRITE_JOURNAL: the fence records, the lease writes, health heartbeats and
    every data value, each with the stream sequence the server gave it (the last one of
    a key is what KV holds) and the leader's epoch."""
    journal = tmp_path / "journal.jsonl"
    app = await start_streamer(write_journal=str(journal))
    async with consumer(client):
        await _running(app, localnet)
        funding_kv = await _kv(client, FUNDING_BUCKET)
        await wait_until_async(lambda: _value(funding_kv, f"{NET}.SOL-PERP"), within=10)
        stored = await funding_kv.get(f"{NET}.SOL-PERP")

        def acks() -> list[dict[str, object]]:
            return [json.loads(line) for line in journal.read_text().splitlines()]

        await wait_until(lambda: any(a["seq"] == stored.revision for a in acks()), timeout=5)
    lines = acks()
    assert {line["ev"] for line in lines} == {"ack"}
    assert {line["src"] for line in lines} == {app.instance_id}
    buckets = {line["bucket"] for line in lines}
    assert {
        FUNDING_BUCKET,
        PRICES_BUCKET,
        MARKETS_BUCKET,
        "drift_leader",
        "drift_health",
    } <= buckets
    fences = [line for line in lines if line["key"] == fence_key(NET)]
    assert {line["bucket"] for line in fences} >= {FUNDING_BUCKET, PRICES_BUCKET, MARKETS_BUCKET}
    assert {line["epoch"] for line in fences} == {app.epoch}
    sol = [
        line
        for line in lines
        if line["bucket"] == FUNDING_BUCKET and line["key"] == f"{NET}.SOL-PERP"
    ]
    assert sol[-1]["seq"] == stored.revision
    assert sol[-1]["epoch"] == app.epoch
