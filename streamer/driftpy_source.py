"""The Drift side over a driftpy `DriftClient`: read-only, supervised, decoded into
`MarketState`s (driftpy's decoded markets converted by `streamer.decoders`). The
adapter's legacy path (`_using_singleton=False`) uses it; the streamer uses
`streamer.source.DriftSource`, which works on any provider. Foreign errors are
converted where they enter: every failure is a `SourceError` whose `kind` says what
happened (`rpc_429`, `rpc`, `ws`, `timeout`, `decode`).

driftpy prints its errors and never notices a quiet feed, so the source watches slots
on a websocket of its own: `check()` raises `SourceStaleError` when no new slot arrived
within `stale_after_s`, or when driftpy's polling loop died (one 429 kills it for good).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from driftpy.account_subscription_config import AccountSubscriptionConfig
from driftpy.accounts.bulk_account_loader import BulkAccountLoader
from driftpy.drift_client import DriftClient
from driftpy.types import get_ws_url
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair

from streamer.decode import guard_rails_of
from streamer.decoders import perp_account_of, spot_account_of
from streamer.errors import NotReadyError, SourceStaleError
from streamer.oracle_book import OracleBook
from streamer.redact import redact_url
from streamer.rpc_errors import classify
from streamer.slot_watch import SlotWatch
from streamer.source_types import SourceHealth, SourceMode, SourceSnapshot
from streamer.state_pass import StatePass

__all__ = ["DriftpySource"]

log = logging.getLogger("drift_stream.source")
_SUBSCRIBE_TIMEOUT = 60.0
T = TypeVar("T")


def _converted(held: dict[int, tuple[Any, Any]], data: Any, convert: Callable[[Any], T]) -> T:
    """`convert(data)` once per driftpy object (driftpy decodes a new one for every
    update), so an unchanged market costs a lookup and keeps its computed state."""
    index = int(data.market_index)
    last = held.get(index)
    if last is None or last[0] is not data:
        last = held[index] = (data, convert(data))
    value: T = last[1]
    return value


class DriftpySource:
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
        self._pass = StatePass()
        self._held: tuple[dict[int, tuple[Any, Any]], dict[int, tuple[Any, Any]]] = ({}, {})
        # Set whenever driftpy stores a new perp market or oracle account (websocket
        # mode): the publisher wakes on it instead of waiting for its next timed pass.
        self.changed = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------
    async def prepare(self) -> None:
        """Nothing to read ahead: driftpy's DriftClient discovers everything in subscribe."""

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
        self._pass.clear()
        self._held = ({}, {})
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
        held_perps, held_spots = self._held
        markets, spot_states = self._pass.run(
            ((_converted(held_perps, ds.data, perp_account_of), ds.slot) for ds in perps),
            ((_converted(held_spots, ds.data, spot_account_of), ds.slot) for ds in spots),
            book.reading,
            rails,
            now,
        )
        return SourceSnapshot(slot=self._slots.last_slot or 0, markets=markets, spots=spot_states)

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
