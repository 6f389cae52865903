"""The whole streamer on every RPC provider profile (localnet `--provider`), prices moving:
every market published, what the RPC was asked and how it answered, and engines never
holding a value older than its TTL (also while websockets are recycled)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import nats
import pytest
from nats.aio.msg import Msg

from localnet import FaultRequest
from localnet.server import LocalnetServer
from localnet.simulation import SimulationConfig
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers.client import DriftStreamClient
from tests.drift_clients import wait_until

NET: Final = "local"
TTL_PRICE, TTL_FUNDING = 2.0, 4.0
PERPS, SPOTS = 85, 63


@dataclass
class Receipts:
    """Every value seen on drift.local.>, by subject: (received at, model ts)."""

    seen: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))

    async def on_msg(self, msg: Msg) -> None:
        body = json.loads(msg.data)
        if "ts" in body:
            self.seen[msg.subject].append((time.time(), float(body["ts"])))

    def count(self, kind: str) -> int:
        return sum(1 for s in self.seen if s.startswith(f"drift.{NET}.{kind}."))

    def worst_age(self, kind: str, until: float) -> float:
        """The oldest any value of `kind` was while an engine held it: the longest gap
        from a value's observation to the next value's arrival (or to `until`)."""
        worst = 0.0
        for subject, values in self.seen.items():
            if not subject.startswith(f"drift.{NET}.{kind}."):
                continue
            arrivals = [at for at, _ in values[1:]] + [until]
            worst = max(worst, *(nxt - ts for (_, ts), nxt in zip(values, arrivals, strict=True)))
        return worst


@pytest.fixture
async def nats_for_test(tmp_path: Path) -> AsyncIterator[NatsServer]:
    async with NatsServer(store_dir=tmp_path / "js", log_file=tmp_path / "nats.log") as server:
        yield server


async def _run(
    nats_server: NatsServer, provider: str, overrides: dict[str, Any], observe_s: float
) -> tuple[dict[str, Any], Receipts, Streamer, float]:
    simulation = SimulationConfig(price_interval_s=0.3, funding_interval_s=2.0, seed=1)
    async with LocalnetServer(preset="mainnet", provider=provider, simulation=simulation) as ln:
        if overrides:
            await ln.set_faults(FaultRequest.model_validate({"provider": provider, **overrides}))
        settings = Settings(
            network=NET,
            rpc_url=ln.url,
            nats_url=nats_server.url,
            cache_ttl_price=TTL_PRICE,
            cache_ttl_funding=TTL_FUNDING,
            cache_ttl_spot=TTL_FUNDING,
            presence_ttl=3,
            lease_ttl=3,
        )
        app = Streamer(settings, lambda: DriftSource(ln.url), publish_interval_s=0.05, grace_s=1)
        task = asyncio.create_task(app.run())
        nc = await nats.connect(nats_server.url)
        receipts = Receipts()
        try:
            await asyncio.wait_for(app.ready.wait(), 10)
            await nc.subscribe(f"drift.{NET}.>", cb=receipts.on_msg)
            async with DriftStreamClient(NET, nats_url=nats_server.url, name="engine"):
                await wait_until(
                    lambda: receipts.count("funding") == PERPS and receipts.count("spot") == SPOTS,
                    timeout=60,
                )
                await asyncio.sleep(observe_s)  # observing: values must keep arriving
                until = time.time()
                stats = ln.stats_json()
        finally:
            await nc.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return stats, receipts, app, until


def _errors(stats: dict[str, Any], *statuses: str) -> dict[str, int]:
    return {s: stats["http_status"].get(s, 0) for s in statuses}


PROFILES = [
    ("public", {}),
    ("no-gpa", {}),
    ("no-gpa", {"gpa_refusal": "method-not-found"}),
    ("capped", {}),
    ("strict-429", {}),
    ("ws-churn", {"ws_lifetime_s": 1.5}),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("provider", "overrides"), PROFILES, ids=lambda p: str(p or ""))
async def test_every_market_published_on_every_provider(
    nats_for_test: NatsServer, provider: str, overrides: dict[str, Any]
) -> None:
    """All 85 perp and 63 spot markets reach engines on the provider; no request is
    refused after the first refused probe (capped: one 413 teaches the cap); no 429
    goes unhonoured; no value an engine holds is ever older than its TTL."""
    observe = 5.0 if provider == "ws-churn" else 3.0
    stats, receipts, app, until = await _run(nats_for_test, provider, overrides, observe)
    print(
        f"\n{provider} {overrides}: requests {stats['requests_per_method']}, "
        f"http {stats['http_status']}, rpc errors {stats['rpc_errors']}, "
        f"ws opened {stats['ws_connections_total']}, closed by lifetime "
        f"{stats.get('ws_closed_lifetime', 0)}, refused subscriptions "
        f"{stats.get('subscriptions_refused', {})}"
    )
    assert receipts.count("funding") == PERPS
    assert receipts.count("market") == PERPS
    assert receipts.count("spot") == SPOTS
    assert "getProgramAccounts" not in stats["requests_per_method"]
    assert stats["ws_requests_per_method"].get("programSubscribe", 0) == 0
    assert stats["rpc_errors"] == {}
    assert app.rpc_errors == 0  # no failed start, no stale feed, nothing retried to death
    refused = _errors(stats, "410", "413", "429")
    if provider == "capped":
        assert refused == {"410": 0, "413": 1, "429": 0}  # the probe; the cap holds after
        # 5 keys a call: State and 148 markets in 30 calls, 120 oracles in 24
        assert stats["requests_per_method"]["getMultipleAccounts"] >= 54
    else:
        assert refused == {"410": 0, "413": 0, "429": 0}
    if provider == "ws-churn":
        assert stats["ws_closed_lifetime"] >= 3  # sockets were recycled while observing
        assert not stats["subscriptions_refused"]
    assert receipts.worst_age("market", until) <= TTL_PRICE
    assert receipts.worst_age("funding", until) <= TTL_FUNDING
    assert receipts.worst_age("spot", until) <= TTL_FUNDING
