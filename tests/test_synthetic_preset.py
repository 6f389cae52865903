"""localnet's `synthetic-N` preset: mainnet's perp markets, then made-up ones up to N,
each with an oracle of its own; the real streamer publishes every one of them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from localnet.presets import SYNTHETIC_MAX, preset
from localnet.server import LocalnetServer
from streamer.app import Streamer
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers.client import DriftStreamClient


def test_synthetic_presets_extend_mainnet_with_distinct_markets() -> None:
    mainnet = preset("mainnet")
    big = preset("synthetic-300")
    assert len(big.perps) == 300
    assert big.perps[: len(mainnet.perps)] == mainnet.perps
    assert len({p.market_index for p in big.perps}) == 300
    assert len({p.symbol for p in big.perps}) == 300
    assert len({str(p.oracle) for p in big.perps[len(mainnet.perps) :]}) == 300 - 85
    assert big.perps[-1].symbol == f"SYN{big.perps[-1].market_index}-PERP"
    assert preset("synthetic-300") == big  # the same every run
    assert [p.symbol for p in preset("synthetic-2").perps] == ["SOL-PERP", "BTC-PERP"]
    assert len(preset(f"synthetic-{SYNTHETIC_MAX}").perps) == SYNTHETIC_MAX


@pytest.mark.parametrize("name", ["synthetic-0", f"synthetic-{SYNTHETIC_MAX + 1}", "synthetic-"])
def test_a_bad_synthetic_size_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="synthetic-N"):
        preset(name)


@pytest.mark.timeout(90)
async def test_the_streamer_publishes_every_synthetic_market(tmp_path: Path) -> None:
    async with (
        NatsServer(store_dir=tmp_path / "js") as nats,
        LocalnetServer(preset="synthetic-150", slot_ms=100) as ln,
    ):
        settings = Settings(network="local", rpc_url=ln.url, nats_url=nats.url)
        app = Streamer(settings, lambda: DriftSource(ln.url), publish_interval_s=0.25)
        task = asyncio.create_task(app.run())
        try:
            async with DriftStreamClient("local", nats_url=nats.url, name="syn") as client:
                symbols = {p.symbol for p in ln.markets.preset.perps}
                seen: dict[str, int] = {}
                updates = client.watch_funding(sorted(symbols))
                async with asyncio.timeout(60):
                    while set(seen) != symbols:
                        rate = await anext(updates)
                        seen[rate.symbol] = rate.market_index
                await updates.aclose()
                assert seen["SYN149-PERP"] == 149
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
