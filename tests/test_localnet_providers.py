"""Provider profiles at localnet: the rate limiter's per-method limits and Retry-After."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from localnet.faults import RateLimit, RateLimiter


@settings(max_examples=300, deadline=None)
@given(
    requests=st.integers(1, 12),
    per_method=st.none() | st.integers(1, 6),
    named=st.dictionaries(st.sampled_from("ab"), st.integers(1, 6), max_size=2),
    per_s=st.sampled_from([0.5, 1.0, 10.0]),
    calls=st.lists(
        st.tuples(st.floats(0, 3), st.lists(st.sampled_from("abc"), min_size=1, max_size=4)),
        max_size=50,
    ),
)
def test_limiter_with_named_method_limits_and_retry_after(
    requests: int,
    per_method: int | None,
    named: dict[str, int],
    per_s: float,
    calls: list[tuple[float, list[str]]],
) -> None:
    """Property: admitted calls never exceed the overall, per-method and named-method
    limits in any window; retry_after is 0 exactly when admit would pass; a refused
    request is admitted after waiting retry_after, and not before."""
    now = 0.0
    limit = RateLimit(requests=requests, per_s=per_s, per_method=per_method, methods=named)
    limiter = RateLimiter(limit, clock=lambda: now)
    admitted: list[tuple[float, str]] = []
    for step, methods in calls:
        now += step
        wait = limiter.retry_after(methods)
        if 0 < wait < math.inf:
            before = now
            if wait > 1e-6:  # far above float rounding: halfway is still too early
                now = before + wait / 2
                assert not limiter.admit(methods)
            now = before + wait
            assert limiter.retry_after(methods) == 0
        passed = limiter.admit(methods)
        assert passed == (wait < math.inf)
        if passed:
            admitted.extend((now, m) for m in methods)
    for t, _ in admitted:
        window = [m for s, m in admitted if t - per_s < s <= t]
        assert len(window) <= requests
        for m in "abc":
            cap = named.get(m, per_method)
            assert cap is None or window.count(m) <= cap
