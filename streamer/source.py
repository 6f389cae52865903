"""The Drift side: one read-only DriftClient, supervised, decoded into `MarketState`s.

`MarketSource` is what the streamer depends on; `DriftSource` implements it with a real
driftpy `DriftClient` (tested against localnet), and unit tests may use a fake. Foreign
errors are converted where they enter: every failure is a `SourceError` whose `kind`
says what happened (`rpc_429`, `rpc`, `ws`, `timeout`, `decode`).

driftpy prints its errors and never notices a quiet feed, so the source watches slots
on a websocket of its own: `check()` raises `SourceStaleError` when no new slot arrived
within `stale_after_s`, or when driftpy's polling loop died (one 429 kills it for good).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from driftpy.account_subscription_config import AccountSubscriptionConfig
from driftpy.accounts.bulk_account_loader import BulkAccountLoader
from driftpy.drift_client import DriftClient
from driftpy.types import get_ws_url
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair

from streamer.decode import OracleReading, guard_rails_of, market_state, spot_state, variant
from streamer.errors import NotReadyError, SourceStaleError
from streamer.oracle_book import OracleBook
from streamer.redact import redact_url
from streamer.rpc_errors import classify
from streamer.slot_watch import SlotWatch
from streamer.state import MarketState, SpotState

__all__ = [
    "DriftSource",
    "MarketSource",
    "SourceHealth",
    "SourceMode",
    "SourceSnapshot",
    "classify",
]

log = logging.getLogger("drift_stream.source")
_SUBSCRIBE_TIMEOUT = 60.0


class SourceMode(enum.StrEnum):
    WEBSOCKET = "websocket"
    POLLING = "polling"


@dataclass(frozen=True, slots=True)
class SourceHealth:
    running: bool
    last_slot: int | None
    slot_age_s: float | None
    polling_alive: bool | None
    markets: int
    ws_reconnects: int  # times the slot websocket had to reconnect (a ws outage)


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    slot: int
    markets: tuple[MarketState, ...]
    spots: tuple[SpotState, ...] = ()


class MarketSource(Protocol):
    """What the streamer needs from the Drift side."""

    changed: asyncio.Event  # set when an account update arrived (may never be set)

    async def start(self) -> None:
        """Subscribe (one attempt); SourceError on failure, leaving nothing open."""
        ...

    async def stop(self) -> None:
        """Unsubscribe and close the RPC client and every websocket; never raises."""
        ...

    async def refetch(self) -> None:
        """Read every account again (driftpy refetches nothing after a ws outage)."""
        ...

    async def snapshot(self, now: int) -> SourceSnapshot:
        """Every perp market, decoded; NotReadyError before start()."""
        ...

    def health(self) -> SourceHealth: ...

    def check(self) -> None:
        """SourceStaleError if the feed went quiet or driftpy's polling loop died."""
        ...


@dataclass(frozen=True, slots=True)
class _Memo:
    inputs: tuple[Any, ...]
    state: Any


class DriftSource:
    """A read-only DriftClient in websocket (find-all) or polling mode."""

    def __init__(
        self,
        rpc_url: str,
        *,
        mode: SourceMode = SourceMode.WEBSOCKET,
        poll_interval_s: float = 1.0,
        stale_after_s: float = 10.0,
    ) -> None:
        self._rpc_url = rpc_url
        self.mode = SourceMode(mode)
        self._poll_interval = poll_interval_s
        self._stale_after = stale_after_s
        self._connection: AsyncClient | None = None
        self._client: DriftClient | None = None
        self._oracles: OracleBook | None = None
        self._loader: BulkAccountLoader | None = None
        self._slots = SlotWatch(get_ws_url(rpc_url))
        self._memo: dict[tuple[str, int], _Memo] = {}
        # Set whenever driftpy stores a new perp market or oracle account (websocket
        # mode): the publisher wakes on it instead of waiting for its next timed pass.
        self.changed = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        if self._client is not None:
            return
        started = time.perf_counter()
        connection = AsyncClient(self._rpc_url, commitment=Confirmed)
        self._connection = connection
        if self.mode is SourceMode.POLLING:
            self._loader = BulkAccountLoader(connection, Confirmed, self._poll_interval)
            config = AccountSubscriptionConfig("polling", bulk_account_loader=self._loader)
        else:
            config = AccountSubscriptionConfig("websocket")
        client = DriftClient(
            connection, Keypair(), env="mainnet", account_subscription=config, sub_account_ids=[]
        )
        try:
            slot = (await connection.get_slot()).value
            async with asyncio.timeout(_SUBSCRIBE_TIMEOUT):
                await client.subscribe()
                oracles = OracleBook(client.account_subscriber, connection)
                await oracles.install()
        except Exception as exc:
            self._client = client  # so stop() can close what subscribe() opened
            await self.stop()
            raise classify(exc) from exc
        self._client = client
        self._oracles = oracles
        self._memo.clear()
        if self.mode is SourceMode.WEBSOCKET:
            self._hook_updates(client)
            self._slots.start(slot)
        else:  # no websocket in polling mode: a getSlot every third of the stale window
            self._slots.start(slot, poll=connection, every_s=self._stale_after / 3)
        log.info(
            "DriftClient subscribed (%s) to %s in %.0f ms",
            self.mode.value,
            redact_url(self._rpc_url),
            (time.perf_counter() - started) * 1000,
            extra={"mode": self.mode.value, "markets": len(self._perps())},
        )

    def _hook_updates(self, client: DriftClient) -> None:
        """Set `changed` after driftpy stores an account update. driftpy has no public
        hook, so this wraps two internals; if they move, publishing falls back to its
        timed passes (logged), nothing breaks."""
        changed = self.changed
        try:
            subscriber = client.account_subscriber
            oracles = subscriber.oracle_subscriber
            store_oracle = oracles._update_data
            markets = [
                subscriber.perp_market_map.subscription.subscriber,
                subscriber.spot_market_map.subscription.subscriber,
            ]
        except AttributeError as exc:
            log.warning("no driftpy update hook (%r): publishing on timed passes only", exc)
            return

        def oracle_stored(pubkey: Any, data: Any) -> None:
            store_oracle(pubkey, data)
            changed.set()

        def market_hook(store: Any) -> Any:
            async def stored(pubkey: str, data: Any) -> None:
                await store(pubkey, data)
                changed.set()

            return stored

        oracles._update_data = oracle_stored
        for program_subscriber in markets:
            program_subscriber.on_update = market_hook(program_subscriber.on_update)

    async def stop(self) -> None:
        client, self._client = self._client, None
        self._oracles = None
        connection, self._connection = self._connection, None
        await self._slots.stop()
        if client is not None:
            try:
                async with asyncio.timeout(10):
                    await client.unsubscribe()
            except Exception as exc:  # cleanup goes on: close the connection regardless
                log.warning("DriftClient unsubscribe failed: %r", exc)
        if self._loader is not None:
            if self._loader.task is not None:  # unsubscribe leaves the polling loop running
                self._loader.task.cancel()
            self._loader = None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def refetch(self) -> None:
        """A full refetch: driftpy's find-all mode cannot refetch markets in place, so
        subscribe anew (2 getProgramAccounts and one getMultipleAccounts per 75 oracles)."""
        await self.stop()
        await self.start()

    # -- reading -------------------------------------------------------------------
    def _perps(self) -> list[Any]:
        if self._client is None:
            return []
        return list(self._client.get_perp_market_accounts())

    def _reading(self, oracle: Any, source: Any) -> OracleReading | None:
        assert self._oracles is not None
        return self._oracles.reading(str(oracle), variant(source))

    async def snapshot(self, now: int) -> SourceSnapshot:
        client, book = self._client, self._oracles
        if client is None or book is None:
            raise NotReadyError("the DriftClient is not subscribed")
        subscriber = client.account_subscriber
        state = subscriber.get_state_account_and_slot()
        rails = guard_rails_of(None if state is None else state.data)
        perps = [ds for ds in subscriber.get_market_accounts_and_slots() if ds is not None]
        spots = [ds for ds in subscriber.get_spot_market_accounts_and_slots() if ds is not None]
        named = [str(ds.data.amm.oracle) for ds in perps] + [str(ds.data.oracle) for ds in spots]
        if book.missing(named):
            await book.ensure(named)
        memo: dict[tuple[str, int], _Memo] = {}
        markets: list[MarketState] = []
        for ds in perps:
            try:
                reading = self._reading(ds.data.amm.oracle, ds.data.amm.oracle_source)
                inputs = (ds.data, ds.slot, reading, rails, now)
                markets.append(
                    self._cached(memo, ("perp", ds.data.market_index), inputs, market_state)
                )
            except Exception as exc:  # one broken account must not hide the others
                log.warning("market %s skipped: %r", getattr(ds.data, "market_index", "?"), exc)
        spot_states: list[SpotState] = []
        for ds in spots:
            try:
                reading = self._reading(ds.data.oracle, ds.data.oracle_source)
                spot_inputs = (ds.data, ds.slot, reading)
                spot_states.append(
                    self._cached(memo, ("spot", ds.data.market_index), spot_inputs, spot_state)
                )
            except Exception as exc:
                log.warning(
                    "spot market %s skipped: %r", getattr(ds.data, "market_index", "?"), exc
                )
        # Only this pass's entries are kept: the memo never outgrows the market count.
        self._memo = memo
        markets.sort(key=lambda m: m.market_index)
        spot_states.sort(key=lambda m: m.market_index)
        return SourceSnapshot(
            slot=self._slots.last_slot or 0, markets=tuple(markets), spots=tuple(spot_states)
        )

    def _cached(
        self,
        memo: dict[tuple[str, int], _Memo],
        key: tuple[str, int],
        inputs: tuple[Any, ...],
        compute: Callable[..., Any],
    ) -> Any:
        """`compute(*inputs)`, or last pass's result when every input is the same object
        (or equal): an unchanged market at the same second costs a comparison. The memo
        holds the inputs, so an identity is never reused for another object."""
        last = self._memo.get(key)
        if last is not None and all(
            a is b or a == b for a, b in zip(last.inputs, inputs, strict=True)
        ):
            memo[key] = last
            return last.state
        state = compute(*inputs)
        memo[key] = _Memo(inputs, state)
        return state

    def _polling_alive(self) -> bool | None:
        if self._loader is None:
            return None
        task = self._loader.task
        return task is not None and not task.done()

    def health(self) -> SourceHealth:
        age = None if self._slots.last_at is None else time.monotonic() - self._slots.last_at
        return SourceHealth(
            running=self._client is not None,
            last_slot=self._slots.last_slot,
            slot_age_s=age if self._client is not None else None,
            polling_alive=self._polling_alive(),
            markets=len(self._perps()),
            ws_reconnects=self._slots.reconnects,
        )

    def check(self) -> None:
        if self._client is None:
            raise NotReadyError("the DriftClient is not subscribed")
        if self._polling_alive() is False:
            raise SourceStaleError(
                "driftpy's polling loop died (an RPC error ends it)", kind="stale"
            )
        age = self.health().slot_age_s
        if age is not None and age > self._stale_after:
            raise SourceStaleError(f"no new slot for {age:.1f} s", kind="stale")
