"""Ten engines at once, under the public RPC's rate limits: through the streamer, and the
legacy way (a DriftClient each). Real processes, real nats-server, real driftpy."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from localnet import FaultRequest
from localnet.server import LocalnetServer
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource
from tests.drift_clients import wait_until

ENGINES = 10
PUBLIC_LIMITS = {
    "rate_limit": {"requests": 100, "per_s": 10, "per_method": 40},
    "max_connections": 40,
}


@pytest_asyncio.fixture
async def limited_mainnet() -> AsyncIterator[LocalnetServer]:
    """Every mainnet market, limited like the public RPC."""
    async with LocalnetServer(preset="mainnet", slot_ms=400) as server:
        await server.set_faults(FaultRequest.model_validate(PUBLIC_LIMITS))
        yield server


async def _engines(*args: str) -> list[dict[str, Any]]:
    """Start ENGINES engine processes at once; their JSON reports."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "subscribers.examples.funding_engine",
            "--network",
            "local",
            "--expect",
            "85",
            "--timeout",
            "20",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(ENGINES)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    return [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]


@pytest.mark.timeout(120)
async def test_ten_engines_through_one_streamer(
    limited_mainnet: LocalnetServer, fresh_nats: NatsServer
) -> None:
    """One feed for ten engines: every engine gets all 85 markets' funding, and the
    rate-limited RPC answers zero 429s."""
    settings = Settings(network="local", rpc_url=limited_mainnet.url, nats_url=fresh_nats.url)
    app = Streamer(settings, lambda: DriftSource(limited_mainnet.url), grace_s=5)
    task = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.ready.wait(), 10)
        reports = await _engines("--nats-url", fresh_nats.url)
        stats = limited_mainnet.stats_json()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [r["with_funding"] for r in reports] == [85] * ENGINES
    assert all(r["errors"] == [] for r in reports)
    assert stats["rate_limited"] == 0
    # one feed: State once, then batched reads (269 accounts, 100 a call)
    assert stats["requests_per_method"]["getAccountInfo"] == 1
    assert "getProgramAccounts" not in stats["requests_per_method"]
    assert stats["ws_connections_total"] == 5  # 4 for the 269 accounts, 1 for slots


@pytest.mark.timeout(120)
async def test_ten_legacy_engines_meet_429s(limited_mainnet: LocalnetServer) -> None:
    """Ten engines the pre-streamer way (a DriftClient each, every market by index): the
    RPC answers 429s and no engine gets every market (what the streamer removes)."""
    reports = await _engines("--direct", "--rpc-url", limited_mainnet.url)
    stats = limited_mainnet.stats_json()
    assert stats["rate_limited"] > 0
    assert all(r["with_funding"] < 85 for r in reports), reports  # nobody got everything
    assert all(r["errors"] for r in reports)  # 429s at subscribe, KeyErrors after
    await wait_until(lambda: limited_mainnet.stats_json()["ws_connections_open"] == 0, timeout=20)


@pytest.mark.timeout(60)
async def test_long_running_engine_reports_every_period(
    start_streamer: Any, fresh_nats: NatsServer
) -> None:
    """`--every` (compose's engine service) keeps reporting, reading NATS_URL from the
    environment, until it is stopped."""
    await start_streamer()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "subscribers.examples.funding_engine",
        "--network",
        "local",
        "--expect",
        "3",
        "--every",
        "0.1",
        env={**os.environ, "NATS_URL": fresh_nats.url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        reports = [json.loads(await asyncio.wait_for(proc.stdout.readline(), 30)) for _ in "ab"]
        assert [r["with_funding"] for r in reports] == [3, 3]
        assert proc.returncode is None  # still running
    finally:
        proc.kill()
        await proc.wait()
