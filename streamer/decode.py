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

from driftpy.decode.utils import decode_name
from driftpy.math.amm import calculate_bid_ask_price
from driftpy.math.funding import calculate_long_short_funding_and_live_twaps
from driftpy.types import OraclePriceData, PerpMarketAccount

from streamer.state import MarketState

__all__ = ["market_state"]

log = logging.getLogger("drift_stream.decode")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _variant(value: object) -> str:
    """`MarketStatus.FundingPaused()` -> `funding_paused`; `OracleSource.PythLazer1M()` ->
    `PythLazer1M` (oracle sources keep Drift's names)."""
    return type(value).__name__


def _snake(value: object) -> str:
    return _CAMEL.sub("_", _variant(value)).lower()


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
