"""Takeover without a gap: with the default settings, on one nats-server and on the 3-node
cluster of compose.yaml, SIGKILL of the leading streamer leaves no value expired at any
engine.

The worst case is set up on purpose: localnet's mainnet preset with prices held still, so
every value lives on its TTL/2 re-send alone (a price written 5 s before the crash
expires 5 s after it). Two engines record every value they take (`DriftStreamClient.tap`)
and read every market every 50 ms; the standby must detect the silence, take the lease,
fence the buckets, subscribe its prepared feed and write everything before any value's
TTL runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from localnet.server import LocalnetServer
from schemas import StreamerState
from schemas.buckets import FUNDING_BUCKET, MARKETS_BUCKET, PRICES_BUCKET, SPOT_BUCKET
from streamer.nats_server import NatsServer
from subscribers.client import Accepted, DriftStreamClient
from tests.nats_cluster import NatsCluster
from tests.streamer_processes import StreamerProcess

TTL = {FUNDING_BUCKET: 30.0, PRICES_BUCKET: 10.0, MARKETS_BUCKET: 60.0, SPOT_BUCKET: 30.0}
PERPS, SPOTS = 85, 63


@dataclass
class Engine:
    """An engine's record of the values it took, and of every read that found none."""

    client: DriftStreamClient
    taken: list[Accepted] = field(default_factory=list)
    missing: list[tuple[float, str]] = field(default_factory=list)

    async def probe(self, symbols: list[str], spots: list[str]) -> None:
        """Every market of every kind, read now: a None is a value that expired."""
        now = time.time()
        for symbol in symbols:
            if await self.client.funding(symbol) is None:
                self.missing.append((now, f"funding {symbol}"))
            if await self.client.market(symbol) is None:
                self.missing.append((now, f"market {symbol}"))
        for symbol in spots:
            if await self.client.spot(symbol) is None:
                self.missing.append((now, f"spot {symbol}"))
        if await self.client.markets() is None:
            self.missing.append((now, "markets"))


@contextlib.asynccontextmanager
async def _nats(kind: str, root: Path) -> AsyncIterator[tuple[list[str], dict[str, str]]]:
    """Engine URLs (one per engine) and the streamers' settings beyond the defaults: none on
    one server; compose.yaml's on the cluster (R3 buckets, lease TTL 30 s)."""
    if kind == "one server":
        async with NatsServer(store_dir=root / "js") as server:
            yield [server.url, server.url], {"NATS_URL": server.url}
    else:
        async with NatsCluster(root) as cluster:
            urls = [node.url for node in cluster.nodes]
            yield (
                [",".join(urls), ",".join(reversed(urls))],
                {"NATS_URL": ",".join(urls), "DRIFT_KV_REPLICAS": "3", "DRIFT_LEASE_TTL": "30"},
            )


async def _loaded(engine: Engine) -> None:
    """Until the engine holds every market's values (woken by each value it takes)."""
    taken = asyncio.Event()
    untap = engine.client.tap(lambda _: taken.set())
    try:
        while (
            len(await engine.client.funding_all()) < PERPS
            or len(await engine.client.spots()) < SPOTS
            or await engine.client.markets() is None
        ):
            taken.clear()
            await taken.wait()
    finally:
        untap()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("deployment", ["one server", "cluster"])
async def test_a_leader_crash_leaves_no_value_expired_at_any_engine(
    deployment: str, tmp_path: Path
) -> None:
    """SIGKILL the leader: no engine ever reads None for any market, and for every key the
    new leader's first value was written before the old one's TTL ran out (figures
    printed: takeover time, and the smallest margin left before a TTL)."""
    async with (
        LocalnetServer(preset="mainnet") as localnet,
        _nats(deployment, tmp_path) as (engine_urls, nats_env),
    ):
        env = {"DRIFT_NETWORK": "local", "DRIFT_RPC_URL": localnet.url, **nats_env}
        async with StreamerProcess("a", env) as a:
            await a.wait_for("lease acquired")
            async with StreamerProcess("b", env) as b:
                await b.wait_for("Drift feed prepared")  # warm: ready to take over
                async with contextlib.AsyncExitStack() as stack:
                    engines = [
                        Engine(
                            await stack.enter_async_context(
                                DriftStreamClient("local", nats_url=url, name=f"engine-{i}")
                            )
                        )
                        for i, url in enumerate(engine_urls)
                    ]
                    await asyncio.wait_for(asyncio.gather(*(_loaded(e) for e in engines)), 60)
                    for engine in engines:
                        engine.client.tap(engine.taken.append)
                    symbols = sorted(await engines[0].client.funding_all())
                    spots = sorted(await engines[0].client.spots())
                    old = await engines[0].client.funding("SOL-PERP")
                    assert old is not None
                    await asyncio.sleep(6)  # a whole TTL/2 round of re-sends before the crash
                    killed = a.signal(signal.SIGKILL)
                    await a.wait()
                    deadline = killed + 25
                    while time.time() < deadline and not _all_new(engines, old.epoch):
                        for engine in engines:
                            await engine.probe(symbols, spots)
                        await asyncio.sleep(0.05)
                    for engine in engines:  # a few more rounds after the switch
                        await engine.probe(symbols, spots)
                    status = await engines[0].client.request_status()
        assert b.find("lease taken over from a") is not None
    assert status.state is StreamerState.RUNNING
    assert status.instance_id == "b"
    assert status.epoch > old.epoch
    for engine in engines:
        assert engine.missing == [], engine.missing[:5]
        assert _all_new([engine], old.epoch), "not every key got the new leader's value"
    margins, first_new = _margins(engines, old.epoch)
    # every price (TTL 10 s, the tightest) was re-sent within the 6 s recorded before
    # the crash, so each has both writes here; the longer TTLs' keys too where they did
    assert len([k for k in margins if f":{PRICES_BUCKET}:" in k]) == 2 * PERPS
    assert min(margins.values()) > 0, sorted(margins.items(), key=lambda kv: kv[1])[:5]
    worst = min(margins, key=lambda k: margins[k])
    print(
        f"\n{deployment}: first value of epoch {status.epoch} {first_new - killed:.2f} s after "
        f"the SIGKILL; {len(margins)} keys at 2 engines, none expired; smallest margin "
        f"before a TTL {margins[worst]:.2f} s ({worst})"
    )


def _all_new(engines: list[Engine], old_epoch: int) -> bool:
    """Every engine took a value of a newer epoch for every key it holds."""
    for engine in engines:
        keys = {(t.bucket, t.key) for t in engine.taken}
        new = {(t.bucket, t.key) for t in engine.taken if getattr(t.value, "epoch", 0) > old_epoch}
        if not keys or keys != new:
            return False
    return True


def _margins(engines: list[Engine], old_epoch: int) -> tuple[dict[str, float], float]:
    """Per (engine, bucket, key): the TTL minus the gap between the last old-epoch write and
    the first new-epoch one (positive: never expired); and the first new write's time."""
    margins: dict[str, float] = {}
    first_new = float("inf")
    for n, engine in enumerate(engines):
        last_old: dict[tuple[str, str], float] = {}
        first: dict[tuple[str, str], float] = {}
        for t in engine.taken:
            at = t.written_at if t.written_at is not None else t.received_at
            key = (t.bucket, t.key)
            if getattr(t.value, "epoch", 0) <= old_epoch:
                last_old[key] = at
            else:
                first.setdefault(key, at)
                first_new = min(first_new, at)
        for key, at in first.items():
            if key in last_old:
                margins[f"{n}:{key[0]}:{key[1]}"] = TTL[key[0]] - (at - last_old[key])
    return margins, first_new
