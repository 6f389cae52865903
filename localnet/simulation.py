"""A market simulation so data flows with nobody touching it.

Every `price_interval_s`: oracle prices take a small random walk (spot-only oracles
too, stable coins excepted), each market with an MM oracle re-quotes it after its
oracle moved (a fresh one now and then misses a step and goes stale for a while),
and some markets' AMMs update (a fill, a mark-TWAP crank or an oracle-TWAP update, as
`localnet.dynamics` describes), so mark TWAPs drift from oracle TWAPs, a premium on
some markets and a discount on others, with timestamps either way round. Every
`funding_interval_s` (3600 s on chain, shorter for demos) each market settles
funding from its TWAPs and spot markets accrue interest. Seeded: the same seed, start
and `now`s give the same accounts.
"""

from __future__ import annotations

import dataclasses
import random
import time

from pydantic import BaseModel, ConfigDict, Field

from localnet.dynamics import AMM_EVENTS, accrue_spot, amm_event, funding_update
from localnet.markets import DriftMarkets, PerpView
from localnet.mm_oracle import DEFAULT_MM_ORACLE_SHARE
from localnet.oracles import source_name

__all__ = ["MarketSimulator", "SimulationConfig"]


class SimulationConfig(BaseModel):
    """How the simulated market moves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price_interval_s: float = Field(default=1.0, gt=0)
    funding_interval_s: float = Field(default=3600.0, gt=0)
    volatility: float = Field(default=0.0005, ge=0, le=0.1)  # stdev of a price step
    markets_per_step: int | None = Field(default=None, gt=0)  # None: every market moves
    mm_oracle_share: float = Field(default=DEFAULT_MM_ORACLE_SHARE, ge=0, le=1)
    mm_miss_chance: float = Field(default=0.03, ge=0, le=1)  # a fresh MM skips a step
    seed: int = 0


class MarketSimulator:
    """Steps prices, AMMs and funding on a DriftMarkets; the server runs it on a timer."""

    def __init__(self, markets: DriftMarkets, config: SimulationConfig) -> None:
        self._markets = markets
        self.config = config
        self._rng = random.Random(config.seed)
        perps = markets.perps
        self._premium = {v.spec.market_index: v.profile.mark_premium for v in perps}
        self._amm_premium = {v.spec.market_index: v.profile.amm_premium for v in perps}
        self._mm_offset = {v.spec.market_index: v.profile.mm.offset for v in perps}
        perp_oracles = {str(v.spec.oracle) for v in perps}
        self._spot_only = [
            s
            for s in markets.spots
            if str(s.spec.oracle) not in perp_oracles
            and "StableCoin" not in source_name(s.spec.oracle_source)
        ]

    def step_prices(self, now: float | None = None) -> int:
        """One price step: oracles, MM oracles, some AMMs; returns how many markets moved."""
        ts = time.time() if now is None else now
        perps = self._markets.perps
        n = self.config.markets_per_step
        chosen = perps if n is None or n >= len(perps) else self._rng.sample(perps, n)
        for view in chosen:
            self._markets.set_oracle_price(view.spec.market_index, self._walk(view), ts=ts)
        for spot in self._spot_only:
            step = self._rng.gauss(0.0, self.config.volatility)
            price = max(round(spot.oracle_price * (1.0 + step)), 1)
            self._markets.set_spot_oracle_price(spot.spec.market_index, price, ts=ts)
        moved = {str(v.spec.oracle) for v in chosen}
        for view in perps:
            fields = self._mm_fields(view) if str(view.spec.oracle) in moved else {}
            if self._rng.random() < view.profile.activity:
                fields.update(self._amm_fields(view, int(ts)))
            if fields:
                self._markets.update_perp(view, **fields)
        return len(chosen)

    def update_funding(self, now: int | None = None) -> None:
        """A funding update on every market, as the keeper's settle-funding would do, and
        interest accrued on every spot market."""
        ts = int(time.time()) if now is None else now
        for view in self._markets.perps:
            mark = round(view.oracle_price * (1 + self._premium[view.spec.market_index]))
            fields = funding_update(view.account, view.oracle_price, max(mark, 1), ts, self._rng)
            self._markets.update_perp(view, **fields)
        for spot in self._markets.spots:
            self._markets.update_spot(spot, **accrue_spot(spot.account, ts, self._rng))

    # -- one market ----------------------------------------------------------------
    def _walk(self, view: PerpView) -> int:
        step = self._rng.gauss(0.0, self.config.volatility)
        price = max(round(view.oracle_price * (1.0 + step)), 1)
        if view.spec.prediction:
            price = min(max(price, 1_000), 999_000)  # a prediction market stays in (0, 1)
        return price

    def _mm_fields(self, view: PerpView) -> dict[str, int]:
        """The MM's new quote after its oracle moved (none: it missed this step)."""
        mm = view.profile.mm
        if mm.mode == "inactive" or (
            mm.mode == "fresh" and self._rng.random() < self.config.mm_miss_chance
        ):
            return {}
        index = view.spec.market_index
        offset = self._mm_offset[index]
        if mm.mode == "divergent":
            offset = mm.offset * (1.0 + self._rng.gauss(0.0, 0.05))
            offset = max(abs(offset), 0.011) * (1 if mm.offset > 0 else -1)
        else:
            offset = min(max(0.9 * offset + self._rng.gauss(0.0, 0.0005), -0.005), 0.005)
            self._mm_offset[index] = offset
        quote = dataclasses.replace(mm, offset=offset).quote(self._markets.oracle_reading(view))
        return {
            "mm_oracle_price": quote.price,
            "mm_oracle_slot": quote.slot,
            "mm_oracle_sequence_id": quote.sequence_id,
        }

    def _amm_fields(self, view: PerpView, now: int) -> dict[str, int]:
        index = view.spec.market_index
        target = view.profile.mark_premium
        premium = self._premium[index]
        premium += 0.05 * (target - premium) + self._rng.gauss(0.0, 0.0003)
        self._premium[index] = premium = min(max(premium, -0.01), 0.01)
        amm_premium = 0.9 * self._amm_premium[index] + self._rng.gauss(0.0, 0.0003)
        self._amm_premium[index] = amm_premium = min(max(amm_premium, -0.003), 0.003)
        kind = self._rng.choices(AMM_EVENTS, weights=(0.5, 0.25, 0.25))[0]
        return amm_event(
            kind,
            view.account.amm,
            view.oracle_price,
            mark_premium=premium,
            amm_premium=amm_premium,
            oi_style=view.profile.oi_style,
            now=now,
            rng=self._rng,
        )
