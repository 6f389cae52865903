"""Write decoded perp and spot markets to the KV last-value cache: on change, and
refreshed at TTL/2.

The streamer writes only the KV; each bucket republishes its values on the plain
subjects (one write path, so cache and stream never disagree). A value that is not
refreshed expires at its TTL, so readers get None rather than stale data. Every write
is fenced (`streamer.fence`): a leader raises its fence in each bucket before its first
write (`fence`), and a write refused because a newer leader's fence stands raises
`FencedError` out of `publish`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas import (
    FundingRate,
    MarketList,
    MarketSnapshot,
    PerpMarketInfo,
    SpotMarketSnapshot,
    WriteFence,
    encode,
    fence_key,
    market_key,
    markets_key,
    spot_key,
)
from schemas.buckets import FUNDING_BUCKET, MARKETS_BUCKET, PRICES_BUCKET, SPOT_BUCKET
from schemas.errors import SchemaError
from schemas.models.base import SchemaModel
from schemas.subjects import Network, kv_subject
from streamer.fence import BucketFence, FencedError, FenceStream, NotFencedError
from streamer.models import funding_rate, market_info, market_snapshot, spot_snapshot
from streamer.source import SourceSnapshot
from streamer.state import MarketState, SpotState

__all__ = ["FencedError", "PublishResult", "Publisher"]

log = logging.getLogger("drift_stream.publisher")
# Not a change on their own: the newest slot and time, and when and from which account
# versions a value was computed (an equal value recomputes from the older ones too).
_VOLATILE = {"ts", "slot", "predicted_at", "priced_at", "market_slot", "oracle_slot"}
_PERP_BUCKETS = (FUNDING_BUCKET, PRICES_BUCKET)
_SPOT_BUCKETS = (SPOT_BUCKET,)
_Put = tuple[str, str, bytes]  # bucket, key, value
Ack = Callable[[str, str, int, int | None], None]  # bucket, key, seq, epoch: acknowledged


@dataclass
class PublishResult:
    """What one publish pass wrote, per bucket, and what it skipped."""

    written: dict[str, int] = field(default_factory=dict)
    skipped_invalid: int = 0
    failed: int = 0
    error: str | None = None


@dataclass(slots=True)
class _Last:
    content: dict[str, Any]
    at: float


class Publisher:
    """Publishes snapshots for one network; remembers the last values for the api.

    `streams` (each bucket's, as the fence writes to it: `streamer.fence_stream` over
    nats-server) and `ttls` are keyed by bucket name; the spot bucket is needed only
    once a snapshot carries spot markets.
    """

    def __init__(
        self,
        streams: Mapping[str, FenceStream],
        network: Network,
        ttls: Mapping[str, float],
        *,
        clock: Callable[[], float] = time.monotonic,
        on_ack: Ack | None = None,
    ) -> None:
        self._on_ack = on_ack
        self._fences = {
            bucket: BucketFence(stream, kv_subject(bucket, fence_key(network)))
            for bucket, stream in streams.items()
        }
        self._network = network
        self._refresh = {bucket: ttl / 2 for bucket, ttl in ttls.items()}
        self._clock = clock
        self._last: dict[tuple[str, str], _Last] = {}
        self.funding: dict[str, FundingRate] = {}
        self.prices: dict[str, MarketSnapshot] = {}
        self.market_list: MarketList | None = None
        self.last_seqs: dict[str, int] = {}  # by bucket: its latest pass's last acked write
        self.spots: dict[str, SpotMarketSnapshot] = {}  # by symbol, case as on chain
        self._invalid_logged: set[tuple[str, str]] = set()
        # The last state of each market that was built into models: a market whose
        # state is the same costs nothing until its refresh is due (a pass after one
        # account update builds one market's models, not 85).
        self._states: dict[int, MarketState] = {}
        self._infos: dict[int, PerpMarketInfo] = {}
        self._spot_states: dict[int, SpotState] = {}
        self._keys: dict[tuple[Callable[[Network, str], str], str], str] = {}

    def _due(self, bucket: str, key: str, model: SchemaModel, now: float) -> bool:
        # the model's own field values (nested models compare by their fields): the
        # same verdict as comparing dumps, without serializing every value twice a pass
        content = {k: v for k, v in model.__dict__.items() if k not in _VOLATILE}
        last = self._last.get((bucket, key))
        if last is not None and last.content == content and now - last.at < self._refresh[bucket]:
            return False
        self._last[(bucket, key)] = _Last(content, now)
        return True

    def _key(self, make: Callable[[Network, str], str], symbol: str) -> str:
        """A market's KV key, checked once per symbol (SchemaError for an unusable one)."""
        key = self._keys.get((make, symbol))
        if key is None:
            key = self._keys[(make, symbol)] = make(self._network, symbol)
        return key

    def _refresh_due(self, symbol: str, now: float, buckets: tuple[str, ...]) -> bool:
        """Whether a market must be rebuilt although its state is the same: one of its
        values is due for the TTL/2 re-send, or its first bucket never got a value."""
        key = f"{self._network}.{symbol}"
        for bucket in buckets:
            last = self._last.get((bucket, key))
            if last is not None and now - last.at >= self._refresh[bucket]:
                return True
        return (buckets[0], key) not in self._last

    async def fence(
        self, epoch: int, instance_id: str, holds_lease: Callable[[], Awaitable[bool]]
    ) -> None:
        """Raise this leader's fence in every data bucket: writes of any older leader are
        refused from now on. FencedError if a newer leader fenced already."""
        value = WriteFence(
            network=self._network, ts=time.time(), instance_id=instance_id, epoch=epoch
        )
        for fence in self._fences.values():
            seq = await fence.raise_fence(value, holds_lease)
            if self._on_ack is not None:
                self._on_ack(fence.bucket, fence_key(self._network), seq, epoch)

    def lower_fences(self) -> None:
        """Deposed: write nothing until fenced again."""
        for fence in self._fences.values():
            fence.lower()

    def forget(self) -> None:
        """Drop what was published: the next pass writes everything (after a restart)."""
        self._last.clear()
        self._states.clear()
        self._spot_states.clear()

    async def publish(
        self, snapshot: SourceSnapshot, *, epoch: int, ts: float | None = None
    ) -> PublishResult:
        """Write every changed or due value of the snapshot, fenced by `epoch`; returns the
        counts. FencedError when a newer leader's fence refused the writes."""
        if any(fence.epoch != epoch for fence in self._fences.values()):
            raise NotFencedError(f"no fence raised for epoch {epoch}")
        ts = time.time() if ts is None else ts
        now = self._clock()
        result = PublishResult()
        puts = self._perp_puts(snapshot, epoch, ts, now, result)
        puts += self._spot_puts(snapshot, epoch, ts, now, result)
        fenced = False
        acked: dict[str, int] = {}
        for bucket, k, outcome in await self._write(puts):
            if isinstance(outcome, BaseException):
                self._last.pop((bucket, k), None)  # not known to be written: retry next pass
                result.failed += 1
                result.error = repr(outcome)
                fenced = fenced or isinstance(outcome, FencedError)
            else:
                result.written[bucket] = result.written.get(bucket, 0) + 1
                acked[bucket] = max(acked.get(bucket, 0), outcome)
                if self._on_ack is not None:
                    self._on_ack(bucket, k, outcome, epoch)
        self.last_seqs.update(acked)  # not max(): a restarted server may count anew
        if fenced:
            raise FencedError(f"writes refused: a newer leader fenced {self._network}")
        if result.failed:
            log.warning(
                "%d of %d KV writes failed; retrying next pass: %s",
                result.failed,
                len(puts),
                result.error,
                extra={"network": self._network},
            )
        return result

    async def _write(self, puts: list[_Put]) -> list[tuple[str, str, int | BaseException]]:
        """Every put in flight at once (one fenced writer per bucket), each outcome."""
        by_bucket: dict[str, list[tuple[str, bytes]]] = {}
        for bucket, key, data in puts:
            by_bucket.setdefault(bucket, []).append((key, data))
        answers = await asyncio.gather(
            *(self._fences[bucket].write(items) for bucket, items in by_bucket.items()),
            return_exceptions=True,
        )
        written: list[tuple[str, str, int | BaseException]] = []
        for (bucket, items), answer in zip(by_bucket.items(), answers, strict=True):
            outcomes = [answer] * len(items) if isinstance(answer, BaseException) else answer
            written += [(bucket, k, o) for (k, _), o in zip(items, outcomes, strict=True)]
        return written

    def _perp_puts(
        self, snapshot: SourceSnapshot, epoch: int, ts: float, now: float, result: PublishResult
    ) -> list[_Put]:
        """Funding and prices of the perp markets that changed or are due, and the list."""
        puts: list[_Put] = []
        infos = []
        rebuilt = 0
        for state in snapshot.markets:
            last = self._states.get(state.market_index)
            if (last is state or last == state) and not self._refresh_due(
                state.symbol, now, _PERP_BUCKETS
            ):
                infos.append(self._infos[state.market_index])  # unchanged: nothing to build
                continue
            try:
                key = self._key(market_key, state.symbol)
                funding = funding_rate(
                    state, network=self._network, slot=snapshot.slot, ts=ts, epoch=epoch
                )
                price = market_snapshot(
                    state, network=self._network, slot=snapshot.slot, ts=ts, epoch=epoch
                )
                infos.append(market_info(state))
            except (SchemaError, ValueError) as exc:
                self._skip(state, exc)
                result.skipped_invalid += 1
                continue
            rebuilt += 1
            self._states[state.market_index] = state
            self._infos[state.market_index] = infos[-1]
            self.funding[funding.symbol] = funding
            if self._due(FUNDING_BUCKET, key, funding, now):
                puts.append((FUNDING_BUCKET, key, encode(funding)))
            if price is not None:  # no oracle price yet: no snapshot rather than a wrong one
                self.prices[price.symbol] = price
                if self._due(PRICES_BUCKET, key, price, now):
                    puts.append((PRICES_BUCKET, key, encode(price)))
        key = markets_key(self._network)
        listed = self._last.get((MARKETS_BUCKET, key))
        if (
            rebuilt
            or self.market_list is None
            or len(infos) != len(self.market_list.markets)
            or listed is None
            or now - listed.at >= self._refresh[MARKETS_BUCKET]
        ):
            market_list = MarketList(
                network=self._network, slot=snapshot.slot, ts=ts, epoch=epoch, markets=tuple(infos)
            )
            self.market_list = market_list
            if self._due(MARKETS_BUCKET, key, market_list, now):
                puts.append((MARKETS_BUCKET, key, encode(market_list)))
        return puts

    def _spot_puts(
        self, snapshot: SourceSnapshot, epoch: int, ts: float, now: float, result: PublishResult
    ) -> list[_Put]:
        """Snapshots of the spot markets that changed or are due (same rules as perps)."""
        puts: list[_Put] = []
        for state in snapshot.spots:
            last = self._spot_states.get(state.market_index)
            if (last is state or last == state) and not self._refresh_due(
                state.symbol, now, _SPOT_BUCKETS
            ):
                continue
            try:
                key = self._key(spot_key, state.symbol)
                spot = spot_snapshot(
                    state, network=self._network, slot=snapshot.slot, ts=ts, epoch=epoch
                )
            except (SchemaError, ValueError) as exc:
                self._skip(state, exc)
                result.skipped_invalid += 1
                continue
            self._spot_states[state.market_index] = state
            if spot is None:  # no oracle price yet: no snapshot rather than a wrong one
                continue
            self.spots[spot.symbol] = spot
            if self._due(SPOT_BUCKET, key, spot, now):
                puts.append((SPOT_BUCKET, key, encode(spot)))
        return puts

    def _skip(self, state: MarketState | SpotState, exc: Exception) -> None:
        kind = "spot market" if isinstance(state, SpotState) else "market"
        if (kind, state.symbol) not in self._invalid_logged:  # once per market, not per pass
            self._invalid_logged.add((kind, state.symbol))
            log.warning(
                "%s %s skipped: %s",
                kind,
                state.symbol[:40],
                exc,
                extra={"market_index": state.market_index},
            )

    def find_funding(self, market: str | int) -> FundingRate | None:
        """The last funding published for a symbol or index (None if unknown)."""
        if isinstance(market, int):
            return next((f for f in self.funding.values() if f.market_index == market), None)
        return self.funding.get(market.upper())

    def find_spot(self, market: str | int) -> SpotMarketSnapshot | None:
        """The last snapshot published for a spot symbol (any case) or index (None if
        unknown)."""
        if isinstance(market, int):
            return next((s for s in self.spots.values() if s.market_index == market), None)
        exact = self.spots.get(market)
        if exact is not None:
            return exact
        folded = market.upper()
        return next((s for s in self.spots.values() if s.symbol.upper() == folded), None)
