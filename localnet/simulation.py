"""A market simulation so data flows with nobody touching it.

Oracle prices take a small random walk every `price_interval_s`; every
`funding_interval_s` (3600 s on chain, shorter for demos) each market gets a funding
update: TWAPs catch up with the oracle, a new `last_funding_rate` is drawn near the
previous one, and the 24 h average follows it. Seeded, so a run can be repeated.
"""

from __future__ import annotations

import random
import time

from pydantic import BaseModel, ConfigDict, Field

from localnet.markets import DriftMarkets, PerpView

__all__ = ["MarketSimulator", "SimulationConfig"]


class SimulationConfig(BaseModel):
    """How the simulated market moves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price_interval_s: float = Field(default=1.0, gt=0)
    funding_interval_s: float = Field(default=3600.0, gt=0)
    volatility: float = Field(default=0.0005, ge=0, le=0.1)  # stdev of a price step
    markets_per_step: int | None = Field(default=None, gt=0)  # None: every market moves
    seed: int = 0


class MarketSimulator:
    """Steps prices and funding on a DriftMarkets; the server runs it on a timer."""

    def __init__(self, markets: DriftMarkets, config: SimulationConfig) -> None:
        self._markets = markets
        self.config = config
        self._rng = random.Random(config.seed)

    def step_prices(self) -> int:
        """Move oracle prices one step; returns how many markets moved."""
        perps = self._markets.perps
        n = self.config.markets_per_step
        chosen = perps if n is None or n >= len(perps) else self._rng.sample(perps, n)
        ts = int(time.time())
        for view in chosen:
            step = self._rng.gauss(0.0, self.config.volatility)
            price = max(round(view.oracle_price * (1.0 + step)), 1)
            if view.spec.prediction:
                price = min(max(price, 1_000), 999_000)  # a prediction market stays in (0, 1)
            self._markets.set_oracle_price(view.spec.market_index, price, ts=ts)
        return len(chosen)

    def update_funding(self, now: int | None = None) -> None:
        """A funding update on every market, as the keeper's settle-funding would do."""
        ts = int(time.time()) if now is None else now
        for view in self._markets.perps:
            self._markets.update_perp(view, **self._funding_fields(view, ts))

    def _funding_fields(self, view: PerpView, ts: int) -> dict[str, int]:
        amm = view.account.amm
        twap = view.oracle_price
        # The rate is quote per base (1e9) for one period: hourly fraction * price * 1e3.
        previous = amm.last_funding_rate / max(twap * 1_000, 1)
        fraction = 0.7 * previous + self._rng.gauss(0.0, 2e-5)
        fraction = min(max(fraction, -1e-3), 1e-3)
        rate = round(fraction * twap * 1_000)
        avg = round((23 * amm.last24h_avg_funding_rate + rate) / 24)
        mark_twap = round(twap * (1.0 + fraction * 24))
        return {
            "last_funding_rate": rate,
            "last_funding_rate_long": rate,
            "last_funding_rate_short": rate,
            "last24h_avg_funding_rate": avg,
            "last_funding_rate_ts": ts,
            "last_funding_oracle_twap": twap,
            "last_oracle_price_twap": twap,
            "last_mark_price_twap": max(mark_twap, 1),
        }
