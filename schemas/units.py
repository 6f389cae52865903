"""Funding and price unit conversions: the only place raw on-chain integers become percent.

Drift stores funding rates with FUNDING_RATE_PRECISION (1e9) in quote per base unit and
prices with PRICE_PRECISION (1e6). The hourly funding rate in percent is the rate divided
by the oracle TWAP it was computed against. (driftpy's examples/get_funding.py gets this
wrong: do not copy it.)
"""

from __future__ import annotations

__all__ = [
    "DRIFTPY_PCT_PRECISION",
    "FUNDING_RATE_PRECISION",
    "HOURS_PER_YEAR",
    "PRICE_PRECISION",
    "annualized_rate_pct",
    "hourly_rate_pct",
    "predicted_pct_from_driftpy",
    "price_from_raw",
    "select_twap",
]

FUNDING_RATE_PRECISION = 10**9
PRICE_PRECISION = 10**6
HOURS_PER_YEAR = 24 * 365.25
DRIFTPY_PCT_PRECISION = 10**6
"""driftpy's live funding estimates are percent * 1e6."""


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


def predicted_pct_from_driftpy(rate: int | float) -> float:
    """Percent from a driftpy `calculate_long_short_funding_and_live_twaps` estimate (% * 1e6)."""
    return rate / DRIFTPY_PCT_PRECISION


def price_from_raw(raw: int) -> float:
    """A price in quote units (USD) from its raw on-chain integer (1e6)."""
    return raw / PRICE_PRECISION
