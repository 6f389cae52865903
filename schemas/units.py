"""Unit conversions: the only place raw on-chain integers become percent or quote units.

Drift stores funding rates with FUNDING_RATE_PRECISION (1e9) in quote per base unit and
prices with PRICE_PRECISION (1e6). The hourly funding rate in percent is the rate divided
by the oracle TWAP it was computed against. (driftpy's examples/get_funding.py gets this
wrong: do not copy it.)
"""

from __future__ import annotations

__all__ = [
    "FUNDING_RATE_PRECISION",
    "HOURS_PER_YEAR",
    "PERCENTAGE_PRECISION",
    "PREDICTED_PCT_PRECISION",
    "PRICE_PRECISION",
    "SPOT_UTILIZATION_PRECISION",
    "annualized_rate_pct",
    "hourly_rate_pct",
    "predicted_hourly_pct",
    "price_from_raw",
    "rate_pct",
    "select_twap",
    "token_amount",
    "utilization_pct",
]

FUNDING_RATE_PRECISION = 10**9
PRICE_PRECISION = 10**6
HOURS_PER_YEAR = 24 * 365.25
PREDICTED_PCT_PRECISION = 10**6
"""The SDK's live funding estimates (`calculateLongShortFundingRateAndLiveTwaps`) are
percent * 1e6: the UI shows `x * FUNDING_RATE_BUFFER_PRECISION (1e3) / 1e9` percent."""
PERCENTAGE_PRECISION = 10**6
"""Spot deposit and borrow rates: a yearly fraction * 1e6."""
SPOT_UTILIZATION_PRECISION = 10**6
"""Spot utilization: borrows / deposits * 1e6."""


def hourly_rate_pct(last_funding_rate: int, twap: int) -> float | None:
    """Hourly funding rate in percent: rate / 1e9 / (twap / 1e6) * 100; None if twap <= 0."""
    if twap <= 0:
        return None  # undefined: no price to divide by
    return last_funding_rate / FUNDING_RATE_PRECISION / (twap / PRICE_PRECISION) * 100


def annualized_rate_pct(hourly_pct: float) -> float:
    """Annualized funding rate in percent: hourly percent * 24 * 365.25 (simple, not compounded)."""
    return hourly_pct * HOURS_PER_YEAR


def select_twap(last_funding_oracle_twap: int, last_oracle_price_twap: int) -> int:
    """The TWAP funding is quoted against: `amm.last_funding_oracle_twap`, or the oracle's
    `historical_oracle_data.last_oracle_price_twap` when the former is 0 (never set)."""
    return last_funding_oracle_twap if last_funding_oracle_twap != 0 else last_oracle_price_twap


def predicted_hourly_pct(rate: int) -> float:
    """Percent per hour from a live funding estimate (percent * 1e6, see
    PREDICTED_PCT_PRECISION)."""
    return rate / PREDICTED_PCT_PRECISION


def rate_pct(rate: int) -> float:
    """Percent per year from a spot deposit or borrow rate (PERCENTAGE_PRECISION 1e6)."""
    return rate / PERCENTAGE_PRECISION * 100


def utilization_pct(utilization: int) -> float:
    """Percent from a spot utilization (SPOT_UTILIZATION_PRECISION 1e6)."""
    return utilization / SPOT_UTILIZATION_PRECISION * 100


def token_amount(raw: int, decimals: int) -> float:
    """Token units from a raw token amount with the mint's `decimals`."""
    return raw / float(10**decimals)


def price_from_raw(raw: int) -> float:
    """A price in quote units (USD) from its raw on-chain integer (1e6)."""
    return raw / PRICE_PRECISION
