"""SpotMarketSnapshot: one spot market's oracle price, interest rates and pool sizes."""

from __future__ import annotations

from schemas.models.base import MarketModel
from schemas.models.fields import I64, U8, U64, U128, Float, NonNegFloat, SpotSymbol
from schemas.subjects import Network
from schemas.units import price_from_raw, rate_pct, token_amount, utilization_pct

__all__ = ["SpotMarketSnapshot"]


class SpotMarketSnapshot(MarketModel):
    """A spot market, published on `drift.<net>.spot.<Symbol>` and kept in `drift_spot`.

    `symbol` keeps Drift's on-chain case (`USDC`, `wBTC`, `jitoSOL`). Rates are the
    official SDK's `calculateDepositRate` / `calculateBorrowRate` / `calculateUtilization`,
    raw (`*_raw`) and in percent; amounts are token units, with the raw token amounts
    (10**decimals) beside them. Build it with `from_raw` so the unit conversion happens
    in one place.
    """

    symbol: SpotSymbol
    decimals: U8
    """The token mint's decimals: a raw amount is token units * 10**decimals."""
    oracle: str | None = None
    """The oracle account's base58 address."""
    oracle_source: str | None = None
    """e.g. "PythLazer", "PythPull", "QuoteAsset"."""
    oracle_price: Float
    oracle_price_raw: I64
    """The oracle price as Drift's SDK reads it (PRICE_PRECISION 1e6)."""
    deposit_apr_pct: Float | None = None
    """Yearly deposit interest rate, percent; None when the SDK's computation fails."""
    borrow_apr_pct: Float | None = None
    """Yearly borrow interest rate, percent; None when the SDK's computation fails."""
    utilization_pct: Float | None = None
    """Borrows / deposits, percent; None when the SDK's computation fails."""
    deposit_rate_raw: I64 | None = None
    """`calculateDepositRate`, raw (PERCENTAGE_PRECISION 1e6, yearly)."""
    borrow_rate_raw: I64 | None = None
    """`calculateBorrowRate`, raw (PERCENTAGE_PRECISION 1e6, yearly)."""
    utilization_raw: I64 | None = None
    """`calculateUtilization`, raw (SPOT_MARKET_UTILIZATION_PRECISION 1e6)."""
    total_deposits: NonNegFloat
    """Deposits in token units."""
    total_borrows: NonNegFloat
    """Borrows in token units."""
    total_deposits_raw: U128
    """Deposits as a raw token amount (10**decimals)."""
    total_borrows_raw: U128
    """Borrows as a raw token amount (10**decimals)."""
    status: str
    """Drift's MarketStatus in lower case, e.g. "active", "reduce_only"."""
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
        decimals: int,
        status: str,
        oracle_price: int,
        total_deposits: int,
        total_borrows: int,
        epoch: int,
        deposit_rate: int | None = None,
        borrow_rate: int | None = None,
        utilization: int | None = None,
        oracle: str | None = None,
        oracle_source: str | None = None,
        market_slot: int | None = None,
        oracle_slot: int | None = None,
    ) -> SpotMarketSnapshot:
        """Build from raw values: the oracle price (1e6), the SDK's rates (1e6) and token
        amounts (10**decimals). Pydantic errors (a ValueError) for values that don't fit."""
        if not 0 <= decimals <= 255:  # before 10**decimals: a broken account can say 2**32 - 1
            raise ValueError(f"spot market {symbol[:40]!r}: decimals {decimals} out of range")
        try:
            price = price_from_raw(oracle_price)
            deposits = token_amount(total_deposits, decimals)
            borrows = token_amount(total_borrows, decimals)
            deposit_pct = None if deposit_rate is None else rate_pct(deposit_rate)
            borrow_pct = None if borrow_rate is None else rate_pct(borrow_rate)
            used_pct = None if utilization is None else utilization_pct(utilization)
        except OverflowError as exc:  # an int too large for a float: not a real account
            raise ValueError(f"spot market {symbol[:40]!r}: {exc}") from exc
        return cls(
            network=network,
            slot=slot,
            ts=ts,
            market_index=market_index,
            symbol=symbol,
            market_slot=market_slot,
            oracle_slot=oracle_slot,
            decimals=decimals,
            oracle=oracle,
            oracle_source=oracle_source,
            oracle_price=price,
            oracle_price_raw=oracle_price,
            deposit_apr_pct=deposit_pct,
            borrow_apr_pct=borrow_pct,
            utilization_pct=used_pct,
            deposit_rate_raw=deposit_rate,
            borrow_rate_raw=borrow_rate,
            utilization_raw=utilization,
            total_deposits=deposits,
            total_borrows=borrows,
            total_deposits_raw=total_deposits,
            total_borrows_raw=total_borrows,
            status=status,
            epoch=epoch,
        )
