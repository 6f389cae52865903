"""The client's last-value mirror: properties 5 (consistency) and 6 (expiration)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subscribers.cache import CacheManager

TTL = 10.0
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from("abc"), st.integers(), st.floats(0, 15)),
        st.tuples(st.just("get"), st.sampled_from("abc"), st.just(0), st.just(0.0)),
        st.tuples(st.just("wait"), st.just(""), st.just(0), st.floats(0, 12)),
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(ops=ops)
async def test_consistency_and_expiration(ops: list[tuple[str, str, int, float]]) -> None:
    """Property 5: after a value is set, reads return exactly it until a newer one.
    Property 6: a read never returns a value whose KV write is older than the TTL."""
    now = [1_000.0]
    cache: CacheManager[int] = CacheManager(TTL, clock=lambda: now[0])
    model: dict[str, tuple[int, float]] = {}  # key -> (value, written_at)
    for op, key, value, arg in ops:
        if op == "set":
            written = now[0] - arg  # the KV write happened `arg` seconds ago
            await cache.set(key, value, written_at=written)
            model[key] = (value, written)
        elif op == "wait":
            now[0] += arg
        else:
            got = await cache.get(key)
            if key in model and now[0] - model[key][1] < TTL:
                assert got == model[key][0]
            else:
                assert got is None


async def test_hits_misses_and_future_write_times() -> None:
    """Reads are counted; a write time in the future is clamped to now (clock skew)."""
    now = [0.0]
    cache: CacheManager[str] = CacheManager(5, clock=lambda: now[0])
    await cache.set("k", "v", written_at=100.0)
    assert await cache.get("k") == "v"
    now[0] = 5.0
    assert await cache.get("k") is None
    assert await cache.get("other") is None
    assert (cache.stats.hits, cache.stats.misses, cache.stats.expired) == (1, 2, 1)
    assert cache.is_expired("k")
    with pytest.raises(ValueError, match="positive"):
        CacheManager(0)
