"""The market makers' oracle (`amm.mm_oracle_price/_slot/_sequence_id`) of a perp market.

A market maker posts its own price into the perp market account. The SDK prices the
AMM with it (`DriftClient.getMMOracleDataForPerpMarket`) only when it is set
(`mm_oracle_slot != 0`), more recent than the exchange oracle (by sequence id when
the two ids are close, else by slot), within 1 % of the oracle and not too far from
the 5-minute oracle TWAP. localnet gives each market one of four modes so that every
branch occurs:

- `inactive`: never posted (all three fields 0);
- `fresh`: posted with or after the oracle, a little off its price: used;
- `stale`: posted before the oracle's latest update (older sequence id, older slot,
  or both): the SDK falls back to the oracle;
- `divergent`: fresh but more than 1 % off the oracle: the SDK falls back.

Sequence ids are in the oracle's own unit (Pyth publish time: microseconds for Pyth
Lazer, seconds for Pyth pull) so the SDK's closeness test compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from localnet.draws import Draws

__all__ = [
    "DEFAULT_MM_ORACLE_SHARE",
    "INACTIVE",
    "MM_MODES",
    "MmMode",
    "MmOracle",
    "MmProfile",
    "OracleReading",
    "mm_profile",
]

MmMode = Literal["inactive", "fresh", "stale", "divergent"]
MM_MODES: tuple[MmMode, ...] = ("inactive", "fresh", "stale", "divergent")
DEFAULT_MM_ORACLE_SHARE = 0.5
_SequenceStyle = Literal["near", "zero", "far"]  # mm id close to, unset, or far from the oracle's
_StaleBy = Literal["sequence", "slot", "both"]


@dataclass(frozen=True, slots=True)
class OracleReading:
    """An oracle as the SDK reads it: price at the market's scale, slot, sequence id."""

    price: int
    slot: int
    sequence_id: int | None  # Pyth publish time; None for sources without one


@dataclass(frozen=True, slots=True)
class MmOracle:
    """The three MM oracle fields of `PerpMarket.amm`."""

    price: int
    slot: int
    sequence_id: int


INACTIVE = MmOracle(0, 0, 0)


@dataclass(frozen=True, slots=True)
class MmProfile:
    """How one market's MM oracle behaves (drawn from its symbol)."""

    mode: MmMode
    offset: float  # price over the oracle's, as a fraction (beyond 1 % when divergent)
    sequence_style: _SequenceStyle
    stale_by: _StaleBy
    lead: int  # how much later than the oracle's a fresh sequence id is (oracle units)
    lag: int  # how much older a stale sequence id is (oracle units)
    lag_slots: int

    def quote(self, oracle: OracleReading) -> MmOracle:
        """What the market maker has posted, given the exchange oracle's latest reading."""
        if self.mode == "inactive":
            return INACTIVE
        price = max(1, round(oracle.price * (1.0 + self.offset)))
        seq = oracle.sequence_id
        if self.mode == "stale":
            by = self.stale_by if seq else "slot"
            slot = oracle.slot - (self.lag_slots if by != "sequence" else 0)
            sequence = seq - self.lag if seq and by != "slot" else 0
            return MmOracle(price, slot, sequence)
        if not seq or self.sequence_style == "zero":
            return MmOracle(price, oracle.slot, 0)
        if self.sequence_style == "far":
            return MmOracle(price, oracle.slot, seq // 1_000)  # another unit: ids not comparable
        return MmOracle(price, oracle.slot, seq + self.lead)


def mm_profile(symbol: str, share: float, sequence_unit_us: bool) -> MmProfile:
    """The MM oracle profile of a market; about `share` of all markets have one.

    A market with an MM oracle at some share keeps it at every larger share.
    `sequence_unit_us`: the oracle's sequence ids are microseconds (else seconds).
    """
    d = Draws(symbol)
    mode: MmMode = "inactive"
    if d.unit("mm_oracle") < share:
        mode = d.weighted("mm_mode", (("fresh", 0.6), ("stale", 0.2), ("divergent", 0.2)))
    offset = d.uniform("mm_offset", -0.003, 0.003)
    if mode == "divergent":
        offset = d.choice("mm_divergence_sign", (-1.0, 1.0)) * d.uniform(
            "mm_divergence", 0.012, 0.04
        )
    unit = 1_000_000 if sequence_unit_us else 1
    return MmProfile(
        mode=mode,
        offset=offset,
        sequence_style=d.weighted("mm_sequence", (("near", 0.7), ("zero", 0.15), ("far", 0.15))),
        stale_by=d.choice("mm_stale_by", ("sequence", "slot", "both")),
        lead=d.integer("mm_lead_us", 1_000, 400_000) if sequence_unit_us else 1,
        lag=d.integer("mm_lag_s", 2, 20) * unit,
        lag_slots=d.integer("mm_lag_slots", 3, 40),
    )
