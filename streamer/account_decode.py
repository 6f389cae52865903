"""Our decoder of PerpMarket and SpotMarket accounts: only the fields the streamer reads.

`decode_perp` and `decode_spot` read them at the offsets `streamer.layout` computes from
Drift's IDL (one precompiled `struct` unpack each) straight into the math's dataclasses
(`streamer.math.types`), plus what the published state adds: the name, the oracle's
address, the funding fields the math does not read. Bytes that are not such an account
(short, another discriminator, an enum tag no variant has) raise the SourceError
(kind="decode") driftpy's coder raises through `streamer.idl.decode_account`.
`PerpAccount.full()` is that coder's complete decode, for any other field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any

from streamer.errors import SourceError
from streamer.idl import check_account, decode_account
from streamer.layout import LAYOUTS, Reader
from streamer.math.types import Amm, HistoricalOracleData, PerpMarket, SpotMarket

__all__ = [
    "AMM_INTS",
    "HISTORICAL_INTS",
    "SPOT_INTS",
    "PerpAccount",
    "SpotAccount",
    "decode_perp",
    "decode_spot",
]

HISTORICAL_INTS = tuple(f.name for f in fields(HistoricalOracleData))
"""`HistoricalOracleData`'s fields, all integers, in their order."""
AMM_INTS = tuple(f.name for f in fields(Amm))[2:]
"""`Amm`'s integer fields in their order (all but its first two)."""
SPOT_INTS = tuple(f.name for f in fields(SpotMarket))[:-2]
"""`SpotMarket`'s integer fields in their order (all but its last two)."""
# The decoders build these dataclasses positionally, in this field order.
if [f.name for f in fields(Amm)][:2] != ["oracle_source", "historical_oracle_data"] or [
    f.name for f in fields(SpotMarket)
][-2:] != ["oracle_source", "status"]:
    raise RuntimeError("Amm or SpotMarket changed its field order; update the decoders")


@dataclass(frozen=True, slots=True)
class PerpAccount:
    """A decoded PerpMarket: the math's values, and what the published state adds.
    `full()` gives driftpy's complete decode of the same bytes (anchorpy: some 30 times
    the cost of this one, paid on each call), or the object it was converted from."""

    market: PerpMarket
    name: bytes  # 32 bytes, space padded
    oracle: str  # the oracle account's address (base58)
    last_funding_rate: int
    last_funding_rate_long: int
    last_funding_rate_short: int
    last_funding_oracle_twap: int
    full: Callable[[], Any] = field(repr=False, compare=False)

    @property
    def market_index(self) -> int:
        return self.market.market_index

    @property
    def oracle_source(self) -> str:
        return self.market.amm.oracle_source


@dataclass(frozen=True, slots=True)
class SpotAccount:
    """A decoded SpotMarket: the math's values, its name and oracle's address. `full()`
    gives driftpy's complete decode of the same bytes, as `PerpAccount.full()` does."""

    market: SpotMarket
    name: bytes
    oracle: str
    full: Callable[[], Any] = field(repr=False, compare=False)

    @property
    def market_index(self) -> int:
        return self.market.market_index

    @property
    def oracle_source(self) -> str:
        return self.market.oracle_source


# Read first: the values not built into the math's dataclasses, then PerpMarket's own.
_PERP_HEAD = (
    "name",
    "amm.oracle",
    "amm.last_funding_rate",
    "amm.last_funding_rate_long",
    "amm.last_funding_rate_short",
    "amm.last_funding_oracle_twap",
    "market_index",
    "status",
    "contract_type",
    "contract_tier",
    "amm.oracle_source",
)
_HIST = slice(len(_PERP_HEAD), len(_PERP_HEAD) + len(HISTORICAL_INTS))
_PERP = Reader(
    LAYOUTS["PerpMarket"],
    (
        *_PERP_HEAD,
        *(f"amm.historical_oracle_data.{name}" for name in HISTORICAL_INTS),
        *(f"amm.{name}" for name in AMM_INTS),
    ),
)
_SPOT_PATHS = {"insurance_fund_total_factor": "insurance_fund.total_factor"}
_SPOT = Reader(
    LAYOUTS["SpotMarket"],
    ("name", "oracle", *(_SPOT_PATHS.get(n, n) for n in SPOT_INTS), "oracle_source", "status"),
)


def _read(kind: str, reader: Reader, data: bytes) -> tuple[Any, ...]:
    check_account(kind, data)
    try:
        return reader.read(data)
    except ValueError as exc:
        raise SourceError(f"{kind} does not decode: {exc}", kind="decode") from exc


def decode_perp(data: bytes) -> PerpAccount:
    """A PerpMarket account's bytes decoded; SourceError(kind="decode") if they are not one."""
    v = _read("PerpMarket", _PERP, data)
    name, oracle, rate, rate_long, rate_short, twap, index, status, kind, tier, source = v[
        : _HIST.start
    ]
    amm = Amm(source, HistoricalOracleData(*v[_HIST]), *v[_HIST.stop :])
    return PerpAccount(
        PerpMarket(index, amm, status, kind, tier),
        name,
        oracle,
        rate,
        rate_long,
        rate_short,
        twap,
        full=partial(decode_account, "PerpMarket", data),
    )


def decode_spot(data: bytes) -> SpotAccount:
    """A SpotMarket account's bytes decoded; SourceError(kind="decode") if they are not one."""
    v = _read("SpotMarket", _SPOT, data)
    return SpotAccount(
        SpotMarket(*v[2:]), v[0], v[1], full=partial(decode_account, "SpotMarket", data)
    )
