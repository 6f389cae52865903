"""Decode driftpy's perp market accounts into plain values, then into wire models.

`market_state` is the only place that touches driftpy's objects and math; the wire
models are built from a `MarketState` by `funding_rate`, `market_snapshot` and
`market_info` (the unit conversion itself lives in `schemas.units`). driftpy's math
can raise on odd accounts (zero reserves, a missing oracle): those derived values come
out None, never an exception.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from driftpy.decode.utils import decode_name
from driftpy.math.amm import calculate_bid_ask_price
from driftpy.math.funding import calculate_long_short_funding_and_live_twaps
from driftpy.types import OraclePriceData, PerpMarketAccount

from schemas import FundingRate, MarketSnapshot, PerpMarketInfo
from schemas.subjects import Network
from schemas.units import PRICE_PRECISION

__all__ = ["MarketState", "funding_rate", "market_info", "market_snapshot", "market_state"]

log = logging.getLogger("drift_stream.decode")
BASE_PRECISION = 10**9
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _variant(value: object) -> str:
    """`MarketStatus.FundingPaused()` -> `funding_paused`; `OracleSource.PythLazer1M()` ->
    `PythLazer1M` (oracle sources keep Drift's names)."""
    return type(value).__name__


def _snake(value: object) -> str:
    return _CAMEL.sub("_", _variant(value)).lower()


@dataclass(frozen=True, slots=True)
class MarketState:
    """One perp market as the streamer publishes it, in Drift's raw units."""

    market_index: int
    symbol: str
    status: str
    contract_type: str
    oracle: str
    oracle_source: str
    oracle_price: int | None  # PRICE_PRECISION (1e6)
    oracle_slot: int | None
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
    predicted_long: int | None  # percent * 1e6
    predicted_short: int | None
    market_slot: int


async def market_state(
    market: PerpMarketAccount, oracle: OraclePriceData | None, now: int
) -> MarketState:
    """Everything the streamer needs from one perp market account and its oracle."""
    amm = market.amm
    bid = ask = mark = None
    predicted_long = predicted_short = None
    if oracle is not None:
        try:
            bid, ask = (int(x) for x in calculate_bid_ask_price(amm, oracle))
            mark = (bid + ask) // 2
            _, _, long_rate, short_rate = await calculate_long_short_funding_and_live_twaps(
                market, oracle, mark, now
            )
            predicted_long, predicted_short = int(long_rate), int(short_rate)
        except Exception as exc:  # driftpy math on an odd account: derived values unknown
            log.debug("derived prices of market %d unavailable: %r", market.market_index, exc)
            if mark is None:
                bid = ask = None
    return MarketState(
        market_index=int(market.market_index),
        symbol=str(decode_name(market.name)).strip().upper(),
        status=_snake(market.status),
        contract_type=_snake(market.contract_type),
        oracle=str(amm.oracle),
        oracle_source=_variant(amm.oracle_source),
        oracle_price=None if oracle is None else int(oracle.price),
        oracle_slot=None if oracle is None else int(oracle.slot),
        last_funding_rate=int(amm.last_funding_rate),
        last_funding_rate_long=int(amm.last_funding_rate_long),
        last_funding_rate_short=int(amm.last_funding_rate_short),
        last24h_avg_funding_rate=int(amm.last24h_avg_funding_rate),
        last_funding_rate_ts=int(amm.last_funding_rate_ts),
        last_funding_oracle_twap=int(amm.last_funding_oracle_twap),
        last_oracle_price_twap=int(amm.historical_oracle_data.last_oracle_price_twap),
        funding_period=int(amm.funding_period),
        base_asset_amount_long=int(amm.base_asset_amount_long),
        base_asset_amount_short=int(amm.base_asset_amount_short),
        bid_price=bid,
        ask_price=ask,
        mark_price=mark,
        predicted_long=predicted_long,
        predicted_short=predicted_short,
        market_slot=int(amm.last_update_slot),
    )


def funding_rate(
    state: MarketState, *, network: Network, slot: int, ts: float, epoch: int
) -> FundingRate:
    """The FundingRate of a market (SchemaError if its values are not publishable)."""
    return FundingRate.from_raw(
        network=network,
        slot=slot,
        ts=ts,
        market_index=state.market_index,
        symbol=state.symbol,
        last_funding_rate=state.last_funding_rate,
        last_funding_rate_long=state.last_funding_rate_long,
        last_funding_rate_short=state.last_funding_rate_short,
        last_funding_rate_ts=state.last_funding_rate_ts,
        last_funding_oracle_twap=state.last_funding_oracle_twap,
        last_oracle_price_twap=state.last_oracle_price_twap,
        last24h_avg_funding_rate=state.last24h_avg_funding_rate,
        funding_period_s=state.funding_period,
        epoch=epoch,
        predicted_long=state.predicted_long,
        predicted_short=state.predicted_short,
    )


def _price(raw: int | None) -> float | None:
    return None if raw is None else raw / PRICE_PRECISION


def market_snapshot(
    state: MarketState, *, network: Network, slot: int, ts: float, epoch: int
) -> MarketSnapshot | None:
    """The MarketSnapshot of a market; None while its oracle price is unknown."""
    if state.oracle_price is None:
        return None
    long_oi = state.base_asset_amount_long / BASE_PRECISION
    short_oi = abs(state.base_asset_amount_short) / BASE_PRECISION
    return MarketSnapshot(
        network=network,
        slot=slot,
        ts=ts,
        market_index=state.market_index,
        symbol=state.symbol,
        oracle_price=state.oracle_price / PRICE_PRECISION,
        oracle_price_raw=state.oracle_price,
        oracle_slot=state.oracle_slot,
        mark_price=_price(state.mark_price),
        bid_price=_price(state.bid_price),
        ask_price=_price(state.ask_price),
        open_interest=max(long_oi, short_oi),
        open_interest_long=long_oi,
        open_interest_short=short_oi,
        status=state.status,
        contract_type=state.contract_type,
        epoch=epoch,
    )


def market_info(state: MarketState) -> PerpMarketInfo:
    return PerpMarketInfo(
        market_index=state.market_index,
        symbol=state.symbol,
        status=state.status,
        oracle=state.oracle,
        oracle_source=state.oracle_source,
    )
