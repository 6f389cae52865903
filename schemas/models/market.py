"""Market data models: a market's live snapshot, and the list of perp markets."""

from __future__ import annotations

from schemas.models.base import MarketModel, SchemaModel, WireModel
from schemas.models.fields import I64, U16, U64, Float, NonNegFloat, Symbol
from schemas.subjects import validate_symbol

__all__ = ["MarketList", "MarketSnapshot", "PerpMarketInfo"]


_MAX_INDEX_DIGITS = 6  # market indexes are u16


class MarketSnapshot(MarketModel):
    """Oracle, mark, bid/ask and open interest of one market, on `drift.<net>.market.<SYMBOL>`.

    Prices are in quote units (USD); open interest in base units, each side as a magnitude.
    """

    oracle_price: Float
    oracle_price_raw: I64
    """The oracle price as Drift's SDK reads it (PRICE_PRECISION 1e6)."""
    mm_oracle_price: Float | None = None
    """The market makers' oracle price on the AMM (`amm.mm_oracle_price`), None when inactive."""
    mm_oracle_price_raw: I64 | None = None
    mm_oracle_used: bool = False
    """Whether bid, ask and mark were priced with the MM oracle (else with the oracle)."""
    mark_price: Float | None = None
    bid_price: Float | None = None
    ask_price: Float | None = None
    priced_at: I64 | None = None
    """Unix seconds: the `now` bid, ask and mark were computed for (the AMM's spread
    decays with the time since its last oracle TWAP)."""
    open_interest: NonNegFloat
    open_interest_long: NonNegFloat | None = None
    open_interest_short: NonNegFloat | None = None
    status: str
    """Drift's MarketStatus in lower case, e.g. "active", "reduce_only"."""
    contract_type: str | None = None
    """e.g. "perpetual", "prediction"."""
    epoch: U64
    """Leader lease revision that wrote this value."""


class PerpMarketInfo(SchemaModel):
    """One element of MarketList: a perp market's index, symbol and oracle."""

    market_index: U16
    symbol: Symbol
    status: str | None = None
    oracle: str | None = None
    """The oracle account's base58 address."""
    oracle_source: str | None = None
    """e.g. "PythLazer", "PythPull", "Prelaunch"."""


class MarketList(WireModel):
    """Every perp market of a network, on `drift.<net>.markets`."""

    epoch: U64
    """Leader lease revision that wrote this value."""
    markets: tuple[PerpMarketInfo, ...] = ()

    def by_symbol(self) -> dict[str, PerpMarketInfo]:
        """Markets keyed by symbol (the first wins if a symbol repeats)."""
        result: dict[str, PerpMarketInfo] = {}
        for market in self.markets:
            result.setdefault(market.symbol, market)
        return result

    def get(self, market: str | int) -> PerpMarketInfo | None:
        """The market with this symbol (any case) or index, else None; never raises.

        An int, or a str of digits such as "0", is an index; any other str is a symbol.
        """
        if isinstance(market, bool):
            return None
        if isinstance(market, str) and market.isascii() and market.isdigit():
            if len(market) > _MAX_INDEX_DIGITS:  # int() refuses thousands of digits
                return None
            market = int(market)
        if isinstance(market, int):
            return next((m for m in self.markets if m.market_index == market), None)
        if not isinstance(market, str):
            return None
        try:
            symbol = validate_symbol(market)
        except ValueError:
            return None
        return next((m for m in self.markets if m.symbol == symbol), None)
