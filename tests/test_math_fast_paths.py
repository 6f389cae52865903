"""The math's fast paths equal what they replace: `safe_div` is Rust's truncating `/`
for every sign, and `amm_with` is `dataclasses.replace`."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.math.safe_math import MathError, safe_div
from streamer.math.types import Amm, amm_with

_INTS = st.integers(min_value=-(2**128), max_value=2**128)
_FIELDS = [f.name for f in dataclasses.fields(Amm) if f.type in ("int", int)]


@settings(max_examples=500)
@given(_INTS, _INTS.filter(lambda b: b != 0))
def test_safe_div_truncates_toward_zero(a: int, b: int) -> None:
    assert safe_div(a, b) == int(Fraction(a, b))  # int() of a Fraction truncates


def test_safe_div_by_zero_raises() -> None:
    with pytest.raises(MathError):
        safe_div(5, 0)


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(_FIELDS), _INTS, max_size=6), st.integers(0, 2**64))
def test_amm_with_is_replace(changes: dict[str, int], reserve: int) -> None:
    amm = Amm(base_asset_reserve=reserve, sqrt_k=reserve + 1, oracle_source="PythPull")
    assert amm_with(amm, **changes) == dataclasses.replace(amm, **changes)  # type: ignore[arg-type]


def test_amm_with_refuses_an_unknown_field() -> None:
    with pytest.raises(KeyError):
        amm_with(Amm(), no_such_field=1)
