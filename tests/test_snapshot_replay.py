"""Record and replay: a capture served back is the original, to an RPC client and to the
streamer; real mainnet accounts replayed through `up --snapshot` publish the official
SDK's figures, and what the chain lacks is skipped and reported, never a crash."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.msg import Msg

from localnet.cli import server_options
from localnet.markets import STATE_ADDRESS
from localnet.server import LocalnetServer
from schemas import FundingRate, MarketSnapshot, SpotMarketSnapshot, StreamerState, decode
from streamer.app import Streamer
from streamer.cli import _parser
from streamer.decode import variant
from streamer.feed.discovery import market_name
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers.client import DriftStreamClient
from tests.drift_clients import wait_until
from tests.mainnet_fixtures import FIXTURES, load_accounts, market_oracle_pairs
from tests.sdk_figures import (
    SdkDriftClient,
    funding_problems,
    model_differences,
    price_problems,
    spot_problems,
)
from tests.snapshot_folders import run_snapshot

MODELS: dict[str, type[FundingRate | MarketSnapshot | SpotMarketSnapshot]] = {
    "funding": FundingRate,
    "market": MarketSnapshot,
    "spot": SpotMarketSnapshot,
}


async def _capture(url: str, out: Path) -> None:
    code, text = await run_snapshot("--rpc-url", url, "--out", str(out))
    assert code == 0, text


async def _account_infos(url: str, keys: list[str]) -> dict[str, Any]:
    """getAccountInfo of every key (one JSON-RPC batch): key -> the answer's value."""
    calls = [
        {
            "jsonrpc": "2.0",
            "id": i,
            "method": "getAccountInfo",
            "params": [k, {"encoding": "base64"}],
        }
        for i, k in enumerate(keys)
    ]
    async with httpx.AsyncClient(timeout=30) as http:
        answers = (await http.post(url, json=calls)).json()
    return {keys[a["id"]]: a["result"]["value"] for a in answers}


class Published:
    """Every value a streamer published, by (kind, symbol)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], list[Any]] = defaultdict(list)

    async def on_msg(self, msg: Msg) -> None:
        kind, symbol = msg.subject.split(".")[2:4]
        if kind in MODELS:
            self.values[(kind, symbol)].append(decode(MODELS[kind], msg.data))

    def symbols(self, kind: str) -> set[str]:
        return {s for k, s in self.values if k == kind}


@contextlib.asynccontextmanager
async def _streamer(
    url: str, root: Path, **ttls: float
) -> AsyncIterator[tuple[Published, Streamer]]:
    """A nats-server, a streamer over `url`, an engine (so the feed runs), and what is
    published."""
    async with NatsServer(store_dir=root / "js", log_file=root / "nats.log") as server:
        values: dict[str, Any] = {"presence_ttl": 2, "lease_ttl": 2, **ttls}
        settings = Settings(network="local", rpc_url=url, nats_url=server.url, **values)
        app = Streamer(settings, lambda: DriftSource(url), publish_interval_s=0.05, grace_s=1)
        task = asyncio.create_task(app.run())
        nc = await nats.connect(server.url)
        published = Published()
        try:
            await asyncio.wait_for(app.ready.wait(), 10)
            await nc.subscribe("drift.local.>", cb=published.on_msg)
            async with DriftStreamClient("local", nats_url=server.url, name="replay"):
                await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=30)
                yield published, app
        finally:
            await nc.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _by_time(values: list[Any]) -> dict[int | None, Any]:
    return {getattr(v, "predicted_at", None) or getattr(v, "priced_at", None): v for v in values}


@pytest.mark.timeout(180)
async def test_a_replay_is_the_original_to_clients_and_to_the_streamer(tmp_path: Path) -> None:
    """Capture the mainnet preset (prices still) and serve it back: getAccountInfo of
    every account is identical, and a streamer over each publishes equal values for
    the same predicted_at / priced_at (fields of time, slot and epoch aside)."""
    async with LocalnetServer(preset="mainnet") as original:
        out = tmp_path / "snap"
        await _capture(original.url, out)
        async with LocalnetServer(snapshot=out) as replay:
            keys = [p.stem for p in out.glob("*.json") if p.name != "manifest.json"]
            assert len(keys) == 269
            before, after = await asyncio.gather(
                _account_infos(original.url, keys), _account_infos(replay.url, keys)
            )
            assert before == after
            # Both streamers at once, values re-sent every second (TTL/2): every market
            # gets values for at least 5 of the same 6 seconds from each side.
            ttls = {"cache_ttl_funding": 2.0, "cache_ttl_price": 2.0, "cache_ttl_spot": 2.0}
            async with (
                _streamer(original.url, tmp_path / "a", **ttls) as (a, _),
                _streamer(replay.url, tmp_path / "b", **ttls) as (b, _),
            ):
                await wait_until(
                    lambda: all(len(p.symbols("funding")) == 85 for p in (a, b)), timeout=60
                )
                await asyncio.sleep(6.0)  # observing both over the same seconds
    problems: list[str] = []
    compared = 0
    for (kind, symbol), values in a.values.items():
        theirs = _by_time(b.values[(kind, symbol)])
        for when, value in _by_time(values).items():
            if when in theirs:
                compared += 1
                diff = model_differences(value, theirs[when])
                problems += [f"{kind} {symbol} at {when}: {d}" for d in diff]
    assert problems == []
    assert a.symbols("funding") == b.symbols("funding")
    assert a.symbols("spot") == b.symbols("spot")
    assert len(a.symbols("spot")) == 63
    assert compared >= 85 * 2 + 63  # every market compared at least once
    print(f"\ncompared {compared} published values of the original and the replay")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.timeout(180)
async def test_real_mainnet_accounts_through_up_snapshot_are_the_sdk_figures(
    tmp_path: Path,
) -> None:
    """tests/fixtures/mainnet served the way `drift-stream up --snapshot` serves it: every
    published funding, market and spot value equals the SDK's from the same bytes at
    its predicted_at / priced_at; markets State counts but the folder lacks are skipped
    and listed in status, markets without their oracle publish funding unpriced."""
    args = _parser().parse_args(["up", "--snapshot", str(FIXTURES), "--port", "0"])
    accounts = load_accounts()
    pairs = {
        (p.market.kind, p.market.decoded.market_index): p for p in market_oracle_pairs(accounts)
    }
    state = accounts[str(STATE_ADDRESS)]
    async with LocalnetServer(**server_options(args)) as ln:
        counted = {
            (k, i)
            for k, i in pairs
            if i
            < (
                state.decoded.number_of_markets
                if k == "PerpMarket"
                else state.decoded.number_of_spot_markets
            )
        }
        perps = {i for k, i in counted if k == "PerpMarket"}
        async with _streamer(ln.url, tmp_path) as (published, app):
            await wait_until(lambda: len(published.symbols("funding")) == len(perps), timeout=30)
            await wait_until(lambda: len(published.symbols("spot")) >= 4, timeout=30)
            status = app.status()
    assert status.last_slot is not None
    assert status.last_slot >= 409497574  # the slot clock started at the manifest's max_slot
    total = state.decoded.number_of_markets + state.decoded.number_of_spot_markets
    assert len(status.markets_skipped) == total - len(counted)
    assert "perp 0" not in status.markets_skipped
    assert {"ETH-PERP", "XRP-PERP"} <= set(status.unpriced_markets)
    items, values = [], []
    by_symbol = {market_name(p.market.decoded).upper(): p for p in pairs.values()}
    for (kind, symbol), seen in published.values.items():
        if kind == "spot":
            continue
        pair = by_symbol[symbol]
        for value in seen:
            now = value.predicted_at if kind == "funding" else value.priced_at
            if now is None:
                assert pair.oracle is None  # only a market without its oracle is unpriced
                continue
            items.append(
                {
                    "market": _b64(pair.market.data),
                    "oracle": _b64(pair.oracle.data) if pair.oracle else None,
                    "oracle_source": variant(pair.source),
                    "state": _b64(state.data),
                    "now": now,
                    "market_slot": value.market_slot,
                    "oracle_slot": value.oracle_slot,
                }
            )
            values.append(value)
    spots = [
        (value, by_symbol[symbol.upper()])
        for (kind, symbol), seen in published.values.items()
        if kind == "spot"
        for value in seen[-1:]
    ]
    async with SdkDriftClient() as sdk:
        figures = await sdk.compute(
            items,
            [
                {
                    "market": _b64(p.market.data),
                    "oracle": _b64(p.oracle.data) if p.oracle else None,
                    "oracle_source": variant(p.source),
                    "market_slot": v.market_slot,
                    "oracle_slot": v.oracle_slot,
                }
                for v, p in spots
            ],
        )
    problems: list[str] = []
    for value, fig in zip(values, figures["perps"], strict=True):
        problems += (funding_problems if isinstance(value, FundingRate) else price_problems)(
            fig, value
        )
    for (value, _), fig in zip(spots, figures["spots"], strict=True):
        problems += spot_problems(fig, value)
    assert problems == []
    assert len(values) >= 8
    print(f"\ncompared {len(values)} perp values and {len(spots)} spot values with the SDK")
