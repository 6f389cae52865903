"""CCXT's unified `FundingRate` and `FundingRateHistory` structures, from our models.

Filled the way CCXT's binance fills them (`parse_funding_rate`,
`parse_funding_rate_history`): rates as decimals (our percents / 100), times in
milliseconds with ISO 8601 datetimes in CCXT's own format (`iso8601`, equal to
`ccxt.Exchange.iso8601`; CCXT itself is never imported here). For a Drift market:

| key | from |
|---|---|
| `fundingRate` | `predicted_long_hourly_pct`: the rate longs pay at the settlement in progress |
| `fundingTimestamp` | `next_funding_ts`: when that settlement can land |
| `previousFundingRate` | `hourly_rate_pct`: the last settled rate |
| `previousFundingTimestamp` | `last_funding_rate_ts` |
| `timestamp` | `ts` of the FundingRate: when it was observed |
| `markPrice`, `indexPrice` | the MarketSnapshot's `mark_price` and `oracle_price` |
| `estimatedSettlePrice` | `oracle_twap_live`: the oracle TWAP the settlement is measured against |
| `interval` | `funding_period_s` (`"1h"`) |

`interestRate` and `nextFunding*` stay None (Drift has neither); `info` holds both
models as JSON dicts, `{"funding": ..., "market": ...}` (`market` None when the
snapshot has expired, and with it `markPrice` and `indexPrice`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypedDict, TypeVar

from schemas import FundingRate, MarketSnapshot
from subscribers.ccxt.symbols import ccxt_symbol

__all__ = [
    "CcxtFundingRate",
    "CcxtFundingRateHistory",
    "check_limit",
    "filter_since_limit",
    "funding_rate",
    "funding_rate_history",
    "iso8601",
    "milliseconds",
]

_PRICE_PRECISION = 1e6
_HOUR_S = 3600


class CcxtFundingRate(TypedDict):
    """CCXT's unified FundingRate (`ccxt.base.types.FundingRate`), as we fill it."""

    info: dict[str, Any]
    symbol: str
    markPrice: float | None
    indexPrice: float | None
    interestRate: float | None
    estimatedSettlePrice: float | None
    timestamp: int
    datetime: str | None
    fundingRate: float | None
    fundingTimestamp: int | None
    fundingDatetime: str | None
    nextFundingRate: float | None
    nextFundingTimestamp: int | None
    nextFundingDatetime: str | None
    previousFundingRate: float | None
    previousFundingTimestamp: int | None
    previousFundingDatetime: str | None
    interval: str | None


class CcxtFundingRateHistory(TypedDict):
    """CCXT's unified FundingRateHistory (`ccxt.base.types.FundingRateHistory`): one
    settled funding."""

    info: dict[str, Any]
    symbol: str
    fundingRate: float | None
    timestamp: int
    datetime: str | None


def milliseconds(seconds: float) -> int:
    """Unix seconds as CCXT's integer milliseconds (to the nearest)."""
    return round(seconds * 1000)


def iso8601(timestamp: int | None) -> str | None:
    """CCXT's ISO 8601 of a millisecond timestamp (`2026-12-02T01:00:00.000Z`); None for
    None, a negative time or one past year 9999, as `ccxt.Exchange.iso8601` gives."""
    if timestamp is None or timestamp < 0:
        return None
    try:
        utc = datetime.fromtimestamp(timestamp // 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{timestamp % 1000:03d}Z"
    )


def _decimal(pct: float | None) -> float | None:
    return None if pct is None else pct / 100


def _ms(seconds: int | None) -> int | None:
    return None if seconds is None or seconds <= 0 else seconds * 1000


def _interval(period_s: int) -> str | None:
    if period_s <= 0:
        return None
    if period_s % _HOUR_S == 0:
        return f"{period_s // _HOUR_S}h"
    return f"{period_s // 60}m" if period_s % 60 == 0 else f"{period_s}s"


def funding_rate(funding: FundingRate, market: MarketSnapshot | None) -> CcxtFundingRate:
    """The unified FundingRate of one market's funding and (if live) its snapshot."""
    observed = milliseconds(funding.ts)
    settles = _ms(funding.next_funding_ts)
    settled = _ms(funding.last_funding_rate_ts)
    twap = funding.oracle_twap_live
    return {
        "info": {
            "funding": funding.model_dump(mode="json"),
            "market": None if market is None else market.model_dump(mode="json"),
        },
        "symbol": ccxt_symbol(funding.symbol),
        "markPrice": None if market is None else market.mark_price,
        "indexPrice": None if market is None else market.oracle_price,
        "interestRate": None,
        "estimatedSettlePrice": None if twap is None else twap / _PRICE_PRECISION,
        "timestamp": observed,
        "datetime": iso8601(observed),
        "fundingRate": _decimal(funding.predicted_long_hourly_pct),
        "fundingTimestamp": settles,
        "fundingDatetime": iso8601(settles),
        "nextFundingRate": None,
        "nextFundingTimestamp": None,
        "nextFundingDatetime": None,
        "previousFundingRate": _decimal(funding.hourly_rate_pct),
        "previousFundingTimestamp": settled,
        "previousFundingDatetime": iso8601(settled),
        "interval": _interval(funding.funding_period_s),
    }


def funding_rate_history(funding: FundingRate) -> CcxtFundingRateHistory:
    """The unified FundingRateHistory entry of the funding settled in `funding`."""
    settled = funding.last_funding_rate_ts * 1000
    return {
        "info": funding.model_dump(mode="json"),
        "symbol": ccxt_symbol(funding.symbol),
        "fundingRate": _decimal(funding.hourly_rate_pct),
        "timestamp": settled,
        "datetime": iso8601(settled),
    }


H = TypeVar("H", bound=CcxtFundingRateHistory)


def check_limit(limit: int | None) -> None:
    """ValueError unless `limit` is None or a positive number of entries."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of entries, not {limit}")


def filter_since_limit(entries: Sequence[H], since: int | None, limit: int | None) -> list[H]:
    """CCXT's `filter_by_since_limit` on entries sorted oldest first: those at or after
    `since` (ms); then, of at most `limit`, the oldest when `since` is given (pages
    forward from it, as Binance's API does) and else the newest."""
    check_limit(limit)
    kept = [e for e in entries if since is None or e["timestamp"] >= since]
    if limit is None:
        return kept
    return kept[:limit] if since is not None else kept[-limit:]
