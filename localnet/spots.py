"""Spot market accounts with deposits, borrows, accrued interest and a rate curve.

Balances are scaled as the program keeps them (SPOT_BALANCE_PRECISION 1e9 per token
unit at the cumulative interest, which starts at 1e10 and only grows). Utilization is
spread over 0-100 % across the mainnet spot markets: the markets are ranked by a
stable draw, the first few lend nothing out, the last is borrowed out to 99.5 %, and
the rest sit evenly in between. The rate curve (optimal utilization and rate, max and
min rate) and the insurance fund's share of interest vary per market.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from typing import Any

from driftpy.addresses import get_spot_market_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.constants.spot_markets import mainnet_spot_market_configs
from driftpy.math.spot_balance import calculate_utilization
from driftpy.math.spot_market import get_token_amount
from driftpy.name import encode_name
from driftpy.types import AssetTier, MarketStatus, SpotBalanceType
from solders.pubkey import Pubkey

from localnet import codec
from localnet.draws import Draws
from localnet.presets import PRICE_PRECISION, SpotSpec

__all__ = [
    "SPOT_CUMULATIVE_INTEREST_PRECISION",
    "SpotView",
    "new_spot_account",
    "scaled_balance",
    "utilization_target",
]

SPOT_CUMULATIVE_INTEREST_PRECISION = 10**10
_ZERO_UTILIZATION = 4  # markets with no borrows at all
_STABLE = ("USD", "EUR")


@functools.cache
def _ranked() -> tuple[str, ...]:
    symbols = [c.symbol for c in mainnet_spot_market_configs]
    return tuple(sorted(symbols, key=lambda s: Draws(s).unit("utilization_rank")))


def utilization_target(symbol: str) -> float:
    """The share of deposits lent out, as a fraction (stable per symbol)."""
    ranked = _ranked()
    if symbol not in ranked:
        return Draws(symbol).uniform("utilization", 0.0, 0.95)
    rank, last = ranked.index(symbol), len(ranked) - 1
    if rank < _ZERO_UTILIZATION:
        return 0.0
    if rank == last:
        return 0.995
    return 0.02 + 0.93 * (rank - _ZERO_UTILIZATION) / (last - _ZERO_UTILIZATION)


def scaled_balance(tokens: int, decimals: int, cumulative_interest: int) -> int:
    """A token amount as a scaled balance (the inverse of the SDK's getTokenAmount)."""
    return int(tokens * 10 ** (19 - decimals) // cumulative_interest)


@dataclass(slots=True)
class SpotView:
    """What localnet currently serves for one spot market."""

    spec: SpotSpec
    account: Any  # the anchorpy SpotMarket object, mutated in place
    oracle_price: int
    address: Pubkey

    def to_json(self) -> dict[str, Any]:
        m = self.account
        deposits = get_token_amount(m.deposit_balance, m, SpotBalanceType.Deposit())
        borrows = get_token_amount(m.borrow_balance, m, SpotBalanceType.Borrow())
        return {
            "market_index": self.spec.market_index,
            "symbol": self.spec.symbol,
            "address": str(self.address),
            "oracle": str(self.spec.oracle),
            "oracle_source": str(self.spec.oracle_source),
            "oracle_price": self.oracle_price,
            "decimals": m.decimals,
            "status": type(m.status).__name__,
            "deposit_balance": m.deposit_balance,
            "borrow_balance": m.borrow_balance,
            "cumulative_deposit_interest": m.cumulative_deposit_interest,
            "cumulative_borrow_interest": m.cumulative_borrow_interest,
            "optimal_utilization": m.optimal_utilization,
            "optimal_borrow_rate": m.optimal_borrow_rate,
            "max_borrow_rate": m.max_borrow_rate,
            "min_borrow_rate": m.min_borrow_rate,
            "insurance_fund_total_factor": m.insurance_fund.total_factor,
            "last_interest_ts": m.last_interest_ts,
            "deposit_token_amount": deposits,
            "borrow_token_amount": borrows,
            "utilization": calculate_utilization(m),
        }


def new_spot_account(spec: SpotSpec, *, ts: int | None = None) -> Any:
    """The anchorpy SpotMarket object for a market, balances and rate curve included."""
    now = int(time.time()) if ts is None else ts
    d = Draws(spec.symbol)
    stable = any(spec.symbol.upper().startswith(s) for s in _STABLE)
    m = codec.template("SpotMarket")
    m.pubkey = get_spot_market_public_key(DRIFT_PROGRAM_ID, spec.market_index)
    m.market_index = spec.market_index
    m.name = encode_name(spec.symbol)
    m.oracle, m.oracle_source, m.mint = spec.oracle, spec.oracle_source, spec.mint
    m.decimals = spec.decimals
    m.status = MarketStatus.Active()
    m.asset_tier = AssetTier.COLLATERAL() if d.chance("collateral", 0.7) else AssetTier.CROSS()
    if (pool := re.search(r"-(\d+)$", spec.symbol)) is not None:
        m.pool_id = int(pool.group(1))
    m.orders_enabled = True
    m.order_step_size = m.min_order_size = 10 ** max(spec.decimals - 3, 0)
    m.order_tick_size = 100
    m.initial_asset_weight = 10_000 if stable else d.integer("asset_weight", 50, 90) * 100
    m.maintenance_asset_weight = min(m.initial_asset_weight + 500, 10_000)
    m.initial_liability_weight = 10_000 if stable else 20_000 - m.initial_asset_weight
    m.maintenance_liability_weight = min(m.initial_liability_weight, 15_000) - (
        0 if stable else 500
    )
    m.imf_factor = 0 if stable else d.integer("imf", 0, 2_000)
    m.optimal_utilization = d.choice("optimal_utilization", (700_000, 800_000, 850_000, 900_000))
    m.optimal_borrow_rate = d.integer("optimal_rate", 4, 20) * 10_000
    m.max_borrow_rate = d.integer("max_rate", 5, 30) * 100_000
    m.min_borrow_rate = 0 if d.chance("no_min_rate", 0.7) else d.integer("min_rate", 1, 10)
    m.insurance_fund.total_factor = d.integer("if_factor", 0, 20) * 10_000
    m.insurance_fund.user_factor = m.insurance_fund.total_factor // 2
    m.insurance_fund.revenue_settle_period = 3600
    # Interest accrued since launch: borrowers have paid more than depositors earned.
    grown = d.uniform("deposit_growth", 0.0, 0.3)
    m.cumulative_deposit_interest = round(SPOT_CUMULATIVE_INTEREST_PRECISION * (1 + grown))
    m.cumulative_borrow_interest = round(
        SPOT_CUMULATIVE_INTEREST_PRECISION * (1 + grown + d.uniform("borrow_growth", 0.0, 0.4))
    )
    usd = 3e8 if spec.symbol == "USDC" else d.log_uniform("deposits_usd", 1e4, 5e7)
    deposits = round(usd / (spec.price / PRICE_PRECISION) * 10**spec.decimals)
    borrows = round(deposits * utilization_target(spec.symbol))
    m.deposit_balance = scaled_balance(deposits, spec.decimals, m.cumulative_deposit_interest)
    m.borrow_balance = scaled_balance(borrows, spec.decimals, m.cumulative_borrow_interest)
    m.max_token_deposits = deposits * 2
    m.deposit_token_twap, m.borrow_token_twap = deposits, borrows
    m.utilization_twap = calculate_utilization(m)
    m.last_interest_ts = m.last_twap_ts = now
    h = m.historical_oracle_data
    h.last_oracle_price = h.last_oracle_price_twap = h.last_oracle_price_twap5min = spec.price
    h.last_oracle_conf = max(spec.price // 10_000, 1)
    h.last_oracle_price_twap_ts = now
    return m
