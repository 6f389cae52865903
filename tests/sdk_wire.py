"""The wire of the SDK harness, Python side: our values in, the SDK's results out.

`encode` turns an argument into the harness's tagged JSON: `int` -> BN (`{"$bn":
"..."}`, integers always cross as decimal strings), `float` -> JS number (`num(i)` for
an integer the SDK takes as a number), `None` -> undefined, `enum("Deposit")` -> an
SDK enum, and the dataclasses of `streamer.math.types` -> SDK objects built on the
SDK's own templates (`PerpMarket` -> `$perpMarket` with nested `amm` and
`historical_oracle_data`; `OracleGuardRails` -> the State's nested `oracleGuardRails`,
`state(rails)` for a whole State; `SpotMarket.insurance_fund_total_factor` ->
`insurance_fund.total_factor`). `decode` reads results: `$bn` -> int, `$num` -> float
(non-finite included), `$enum` -> the variant name. `SdkError` is a call the SDK threw on.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from streamer.math.types import (
    Amm,
    MMOraclePriceData,
    OracleGuardRails,
    OraclePriceData,
    PerpMarket,
    SpotMarket,
)

__all__ = [
    "Call",
    "SdkError",
    "bn",
    "decode",
    "encode",
    "enum",
    "mm_oracle_data",
    "num",
    "state",
]

_SAFE_INTEGER = 2**53 - 1


@dataclasses.dataclass(frozen=True, slots=True)
class SdkError:
    """The SDK threw: its error's type (`Error`, `TypeError`, ...) and message."""

    type: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Call:
    """One SDK call for `SdkReference.batch`: `Call("calculatePrice", b, q, peg, now=...)`."""

    fn: str
    args: tuple[Any, ...]
    now: int | None

    def __init__(self, fn: str, *args: Any, now: int | None = None) -> None:
        object.__setattr__(self, "fn", fn)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "now", now)

    def wire(self) -> dict[str, Any]:
        """The call as the harness reads it."""
        call: dict[str, Any] = {"fn": self.fn, "args": [encode(a) for a in self.args]}
        if self.now is not None:
            call["now"] = self.now
        return call


def bn(value: int) -> dict[str, str]:
    """An integer the SDK takes as a BN."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"bn() takes an int, got {value!r}")
    return {"$bn": str(value)}


def state(rails: OracleGuardRails) -> dict[str, Any]:
    """A State with these oracle guard rails (the rest zero), for calls that take a State."""
    return {"$state": {"oracle_guard_rails": _guard_rails(rails)}}


def enum(variant: str) -> dict[str, str]:
    """An enum argument by its variant name (`enum("Deposit")` -> the SDK's {deposit: {}})."""
    return {"$enum": variant}


def num(value: float) -> float:
    """A value the SDK takes as a JS number; integers must be exact in float64."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SAFE_INTEGER:
        raise ValueError(f"{value} is not exact as a JS number: pass it as bn()")
    if not math.isfinite(value):
        raise ValueError(f"JSON has no {value}")
    return value


def _fields(value: Any) -> dict[str, Any]:
    """A dataclass's fields as object fields: integers as decimal strings."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            out[field.name] = _fields(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            out[field.name] = str(item)
        else:
            out[field.name] = item
    return out


def _guard_rails(rails: OracleGuardRails) -> dict[str, Any]:
    """Our flat guard rails nested as `State.oracle_guard_rails` is."""
    f = _fields(rails)
    return {
        "price_divergence": {
            k: f[k]
            for k in ("mark_oracle_percent_divergence", "oracle_twap5min_percent_divergence")
        },
        "validity": {
            k: f[k]
            for k in (
                "slots_before_stale_for_amm",
                "slots_before_stale_for_margin",
                "confidence_interval_max_size",
                "too_volatile_ratio",
            )
        },
    }


def _oracle(value: OraclePriceData | MMOraclePriceData) -> dict[str, Any]:
    fields = {k: v for k, v in _fields(value).items() if v is not None}
    fields.pop("mm_oracle_used", None)  # ours, not the SDK's
    return {"$oracle": fields}


def encode(value: Any) -> Any:
    """A Python value as a harness argument (see the module docstring)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return bn(value)
    if isinstance(value, float):
        return num(value)
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, PerpMarket):
        return {"$perpMarket": _fields(value)}
    if isinstance(value, Amm):
        return {"$amm": _fields(value)}
    if isinstance(value, SpotMarket):
        fields = _fields(value)
        fields["insurance_fund"] = {"total_factor": fields.pop("insurance_fund_total_factor")}
        return {"$spotMarket": fields}
    if isinstance(value, OracleGuardRails):
        return {"$oracleGuardRails": _guard_rails(value)}
    if isinstance(value, OraclePriceData | MMOraclePriceData):
        return _oracle(value)
    raise TypeError(f"no SDK encoding for {type(value).__name__}")


def decode(value: Any) -> Any:
    """A harness result as Python: `$bn` -> int, `$num` -> float, `$enum` -> str."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, inner),) = value.items()
            if tag == "$bn":
                return int(inner)
            if tag == "$num":
                return float(inner)  # also "NaN", "Infinity", "-Infinity"
            if tag == "$enum":
                return str(inner)
        return {k: decode(v) for k, v in value.items()}
    return value


def mm_oracle_data(result: dict[str, Any]) -> MMOraclePriceData:
    """Our `MMOraclePriceData` from the harness's `getMMOracleDataForPerpMarket` result."""
    return MMOraclePriceData(
        price=result["price"],
        slot=result["slot"],
        confidence=result["confidence"],
        has_sufficient_number_of_data_points=result["hasSufficientNumberOfDataPoints"],
        is_mm_oracle_active=result["isMMOracleActive"],
        mm_oracle_used=result["mmOracleUsed"],
    )
