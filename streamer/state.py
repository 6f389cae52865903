"""What the Drift side hands the publisher: one perp or spot market, in Drift's raw units.

`MarketState` and `SpotState` are plain values (ints as on chain or as the official
SDK computes them), built from decoded accounts by `streamer.decode` and turned into
wire models by `streamer.models`. Equal states publish equal models, so the publisher
compares states to skip unchanged markets.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MarketState", "SpotState"]


@dataclass(frozen=True, slots=True)
class MarketState:
    """One perp market as the streamer publishes it, in Drift's raw units."""

    market_index: int
    symbol: str
    status: str
    contract_type: str
    oracle: str
    oracle_source: str
    oracle_price: int | None  # PRICE_PRECISION (1e6), as the SDK reads the oracle
    oracle_slot: int | None  # slot of the oracle account version used (None: no oracle)
    last_funding_rate: int  # FUNDING_RATE_PRECISION (1e9)
    last_funding_rate_long: int
    last_funding_rate_short: int
    last24h_avg_funding_rate: int
    last_funding_rate_ts: int
    last_funding_oracle_twap: int
    last_oracle_price_twap: int
    funding_period: int
    base_asset_amount_long: int  # BASE_PRECISION (1e9)
    base_asset_amount_short: int  # negative, as on chain
    bid_price: int | None
    ask_price: int | None
    mark_price: int | None
    predicted_long: int | None  # percent * 1e6 (the SDK's estimate)
    predicted_short: int | None
    market_slot: int  # slot of the perp market account version used
    predicted_at: int | None = None  # unix seconds the estimate was computed for
    priced_at: int | None = None  # unix seconds bid/ask/mark were computed for
    mark_twap_live: int | None = None  # 1e6
    oracle_twap_live: int | None = None  # 1e6
    next_funding_ts: int | None = None
    mm_oracle_price: int | None = None  # 1e6; None while the MM oracle is inactive
    mm_oracle_used: bool = False


@dataclass(frozen=True, slots=True)
class SpotState:
    """One spot market as the streamer publishes it, in Drift's raw units."""

    market_index: int
    symbol: str  # Drift's name exactly as on chain ("USDC", "wBTC", "jitoSOL")
    status: str
    decimals: int
    oracle: str
    oracle_source: str
    oracle_price: int | None  # PRICE_PRECISION (1e6)
    oracle_slot: int | None
    market_slot: int
    deposit_rate: int | None  # PERCENTAGE_PRECISION (1e6), yearly; None if it fails
    borrow_rate: int | None
    utilization: int | None  # SPOT_MARKET_UTILIZATION_PRECISION (1e6)
    total_deposits: int  # token amount, raw (10**decimals)
    total_borrows: int
