"""Wire values for tests, built the way the streamer builds them."""

from __future__ import annotations

import time
from typing import Any

from schemas import FundingRate, SpotMarketSnapshot
from schemas.subjects import Network


def funding_rate(
    symbol: str = "SOL-PERP",
    index: int = 0,
    *,
    network: Network = "local",
    last_funding_rate: int = 1_250_000,
    epoch: int = 3,
    **raw: Any,
) -> FundingRate:
    """A FundingRate with a 150.0 TWAP, observed now; `raw` sets more `from_raw` values."""
    values: dict[str, Any] = {
        "last_funding_rate_ts": 1,
        "last_funding_oracle_twap": 150_000_000,
        "last_oracle_price_twap": 150_000_000,
        "last24h_avg_funding_rate": 1_000_000,
        "funding_period_s": 3600,
        **raw,
    }
    return FundingRate.from_raw(
        network=network,
        slot=1,
        ts=time.time(),
        market_index=index,
        symbol=symbol,
        last_funding_rate=last_funding_rate,
        epoch=epoch,
        **values,
    )


def spot_market(
    symbol: str = "USDC",
    index: int = 0,
    *,
    network: Network = "local",
    decimals: int = 6,
    oracle_price: int = 1_000_000,
    deposit_rate: int = 35_000,
    epoch: int = 3,
) -> SpotMarketSnapshot:
    """A SpotMarketSnapshot with 1.5M tokens deposited and 0.9M borrowed, observed now."""
    return SpotMarketSnapshot.from_raw(
        network=network,
        slot=1,
        ts=time.time(),
        market_index=index,
        symbol=symbol,
        decimals=decimals,
        status="active",
        oracle_price=oracle_price,
        total_deposits=1_500_000 * 10**decimals,
        total_borrows=900_000 * 10**decimals,
        deposit_rate=deposit_rate,
        borrow_rate=60_000,
        utilization=600_000,
        epoch=epoch,
    )
