"""Backoff: exponential, fully jittered, never above its cap."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.backoff import Backoff


@settings(max_examples=300)
@given(
    base=st.floats(0.01, 10),
    factor=st.floats(1, 10),
    cap=st.floats(0.01, 30),
    attempts=st.integers(0, 200),
    seed=st.integers(0, 2**32),
)
def test_delay_is_never_negative_nor_above_the_cap(
    base: float, factor: float, cap: float, attempts: int, seed: int
) -> None:
    """Property: every delay is in [0, cap], however many attempts failed."""
    backoff = Backoff(base, factor, cap, rng=random.Random(seed))
    for _ in range(attempts):
        assert 0.0 <= backoff.next_delay() <= cap


def test_bound_grows_then_saturates_at_the_cap() -> None:
    """The bound doubles from the base and stops at 30 s; reset starts over."""
    backoff = Backoff(0.5, 2.0, 30.0, rng=random.Random(1))
    bounds = []
    for _ in range(10):
        bounds.append(backoff.bound())
        backoff.next_delay()
    assert bounds == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
    backoff.reset()
    assert backoff.bound() == 0.5


def test_seeded_backoff_is_repeatable() -> None:
    """The same seed gives the same delays."""
    a = Backoff(rng=random.Random(7))
    b = Backoff(rng=random.Random(7))
    assert [a.next_delay() for _ in range(5)] == [b.next_delay() for _ in range(5)]


@pytest.mark.parametrize(("base", "factor", "cap"), [(0, 2, 30), (1, 0.5, 30), (1, 2, 0)])
def test_bad_parameters_are_refused(base: float, factor: float, cap: float) -> None:
    """Zero base or cap, or a shrinking factor, is a ValueError."""
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base, factor, cap)
