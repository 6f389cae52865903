"""`PerpView`: what localnet serves for one perp market (`SpotView` is in `localnet.spots`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey

from localnet.perps import PerpProfile
from localnet.presets import PerpSpec
from localnet.variants import status_name, tier_name

__all__ = ["PerpView"]


@dataclass(slots=True)
class PerpView:
    """What localnet currently serves for one perp market."""

    spec: PerpSpec
    profile: PerpProfile
    account: Any  # the anchorpy PerpMarket object, mutated in place
    oracle_price: int
    address: Pubkey

    def to_json(self) -> dict[str, Any]:
        amm = self.account.amm
        h = amm.historical_oracle_data
        return {
            "market_index": self.spec.market_index,
            "symbol": self.spec.symbol,
            "address": str(self.address),
            "oracle": str(self.spec.oracle),
            "oracle_source": str(self.spec.oracle_source),
            "oracle_price": self.oracle_price,
            "status": status_name(self.account.status),
            "contract_tier": tier_name(self.account.contract_tier),
            "last_funding_rate": amm.last_funding_rate,
            "last_funding_rate_long": amm.last_funding_rate_long,
            "last_funding_rate_short": amm.last_funding_rate_short,
            "last24h_avg_funding_rate": amm.last24h_avg_funding_rate,
            "last_funding_rate_ts": amm.last_funding_rate_ts,
            "last_funding_oracle_twap": amm.last_funding_oracle_twap,
            "last_oracle_price_twap": h.last_oracle_price_twap,
            "last_oracle_price_twap5min": h.last_oracle_price_twap5min,
            "last_oracle_price_twap_ts": h.last_oracle_price_twap_ts,
            "last_mark_price_twap": amm.last_mark_price_twap,
            "last_mark_price_twap5min": amm.last_mark_price_twap5min,
            "last_mark_price_twap_ts": amm.last_mark_price_twap_ts,
            "last_bid_price_twap": amm.last_bid_price_twap,
            "last_ask_price_twap": amm.last_ask_price_twap,
            "funding_period": amm.funding_period,
            "base_asset_amount_long": amm.base_asset_amount_long,
            "base_asset_amount_short": amm.base_asset_amount_short,
            "base_asset_amount_with_amm": amm.base_asset_amount_with_amm,
            "curve_update_intensity": amm.curve_update_intensity,
            "base_spread": amm.base_spread,
            "max_spread": amm.max_spread,
            "mm_oracle_mode": self.profile.mm.mode,
            "mm_oracle_price": amm.mm_oracle_price,
            "mm_oracle_slot": amm.mm_oracle_slot,
            "mm_oracle_sequence_id": amm.mm_oracle_sequence_id,
            "last_update_slot": amm.last_update_slot,
        }
