"""The feed's small parts without a network: pacing, the 413 cap hint, the account
store's version rule, market-name parsing."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.feed.answers import cap_hint
from streamer.feed.discovery import parse_markets
from streamer.feed.pacing import Pacer, PacingConfig
from streamer.feed.store import AccountStore, Version

METHODS = st.sampled_from(["getMultipleAccounts", "getAccountInfo", "getSlot"])


@settings(max_examples=300, deadline=None)
@given(
    rate=st.floats(0.5, 50),
    method_rate=st.floats(0.5, 50),
    calls=st.lists(st.tuples(METHODS, st.floats(0, 2)), min_size=1, max_size=60),
    hold=st.floats(0, 5),
)
def test_pacer_spaces_requests_under_both_rates(
    rate: float, method_rate: float, calls: list[tuple[str, float]], hold: float
) -> None:
    """Whatever the arrival times, requests go at least 1/rate apart overall and
    1/method_rate apart per method, and none before a Retry-After hold ends."""
    now = [0.0]
    pacer = Pacer(PacingConfig(rate=rate, method_rate=method_rate), clock=lambda: now[0])
    pacer.hold(hold)
    sent: list[tuple[str, float]] = []
    for method, gap in calls:
        now[0] += gap
        now[0] += pacer.delay(method)
        assert pacer.delay(method) == 0
        pacer.take(method)
        sent.append((method, now[0]))
    eps = 1e-6
    assert sent[0][1] >= hold - eps
    for (_, a), (_, b) in itertools.pairwise(sent):
        assert b - a >= 1 / rate - eps
    for method in {m for m, _ in sent}:
        times = [t for m, t in sent if m == method]
        for a, b in itertools.pairwise(times):
            assert b - a >= 1 / method_rate - eps


def test_cap_hint_reads_a_stated_limit_only_below_what_was_sent() -> None:
    """A 413 that states its limit teaches it at once; one that does not, nothing."""
    assert cap_hint("getMultipleAccounts takes at most 5 keys here, got 100", 100) == 5
    assert cap_hint('{"error":{"message":"max 25 accounts per request"}}', 100) == 25
    assert cap_hint("Request Entity Too Large", 100) is None
    assert cap_hint("at most 500 keys", 100) is None  # not a limit below the request


def test_store_keeps_the_newest_version_and_the_object_of_unchanged_bytes() -> None:
    """A read answering from an older slot than a notification never wins; the same
    bytes at a newer slot keep the held version (decodes and states are reused)."""
    store = AccountStore()
    assert store.put("a", 10, b"x")
    held = store.get("a")
    assert not store.put("a", 9, b"old")
    assert not store.put("a", 11, b"x")
    assert store.get("a") is held
    assert store.put("a", 11, b"y")
    assert store.get("a") == Version(11, b"y")
    decodes: list[bytes] = []

    def decode(data: bytes) -> int:
        decodes.append(data)
        return len(data)

    assert store.decoded("a", decode) == (1, 11)
    assert store.decoded("a", decode) == (1, 11)
    assert decodes == [b"y"]
    assert store.decoded("missing", len) is None


def test_market_names_parse_case_insensitively() -> None:
    assert parse_markets(" sol-perp, BTC-PERP ,,USDC") == frozenset(
        {"SOL-PERP", "BTC-PERP", "USDC"}
    )
    assert parse_markets("") is None
    assert parse_markets(None) is None
