"""The real driftpy DriftClient against localnet, in every subscription mode."""

from __future__ import annotations

import aiohttp
import pytest
from driftpy.accounts.oracle import decode_oracle
from driftpy.decode.utils import decode_name
from driftpy.drift_client import DriftClient
from driftpy.types import OracleSource
from solders.pubkey import Pubkey

from localnet import MarketPatch
from localnet.server import LocalnetServer
from tests.drift_clients import drift_client, wait_until


def _name(client: DriftClient, index: int) -> str:
    market = client.get_perp_market_account(index)
    assert market is not None, f"perp market {index} missing"
    return str(decode_name(market.name)).strip()


def _funding(client: DriftClient, index: int) -> int | None:
    market = client.get_perp_market_account(index)
    return None if market is None else int(market.amm.last_funding_rate)


async def _oracle_price_via_rpc(client: DriftClient, oracle: Pubkey, source: OracleSource) -> int:
    """Decode the oracle account as driftpy fetches it, with the market's own source."""
    answer = await client.connection.get_account_info(oracle)
    assert answer.value is not None
    return int(decode_oracle(bytes(answer.value.data), source).price)


def _assert_funding_fields(client: DriftClient, server: LocalnetServer, index: int) -> None:
    served = server.markets.perp(index).to_json()
    market = client.get_perp_market_account(index)
    assert market is not None
    amm = market.amm
    got = {
        "last_funding_rate": amm.last_funding_rate,
        "last_funding_rate_long": amm.last_funding_rate_long,
        "last_funding_rate_short": amm.last_funding_rate_short,
        "last24h_avg_funding_rate": amm.last24h_avg_funding_rate,
        "last_funding_rate_ts": amm.last_funding_rate_ts,
        "last_funding_oracle_twap": amm.last_funding_oracle_twap,
        "last_oracle_price_twap": amm.historical_oracle_data.last_oracle_price_twap,
        "last_mark_price_twap": amm.last_mark_price_twap,
        "funding_period": amm.funding_period,
    }
    assert got == {k: served[k] for k in got}


@pytest.mark.timeout(60)
async def test_websocket_find_all_reads_every_mainnet_market(
    localnet_mainnet: LocalnetServer,
) -> None:
    """Websocket find-all mode: every mainnet perp by name, oracle and funding exact."""
    server = localnet_mainnet
    async with drift_client(server.url, "websocket") as client:
        shared_scale = []
        for view in server.markets.perps:
            index = view.spec.market_index
            assert _name(client, index) == view.spec.symbol
            _assert_funding_fields(client, server, index)
            price = client.get_oracle_price_data_for_perp_market(index)
            if price is None:
                # driftpy keys oracle subscriptions by address alone: when a spot market
                # shares the oracle at another scale (BONK / 1MBONK-PERP) the perp gets
                # no price in this mode. localnet serves the same bytes as mainnet.
                shared_scale.append(view.spec.symbol)
                price_now = await _oracle_price_via_rpc(
                    client, view.spec.oracle, view.spec.oracle_source
                )
                assert price_now == view.oracle_price
            else:
                assert price.price == view.oracle_price
        assert len(server.markets.perps) == 85
        assert set(shared_scale) <= {"1MBONK-PERP", "1KPUMP-PERP"}
        stats = server.stats_json()
        assert stats["requests_per_method"]["getProgramAccounts"] == 2
        assert stats["subscriptions"]["program"] == 2


async def test_websocket_notification_delivers_admin_change(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """A change made through /admin/market reaches a websocket DriftClient."""
    async with drift_client(localnet.url, "websocket") as client:
        before = localnet.stats_json()["notifications"].get("program", 0)
        async with http.post(
            f"{localnet.url}/admin/market",
            json={
                "symbol": "SOL-PERP",
                "last_funding_rate": 1_250_000,
                "oracle_price": 151_234_567,
            },
        ) as resp:
            assert resp.status == 200
            body = await resp.json()
        assert body["last_funding_rate"] == 1_250_000
        assert body["oracle_price"] == 151_234_567

        def seen() -> bool:
            market = client.get_perp_market_account(0)
            price = client.get_oracle_price_data_for_perp_market(0)
            return (
                market is not None
                and market.amm.last_funding_rate == 1_250_000
                and price is not None
                and price.price == 151_234_567
            )

        await wait_until(seen, timeout=5)
        assert localnet.stats_json()["notifications"]["program"] > before


async def test_websocket_explicit_indexes(localnet: LocalnetServer) -> None:
    """Websocket mode with explicit market indexes: one socket per market, values exact."""
    perps = [v.spec for v in localnet.markets.perps]
    async with drift_client(localnet.url, "websocket-indexes", perps=perps) as client:
        for view in localnet.markets.perps:
            assert _name(client, view.spec.market_index) == view.spec.symbol
            price = client.get_oracle_price_data_for_perp_market(view.spec.market_index)
            assert price is not None
            assert price.price == view.oracle_price
        localnet.markets.set_oracle_price("BTC-PERP", 98_000_123_456)
        await wait_until(
            lambda: (
                getattr(client.get_oracle_price_data_for_perp_market(1), "price", 0)
                == 98_000_123_456
            )
        )
        assert localnet.stats_json()["subscriptions"]["account"] >= len(perps)


@pytest.mark.timeout(90)
async def test_polling_reads_every_mainnet_market_and_sees_next_period(
    localnet_mainnet: LocalnetServer,
) -> None:
    """Polling mode: every mainnet market exact; a change shows up after the next poll."""
    server = localnet_mainnet
    async with drift_client(server.url, "polling", poll_s=0.05) as client:
        for view in server.markets.perps:
            index = view.spec.market_index
            assert _name(client, index) == view.spec.symbol
            _assert_funding_fields(client, server, index)
            price = client.get_oracle_price_data_for_perp_market(index)
            assert price is not None
            assert price.price == view.oracle_price
        polls_before = server.stats_json()["requests_per_method"]["getMultipleAccounts"]
        server.markets.apply(MarketPatch(symbol="ETH-PERP", last_funding_rate=-777_000))
        await wait_until(lambda: _funding(client, 2) == -777_000)
        assert server.stats_json()["requests_per_method"]["getMultipleAccounts"] > polls_before
        assert server.stats_json()["subscriptions_active"] == 0


async def test_cached_mode_refreshes_on_update_cache(localnet: LocalnetServer) -> None:
    """Cached mode reads everything once and sees changes only on update_cache()."""
    async with drift_client(localnet.url, "cached") as client:
        for view in localnet.markets.perps:
            assert _name(client, view.spec.market_index) == view.spec.symbol
        localnet.markets.apply(MarketPatch(symbol="SOL-PERP", last_funding_rate=4242))
        market = client.get_perp_market_account(0)
        assert market is not None
        assert market.amm.last_funding_rate != 4242
        await client.account_subscriber.update_cache()
        market = client.get_perp_market_account(0)
        assert market is not None
        assert market.amm.last_funding_rate == 4242
