"""/admin/market and /admin/spot: new fields round-trip to what driftpy decodes; bad
input is a 400 (or 404) that changes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import pytest
from driftpy.math.spot_balance import calculate_utilization

from localnet import codec
from localnet.ledger import Ledger
from localnet.markets import DriftMarkets
from localnet.patches import SpotPatch
from localnet.presets import preset
from localnet.server import LocalnetServer
from tests.drift_clients import drift_client, wait_until


async def _post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=data) as resp:
        return resp.status, await resp.json()


async def _account(http: aiohttp.ClientSession, server: LocalnetServer, address: object) -> Any:
    """getAccountInfo over JSON-RPC, decoded with driftpy's IDL coder."""
    call = {"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo", "params": [str(address)]}
    status, body = await _post(http, server.url, call)
    assert status == 200
    return codec.decode(base64.b64decode(body["result"]["value"]["data"][0]))


PERP_FIELDS = {
    "mm_oracle_price": 151_000_000,
    "mm_oracle_slot": 300_000_123,
    "mm_oracle_sequence_id": 1_795_500_000_123_456,
    "base_asset_amount_long": 7 * 10**12,
    "base_asset_amount_short": -3 * 10**12,
    "last_mark_price_twap": 150_500_000,
    "last_mark_price_twap5min": 150_400_000,
    "last_mark_price_twap_ts": 1_795_499_000,
    "last_bid_price_twap": 150_450_000,
    "last_ask_price_twap": 150_550_000,
    "last_oracle_price_twap": 150_100_000,
    "last_oracle_price_twap5min": 150_050_000,
    "last_oracle_price_twap_ts": 1_795_499_500,
    "curve_update_intensity": 150,
    "amm_spread_adjustment": -20,
    "amm_inventory_spread_adjustment": 15,
    "reference_price_offset": -300,
    "total_fee_minus_distributions": -5 * 10**9,
}


async def test_perp_patch_round_trips_through_get_account_info(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """MM oracle, open interest, TWAP and spread fields set via /admin/market are what
    getAccountInfo serves; the AMM's position and terminal reserve follow long + short."""
    body = {"symbol": "SOL-PERP", **PERP_FIELDS, "contract_tier": "Speculative"}
    status, served = await _post(http, f"{localnet.url}/admin/market", body)
    assert status == 200, served
    assert served["mm_oracle_price"] == 151_000_000
    assert served["base_asset_amount_with_amm"] == 4 * 10**12
    assert served["contract_tier"] == "Speculative"
    perp = await _account(http, localnet, localnet.markets.perp("SOL-PERP").address)
    amm, h = perp.amm, perp.amm.historical_oracle_data
    got = {name: getattr(h if "oracle_price_twap" in name else amm, name) for name in PERP_FIELDS}
    assert got == PERP_FIELDS
    assert type(perp.contract_tier).__name__ == "Speculative"
    assert amm.base_asset_amount_with_amm == 4 * 10**12
    k = amm.sqrt_k
    assert amm.terminal_quote_asset_reserve == k * k // (amm.base_asset_reserve + 4 * 10**12)


SPOT_FIELDS = {
    "deposit_balance": 5 * 10**15,
    "borrow_balance": 2 * 10**15,
    "cumulative_deposit_interest": 11_000_000_000,
    "cumulative_borrow_interest": 12_500_000_000,
    "optimal_utilization": 800_000,
    "optimal_borrow_rate": 90_000,
    "max_borrow_rate": 1_500_000,
    "min_borrow_rate": 4,
    "last_interest_ts": 1_795_500_000,
}


async def test_spot_patch_round_trips_through_get_account_info(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """Balances, interest and rate curve set via /admin/spot (by symbol, any case) are
    what getAccountInfo serves and what driftpy's utilization reads."""
    body = {"symbol": "usdc", **SPOT_FIELDS, "insurance_fund_total_factor": 120_000}
    status, served = await _post(http, f"{localnet.url}/admin/spot", body)
    assert status == 200, served
    spot = await _account(http, localnet, localnet.markets.spot("USDC").address)
    assert {name: getattr(spot, name) for name in SPOT_FIELDS} == SPOT_FIELDS
    assert spot.insurance_fund.total_factor == 120_000
    # 2e15 * 1.25 / 1e13 borrowed over 5e15 * 1.1 / 1e13 deposited (USDC: 6 decimals)
    assert calculate_utilization(spot) == served["utilization"] == 454_545


def test_spot_oracle_patch_moves_the_perps_sharing_it() -> None:
    """A spot oracle shared with perp markets moves them all, each at its own scale
    (SOL spot and SOL-PERP alike; Bonk spot per token, 1MBONK-PERP per million)."""
    markets = DriftMarkets(Ledger(), preset("mainnet"), now=1_795_500_000)
    markets.apply_spot(SpotPatch(symbol="SOL", oracle_price=160_000_000))
    assert markets.spot("SOL").oracle_price == markets.perp("SOL-PERP").oracle_price == 160_000_000
    markets.apply_spot(SpotPatch(symbol="Bonk", oracle_price=25))
    assert markets.perp("1MBONK-PERP").oracle_price == 25_000_000


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("spot", {"symbol": "NOPE", "deposit_balance": 1}, 404),
        ("spot", {"symbol": "USDC", "colour": "red"}, 400),
        ("spot", {"symbol": "USDC", "market_index": 0}, 400),
        ("spot", {"symbol": "USDC", "cumulative_deposit_interest": 10**9}, 400),
        ("spot", {"symbol": "USDC", "min_borrow_rate": 256}, 400),
        ("spot", {"symbol": "USDC", "optimal_utilization": 0}, 400),
        ("spot", {"symbol": "USDC", "oracle_price": -1}, 400),
        ("spot", b"{oops", 400),
        ("market", {"symbol": "SOL-PERP", "amm_spread_adjustment": 128}, 400),
        ("market", {"symbol": "SOL-PERP", "mm_oracle_slot": -1}, 400),
        ("market", {"symbol": "SOL-PERP", "curve_update_intensity": 256}, 400),
        ("market", {"symbol": "SOL-PERP", "contract_tier": "Z"}, 400),
        ("market", {"symbol": "SOL-PERP", "last_funding_rate": 2**63}, 400),
        ("market", {"symbol": "SOL-PERP", "base_asset_amount_short": 1}, 400),
        # more base than the AMM holds: refused whole, the valid field too
        (
            "market",
            {"symbol": "SOL-PERP", "base_spread": 7, "base_asset_amount_short": -(10**30)},
            400,
        ),
    ],
)
async def test_bad_patches_change_nothing(
    localnet: LocalnetServer, http: aiohttp.ClientSession, path: str, body: Any, status: int
) -> None:
    """Unknown market 404; unknown field, out-of-range value, bad JSON or an impossible
    position 400; the accounts stay byte for byte as they were."""
    before = {k: a.data for k, a in localnet.ledger._accounts.items()}
    got, answer = await _post(http, f"{localnet.url}/admin/{path}", body)
    assert got == status
    assert answer["error"]
    assert {k: a.data for k, a in localnet.ledger._accounts.items()} == before


async def test_websocket_drift_client_sees_spot_patch(
    localnet: LocalnetServer, http: aiohttp.ClientSession
) -> None:
    """A real driftpy DriftClient (websocket) sees a spot change made via /admin/spot."""
    async with drift_client(localnet.url, "websocket") as client:
        status, _ = await _post(
            http, f"{localnet.url}/admin/spot", {"symbol": "USDC", "borrow_balance": 4242}
        )
        assert status == 200

        def seen() -> bool:
            spot = client.get_spot_market_account(0)
            return spot is not None and spot.borrow_balance == 4242

        await wait_until(seen, timeout=5)
