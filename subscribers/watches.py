"""`DriftStreamClient`'s `watch_*` and `tap` methods: every value of its mirrors as it
comes (`subscribers.mirror_set.watch`: the last values first, then every update)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any

from schemas import (
    FundingRate,
    MarketSnapshot,
    SpotMarketSnapshot,
    validate_spot_symbol,
    validate_symbol,
)
from schemas.buckets import SPOT_BUCKET
from subscribers.buckets import BucketUnavailableError
from subscribers.mirror import Accepted, Mirror
from subscribers.mirror_set import watch

__all__ = ["Watches"]


class Watches:
    """Watching the mirrors, for a class that holds them (`_funding`, `_prices`,
    `_spot`; `_mirrors()` lists them)."""

    _funding: Mirror[FundingRate] | None
    _prices: Mirror[MarketSnapshot] | None
    _spot: Mirror[SpotMarketSnapshot] | None

    def _mirrors(self) -> list[Mirror[Any]]:
        raise NotImplementedError

    def _spot_mirror(self) -> Mirror[SpotMarketSnapshot] | None:
        raise NotImplementedError

    async def watch_funding(
        self, symbols: Iterable[str] | None = None
    ) -> AsyncGenerator[FundingRate, None]:
        """Last values first, then every update, without a gap (no extra NATS
        subscription: the mirror's one subscription feeds every watcher in this process)."""
        assert self._funding is not None, "connect() first"
        wanted = None if symbols is None else {validate_symbol(s) for s in symbols}
        async for value in watch(self._funding, lambda v: wanted is None or v.symbol in wanted):
            yield value

    async def watch_market(
        self, symbols: Iterable[str] | None = None
    ) -> AsyncGenerator[MarketSnapshot, None]:
        """MarketSnapshots as `watch_funding` gives funding: last values first, then every
        update."""
        assert self._prices is not None, "connect() first"
        wanted = None if symbols is None else {validate_symbol(s) for s in symbols}
        async for value in watch(self._prices, lambda v: wanted is None or v.symbol in wanted):
            yield value

    async def watch_spot(
        self, symbols: Iterable[str] | None = None
    ) -> AsyncGenerator[SpotMarketSnapshot, None]:
        """Spot market snapshots as `watch_funding` gives funding: last values first, then
        every update; `symbols` match in any case. BucketUnavailableError if the streamer
        predates spot markets (no drift_spot bucket)."""
        mirror = self._spot_mirror()
        if mirror is None:
            raise BucketUnavailableError(f"bucket {SPOT_BUCKET} does not exist")
        wanted = None if symbols is None else {validate_spot_symbol(s).upper() for s in symbols}
        async for value in watch(mirror, lambda v: wanted is None or v.symbol.upper() in wanted):
            yield value

    def tap(self, callback: Callable[[Accepted], None]) -> Callable[[], None]:
        """Call `callback` with every value the client takes from now on, from any bucket
        (with its key, stream sequence and times: an audit trail); returns a function
        that stops it. The callback runs in the client's loop and must not block. (The
        constructor's `tap=` sees the first load's values too.)"""
        assert self._funding is not None, "connect() first"
        mirrors = self._mirrors()
        for mirror in mirrors:
            mirror.taps.add(callback)

        def untap() -> None:
            for mirror in mirrors:
                mirror.taps.discard(callback)

        return untap
