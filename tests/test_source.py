"""DriftSource (the streamer's feed on any provider) against localnet: what it asks the
RPC, refetch after a reconnect, 429s, staleness, market subsets, polling mode."""

from __future__ import annotations

import dataclasses
import time

import pytest

from localnet import FaultRequest, MarketPatch
from localnet.server import LocalnetServer
from streamer.errors import NotReadyError, SourceError, SourceStaleError
from streamer.feed.pacing import PacingConfig
from streamer.source import DriftSource, SourceMode
from streamer.state import MarketState, SpotState
from tests.drift_clients import followed_accounts, wait_until


def _unslotted(states: tuple[MarketState, ...] | tuple[SpotState, ...]) -> list[object]:
    """The states with the slots their accounts were read at left out."""
    return [dataclasses.replace(s, market_slot=0, oracle_slot=0) for s in states]


def _faults(**fields: object) -> FaultRequest:
    return FaultRequest.model_validate(fields)


async def _until_snapshot(source: DriftSource, predicate: object, timeout: float = 10.0) -> None:
    """Await `predicate(snapshot)` over the source's passes (woken by `changed`)."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate(await source.snapshot(int(time.time()))):
        assert time.monotonic() < deadline, "condition not met"
        source.changed.clear()
        await wait_until(source.changed.is_set, timeout=max(0.01, deadline - time.monotonic()))


async def test_start_snapshot_stop_leaves_nothing_open(localnet_mainnet: LocalnetServer) -> None:
    """Every market of the mainnet preset, priced at its own scale, from State + PDAs
    and batched reads: no getProgramAccounts, a few sockets; stop() closes them all."""
    ln = localnet_mainnet
    source = DriftSource(ln.url)
    with pytest.raises(NotReadyError):
        await source.snapshot(int(time.time()))
    ln.stats.reset()
    await source.start()
    snap = await source.snapshot(int(time.time()))
    assert [s.symbol for s in snap.markets] == [v.spec.symbol for v in ln.markets.perps]
    assert [s.symbol for s in snap.spots] == [v.spec.symbol for v in ln.markets.spots]
    served = {v.spec.symbol: v.oracle_price for v in ln.markets.perps}
    assert {s.symbol: s.oracle_price for s in snap.markets} == served
    assert all(s.bid_price is not None for s in snap.markets)
    by_symbol = {s.symbol: s for s in snap.markets}
    pump = by_symbol["PUMP-PERP"].oracle_price
    assert pump is not None
    assert by_symbol["1KPUMP-PERP"].oracle_price == 1000 * pump
    stats = ln.stats_json()
    assert "getProgramAccounts" not in stats["requests_per_method"]
    followed = followed_accounts(ln)
    await wait_until(lambda: ln.stats_json()["subscriptions"]["account"] == followed)
    await wait_until(lambda: ln.stats_json()["subscriptions"]["slot"] == 1)
    # 100 accounts a socket: State and the 148 markets on 2, the 120 oracles on 2, and
    # the slot watch's
    assert ln.stats_json()["ws_connections_open"] == 5
    assert stats["requests_per_method"] == {
        "getSlot": 1,
        "getAccountInfo": 1,
        "getMultipleAccounts": 4,
    }
    health = source.health()
    assert health.running
    assert health.markets == len(ln.markets.perps)
    assert health.rpc_requests == ln.stats_json()["http_requests"]
    ln.markets.apply(MarketPatch(symbol="SOL-PERP", last_funding_rate=99))
    await _until_snapshot(source, lambda s: s.markets[0].last_funding_rate == 99)
    source.check()
    await source.stop()
    await wait_until(lambda: ln.stats_json()["ws_connections_open"] == 0)
    assert ln.stats_json()["subscriptions_active"] == 0
    await source.stop()  # idempotent


async def test_an_update_made_while_the_sockets_were_down_is_refetched(
    localnet: LocalnetServer,
) -> None:
    """driftpy refetches nothing after a reconnect; this feed reads a socket's accounts
    again once it has resubscribed, so a write made during the outage shows."""
    source = DriftSource(localnet.url)
    await source.start()
    try:
        await localnet.set_faults(_faults(refuse_connections=True, drop_websockets=True))
        await wait_until(lambda: localnet.pubsub.open_connections == 0)
        localnet.markets.apply(MarketPatch(symbol="BTC-PERP", last_funding_rate=-4242))
        assert localnet.stats_json()["subscriptions"]["account"] == 0  # nobody saw it
        await localnet.set_faults(_faults(clear=True))
        await _until_snapshot(source, lambda s: s.markets[1].last_funding_rate == -4242)
        assert source.health().ws_reconnects >= 1
    finally:
        await source.stop()


async def test_429s_are_retried_then_reported_and_leak_nothing(localnet: LocalnetServer) -> None:
    """A provider that keeps answering 429 (here in the JSON-RPC body, with no
    Retry-After): retried with backoff, then SourceError(kind rpc_429); no socket stays
    open."""
    too_many = {"code": 429, "message": "Too many requests for a specific RPC call"}
    await localnet.set_faults(_faults(errors={"getAccountInfo": too_many}))
    source = DriftSource(localnet.url, max_attempts=3)
    with pytest.raises(SourceError) as info:
        await source.start()
    assert info.value.kind == "rpc_429"
    assert localnet.stats_json()["requests_per_method"]["getAccountInfo"] == 3
    await wait_until(lambda: localnet.stats_json()["ws_connections_open"] == 0)
    assert not source.health().running


async def test_retry_after_is_honoured(localnet: LocalnetServer) -> None:
    """HTTP 429 with Retry-After (2 requests a second here, the feed paced for more):
    each refused request waits as told and then passes; start succeeds."""
    await localnet.set_faults(_faults(rate_limit={"requests": 2, "per_s": 1}))
    source = DriftSource(localnet.url, pacing=PacingConfig(rate=100, method_rate=100))
    await source.start()
    try:
        limited = localnet.stats_json()["rate_limited"]
        assert limited >= 1
        assert source.health().rpc_rate_limited == limited
        assert len((await source.snapshot(int(time.time()))).markets) == 3
    finally:
        await source.stop()


async def test_stale_feed_is_detected() -> None:
    """With the slot clock stopped, check() raises SourceStaleError after the window."""
    async with LocalnetServer(preset="small", slot_ms=600_000) as quiet:
        source = DriftSource(quiet.url, stale_after_s=0.3)
        await source.start()
        try:
            source.check()
            await wait_until(lambda: (source.health().slot_age_s or 0) > 0.3)
            with pytest.raises(SourceStaleError):
                source.check()
        finally:
            await source.stop()


async def test_a_pass_recomputes_only_what_changed(localnet: LocalnetServer) -> None:
    """Two passes at the same second over the same accounts return the same state
    objects; a market whose account changed, or a later second, is computed anew."""
    source = DriftSource(localnet.url)
    await source.start()
    try:
        now = int(time.time())
        first = await source.snapshot(now)
        again = await source.snapshot(now)
        assert all(a is b for a, b in zip(first.markets, again.markets, strict=True))
        localnet.markets.apply(MarketPatch(symbol="BTC-PERP", last_funding_rate=4242))
        await _until_snapshot(source, lambda s: s.markets[1].last_funding_rate == 4242)
        changed = await source.snapshot(now)
        assert changed.markets[0] is again.markets[0]  # SOL-PERP untouched
        assert changed.markets[1] is not again.markets[1]
        later = await source.snapshot(now + 1)
        assert later.markets[0] is not changed.markets[0]
        assert later.markets[0].predicted_at == now + 1
    finally:
        await source.stop()


async def test_a_subset_of_markets_and_unknown_names(localnet: LocalnetServer) -> None:
    """DRIFT_MARKETS: only the named markets are followed; an unknown name is reported
    with the valid ones, and the known ones still stream."""
    source = DriftSource(localnet.url, markets={"sol-perp", "USDC", "NOPE-PERP"})
    await source.start()
    try:
        snap = await source.snapshot(int(time.time()))
        assert [m.symbol for m in snap.markets] == ["SOL-PERP"]
        assert [s.symbol for s in snap.spots] == ["USDC"]
        problem = source.health().problem
        assert problem is not None
        assert "NOPE-PERP" in problem
        assert "BTC-PERP" in problem
        # State, SOL-PERP, USDC and their two oracles: nothing of the other markets
        await wait_until(lambda: localnet.stats_json()["subscriptions"]["account"] == 5)
    finally:
        await source.stop()


@pytest.mark.timeout(60)
async def test_polling_mode_goes_stale_under_429s_and_recovers(localnet: LocalnetServer) -> None:
    """Polling mode reads every account each period; while reads fail the feed's age
    grows until check() says so; after the storm it reads again."""
    source = DriftSource(
        localnet.url, mode=SourceMode.POLLING, poll_interval_s=0.05, stale_after_s=1.0
    )
    await source.start()
    try:
        assert localnet.stats_json()["ws_connections_open"] == 0
        localnet.markets.apply(MarketPatch(symbol="SOL-PERP", last_funding_rate=7))
        await _until_snapshot(source, lambda s: s.markets[0].last_funding_rate == 7)
        await localnet.set_faults(_faults(rate_limit={"requests": 1, "per_s": 3}))
        await wait_until(lambda: (source.health().slot_age_s or 0) > 1.0, timeout=30)
        with pytest.raises(SourceStaleError):
            source.check()
        await localnet.set_faults(_faults(clear=True))
        await wait_until(lambda: (source.health().slot_age_s or 9) < 1.0, timeout=10)
        source.check()
        assert source.health().polling_alive is True
    finally:
        await source.stop()


async def test_either_decoder_gives_the_same_snapshot(localnet_mainnet: LocalnetServer) -> None:
    """DRIFT_DECODER=own and =anchorpy on the same localnet: equal snapshots, every perp
    and spot market, priced; so what is published does not depend on the decoder."""
    sources = [DriftSource(localnet_mainnet.url, decoder=name) for name in ("own", "anchorpy")]
    now = int(time.time())
    try:
        for source in sources:
            await source.start()
        own, anchorpy = [await source.snapshot(now) for source in sources]
    finally:
        for source in sources:
            await source.stop()
    # the sources read a moment apart: only the slots an account was read at may differ
    assert _unslotted(own.markets) == _unslotted(anchorpy.markets)
    assert _unslotted(own.spots) == _unslotted(anchorpy.spots)
    assert len(own.markets) == len(localnet_mainnet.markets.perps)
    assert len(own.spots) == len(localnet_mainnet.markets.spots)
    assert all(m.predicted_long is not None for m in own.markets)
