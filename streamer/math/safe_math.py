"""Integer and number semantics of Drift's program and SDK, named so none is mistaken.

The program divides with Rust `/` and the SDK with bn.js `.div`: both truncate toward
zero. Python's `//` floors (`-7 // 2 == -4`, Drift says -3), so no module of this
package uses `//` on a value that can be negative: they call `safe_div`.

The SDK also crosses into float64 in places (spreads): `to_number` and `bn_from_number`
are its `BN.toNumber()` and `new BN(number)`, with the same failures. Every failure the
SDK would throw is a `MathError` here, with the same `kind`, so golden vectors compare
"both fail" too.
"""

from __future__ import annotations

import math

__all__ = [
    "MAX_SAFE_NUMBER",
    "MathError",
    "bn_from_number",
    "bn_str_le",
    "bn_str_lt",
    "ceil_div",
    "clamp",
    "js_ceil",
    "js_floor",
    "js_sign",
    "js_trunc",
    "pow10",
    "safe_div",
    "sig_num",
    "square_root",
    "to_number",
    "umod",
]

MAX_SAFE_NUMBER = 2**53
"""bn.js converts to and from a JS number only below this magnitude."""


# What the SDK throws for each kind of failure (bn.js's own asserts say no more).
_SDK_MESSAGES = {
    "div_by_zero": "Assertion failed",
    "unsafe_number": "Assertion failed",  # new BN(number) past 2**53
    "to_number": "Number can only safely store up to 53 bits",
    "sqrt_negative": "Sqrt only works on non-negtiave inputs",
}


class MathError(ArithmeticError):
    """A computation the SDK would abort: `kind` is "div_by_zero", "unsafe_number",
    "to_number", "sqrt_negative" or "assert"; `sdk_message` is the message the SDK's
    error carries there (the golden vectors compare it)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.sdk_message = _SDK_MESSAGES.get(kind, message)


def safe_div(a: int, b: int) -> int:
    """a / b truncated toward zero (Rust `/`, bn.js `div`/`divn`); MathError on b == 0."""
    if b > 0 and a >= 0:  # the common case: floor and truncation agree
        return a // b
    if b == 0:
        raise MathError("div_by_zero", f"{a} / 0")
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def ceil_div(a: int, b: int) -> int:
    """The SDK's `divCeil`: `a.div(b)`, plus one when the remainder (sign of `a`) is > 0."""
    q = safe_div(a, b)
    return q + 1 if a - q * b > 0 else q


def pow10(exponent: int) -> int:
    """bn.js `TEN.pow(new BN(e))`: the exponent's sign is ignored (10 ** |e|)."""
    result: int = 10 ** abs(exponent)
    return result


def umod(a: int, b: int) -> int:
    """bn.js `umod`: the remainder of a / |b|, never negative; MathError on b == 0."""
    if b == 0:
        raise MathError("div_by_zero", f"{a} umod 0")
    return a % abs(b)


def clamp(x: int, low: int, high: int) -> int:
    """The SDK's `clampBN`: max(low, min(x, high)) (low wins if the bounds cross)."""
    return max(low, min(x, high))


def sig_num(x: int) -> int:
    """The SDK's `sigNum`: -1 for negative values, else 1 (zero counts as positive)."""
    return -1 if x < 0 else 1


def square_root(n: int) -> int:
    """The SDK's `squareRootBN`: floor(sqrt(n)); MathError for negative n."""
    if n < 0:
        raise MathError("sqrt_negative", f"square root of {n}")
    return math.isqrt(n)


def to_number(x: int) -> float:
    """bn.js `toNumber()`: the value as a float64; MathError from 2**53 in magnitude."""
    if abs(x) >= MAX_SAFE_NUMBER:
        raise MathError("to_number", f"{x} does not fit a JS number")
    return float(x)


def bn_from_number(x: float) -> int:
    """bn.js `new BN(number)`: truncates toward zero, NaN is 0 (`number || 0`); MathError
    for an infinity or from 2**53 in magnitude."""
    if math.isnan(x):
        return 0
    if math.isinf(x) or abs(x) >= MAX_SAFE_NUMBER:
        raise MathError("unsafe_number", f"new BN({x})")
    return math.trunc(x)


def js_floor(x: float) -> float:
    """JS `Math.floor`: a float, and infinities and NaN pass through (Python's raises)."""
    return float(math.floor(x)) if math.isfinite(x) else x


def js_ceil(x: float) -> float:
    """JS `Math.ceil` (see `js_floor`)."""
    return float(math.ceil(x)) if math.isfinite(x) else x


def js_trunc(x: float) -> float:
    """JS `Math.trunc` (see `js_floor`)."""
    return float(math.trunc(x)) if math.isfinite(x) else x


def js_sign(x: float) -> float:
    """JS `Math.sign`: -1.0, 0.0 or 1.0 (NaN stays NaN)."""
    if math.isnan(x):
        return x
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


def bn_str_le(a: int, b: int) -> bool:
    """JS `a <= b` on two BNs: they compare as decimal strings, lexicographically.

    The SDK's `getMMOracleDataForPerpMarket` compares slots and sequence ids so; for
    numbers of equal digit count (every mainnet slot today) this is numeric order.
    """
    return str(a) <= str(b)


def bn_str_lt(a: int, b: int) -> bool:
    """JS `a < b` on two BNs (decimal strings, lexicographically; see `bn_str_le`)."""
    return str(a) < str(b)
