"""FundingRate: one perp market's funding, raw on-chain values plus percent conversions."""

from __future__ import annotations

from schemas.models.base import MarketModel
from schemas.models.fields import I64, U64, Float
from schemas.subjects import Network
from schemas.units import (
    annualized_rate_pct,
    hourly_rate_pct,
    predicted_hourly_pct,
    select_twap,
)

__all__ = ["FundingRate"]


class FundingRate(MarketModel):
    """Funding of one perp market, published on `drift.<net>.funding.<SYMBOL>`.

    Raw fields keep Drift's integer precisions (rates 1e9, prices 1e6); `*_pct` fields are
    percent per hour unless named otherwise. Build it with `from_raw` so the unit conversion
    happens in one place.
    """

    last_funding_rate: I64
    """`amm.last_funding_rate`, raw (FUNDING_RATE_PRECISION 1e9)."""
    last_funding_rate_long: I64 | None = None
    last_funding_rate_short: I64 | None = None
    last_funding_rate_ts: I64
    """Unix seconds of the last funding update on chain."""
    oracle_twap: I64
    """The TWAP the rate is quoted against, raw (PRICE_PRECISION 1e6); see `select_twap`."""
    hourly_rate_pct: Float | None = None
    """None when the TWAP is not positive (undefined)."""
    annualized_rate_pct: Float | None = None
    avg_24h_hourly_rate_pct: Float | None = None
    predicted_long_hourly_pct: Float | None = None
    """Live estimate of the next hourly rate paid by longs, percent."""
    predicted_short_hourly_pct: Float | None = None
    predicted_at: I64 | None = None
    """Unix seconds: the `now` the live estimate (and its live TWAPs) was computed for."""
    mark_twap_live: I64 | None = None
    """Live mark TWAP the estimate used, raw (1e6)."""
    oracle_twap_live: I64 | None = None
    """Live oracle TWAP the estimate used, raw (1e6)."""
    next_funding_ts: I64 | None = None
    """Unix seconds when the next funding update can land on chain (from
    `last_funding_rate_ts` and `funding_period`, the program's on-the-hour rule)."""
    funding_period_s: U64
    epoch: U64
    """Leader lease revision that wrote this value."""

    @classmethod
    def from_raw(
        cls,
        *,
        network: Network,
        slot: int,
        ts: float,
        market_index: int,
        symbol: str,
        last_funding_rate: int,
        last_funding_rate_ts: int,
        last_funding_oracle_twap: int,
        last_oracle_price_twap: int,
        last24h_avg_funding_rate: int,
        funding_period_s: int,
        epoch: int,
        predicted_long: int | None = None,
        predicted_short: int | None = None,
        last_funding_rate_long: int | None = None,
        last_funding_rate_short: int | None = None,
        predicted_at: int | None = None,
        mark_twap_live: int | None = None,
        oracle_twap_live: int | None = None,
        next_funding_ts: int | None = None,
        market_slot: int | None = None,
        oracle_slot: int | None = None,
    ) -> FundingRate:
        """Build from `PerpMarket.amm` fields; `predicted_*` are the SDK's estimates
        (percent * 1e6, see `schemas.units.predicted_hourly_pct`)."""
        twap = select_twap(last_funding_oracle_twap, last_oracle_price_twap)
        hourly = hourly_rate_pct(last_funding_rate, twap)
        return cls(
            network=network,
            slot=slot,
            ts=ts,
            market_index=market_index,
            symbol=symbol,
            last_funding_rate=last_funding_rate,
            last_funding_rate_long=last_funding_rate_long,
            last_funding_rate_short=last_funding_rate_short,
            last_funding_rate_ts=last_funding_rate_ts,
            oracle_twap=twap,
            hourly_rate_pct=hourly,
            annualized_rate_pct=None if hourly is None else annualized_rate_pct(hourly),
            avg_24h_hourly_rate_pct=hourly_rate_pct(last24h_avg_funding_rate, twap),
            predicted_long_hourly_pct=_predicted(predicted_long),
            predicted_short_hourly_pct=_predicted(predicted_short),
            predicted_at=predicted_at,
            mark_twap_live=mark_twap_live,
            oracle_twap_live=oracle_twap_live,
            next_funding_ts=next_funding_ts,
            market_slot=market_slot,
            oracle_slot=oracle_slot,
            funding_period_s=funding_period_s,
            epoch=epoch,
        )


def _predicted(rate: int | None) -> float | None:
    return None if rate is None else predicted_hourly_pct(rate)
