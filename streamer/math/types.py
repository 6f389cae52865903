"""The decoded accounts Drift's math reads: plain frozen values, integers as on chain.

Field names are the program's (snake case, as driftpy and protocol-v2 spell them);
enums are their variant names (`"PythLazer1M"`, `"Active"`, `"A"`). Only the fields
the math reads are kept, so a value can be built from any decoder (driftpy today) and
from hypothesis strategies in the golden-vector tests.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass

__all__ = [
    "Amm",
    "HistoricalOracleData",
    "MMOraclePriceData",
    "OracleGuardRails",
    "OraclePriceData",
    "PerpMarket",
    "PriceReading",
    "SpotMarket",
]


@dataclass(frozen=True, slots=True)
class OraclePriceData:
    """An oracle reading as the SDK's oracle clients return it (PRICE_PRECISION 1e6)."""

    price: int
    slot: int
    confidence: int
    has_sufficient_number_of_data_points: bool = True
    twap: int | None = None
    twap_confidence: int | None = None
    max_price: int | None = None  # prelaunch oracles only
    sequence_id: int | None = None  # Pyth's publish time; None where the source has none


@dataclass(frozen=True, slots=True)
class MMOraclePriceData:
    """The price the AMM is quoted against: the MM oracle's or the oracle's."""

    price: int
    slot: int
    confidence: int
    has_sufficient_number_of_data_points: bool
    is_mm_oracle_active: bool
    mm_oracle_used: bool  # ours, not the SDK's: True when `price` is the MM oracle's


PriceReading = OraclePriceData | MMOraclePriceData
"""What the SDK's price math accepts for its `oraclePriceData` argument."""


@dataclass(frozen=True, slots=True)
class HistoricalOracleData:
    last_oracle_price: int = 0
    last_oracle_conf: int = 0
    last_oracle_delay: int = 0
    last_oracle_price_twap: int = 0
    last_oracle_price_twap5min: int = 0
    last_oracle_price_twap_ts: int = 0


@dataclass(frozen=True, slots=True)
class Amm:
    """The fields of `PerpMarket.amm` that funding, spread and price math read."""

    oracle_source: str = "PythLazer"
    historical_oracle_data: HistoricalOracleData = HistoricalOracleData()
    base_asset_reserve: int = 0
    quote_asset_reserve: int = 0
    sqrt_k: int = 0
    peg_multiplier: int = 0
    terminal_quote_asset_reserve: int = 0
    min_base_asset_reserve: int = 0
    max_base_asset_reserve: int = 0
    base_asset_amount_long: int = 0
    base_asset_amount_short: int = 0
    base_asset_amount_with_amm: int = 0
    base_asset_amount_with_unsettled_lp: int = 0
    total_exchange_fee: int = 0
    total_fee_minus_distributions: int = 0
    net_revenue_since_last_funding: int = 0
    last24h_avg_funding_rate: int = 0
    last_funding_rate_ts: int = 0
    funding_period: int = 3600
    last_mark_price_twap: int = 0
    last_mark_price_twap5min: int = 0
    last_mark_price_twap_ts: int = 0
    last_oracle_conf_pct: int = 0
    mark_std: int = 0
    oracle_std: int = 0
    long_intensity_volume: int = 0
    short_intensity_volume: int = 0
    volume24h: int = 0
    base_spread: int = 0  # u32
    max_spread: int = 0  # u32
    curve_update_intensity: int = 0  # u8
    amm_spread_adjustment: int = 0  # i8
    amm_inventory_spread_adjustment: int = 0  # i8
    reference_price_offset: int = 0  # i32
    reference_price_offset_deadband_pct: int = 0  # u8
    last_update_slot: int = 0
    mm_oracle_price: int = 0  # i64
    mm_oracle_slot: int = 0  # u64; 0: the MM oracle is inactive
    mm_oracle_sequence_id: int = 0  # u64


_AMM_FIELDS = tuple(f.name for f in dataclasses.fields(Amm))
_AMM_VALUES = operator.attrgetter(*_AMM_FIELDS)
_AMM_INDEX = {name: i for i, name in enumerate(_AMM_FIELDS)}


def amm_with(amm: Amm, **changes: int) -> Amm:
    """`dataclasses.replace(amm, **changes)` at a fraction of its cost (the repeg math
    makes a few per market update); an unknown field raises KeyError."""
    values = list(_AMM_VALUES(amm))
    for name, value in changes.items():
        values[_AMM_INDEX[name]] = value
    return Amm(*values)


@dataclass(frozen=True, slots=True)
class PerpMarket:
    market_index: int
    amm: Amm
    status: str = "Active"
    contract_type: str = "Perpetual"
    contract_tier: str = "A"


@dataclass(frozen=True, slots=True)
class OracleGuardRails:
    """`State.oracle_guard_rails`, flattened."""

    mark_oracle_percent_divergence: int = 0
    oracle_twap5min_percent_divergence: int = 0
    slots_before_stale_for_amm: int = 0
    slots_before_stale_for_margin: int = 0
    confidence_interval_max_size: int = 0
    too_volatile_ratio: int = 0


@dataclass(frozen=True, slots=True)
class SpotMarket:
    """The fields of a SpotMarket that balance and interest-rate math read."""

    market_index: int
    decimals: int
    deposit_balance: int = 0
    borrow_balance: int = 0
    cumulative_deposit_interest: int = 10**10
    cumulative_borrow_interest: int = 10**10
    optimal_utilization: int = 0  # u32, 1e6
    optimal_borrow_rate: int = 0  # u32, 1e6
    max_borrow_rate: int = 0  # u32, 1e6
    min_borrow_rate: int = 0  # u8, in 0.5 % steps
    insurance_fund_total_factor: int = 0  # u32, 1e6
    oracle_source: str = "PythLazer"
    status: str = "Active"
