"""The streamer's Drift side on any Solana RPC provider.

`DriftSource` lists markets from State's counts and their PDAs (no getProgramAccounts),
reads accounts with paced, batched getMultipleAccounts within the provider's cap
(learnt from its 413s), and follows them on a few websockets of up to 100 account
subscriptions each, refetching a socket's accounts after every reconnect (websocket
mode), or reads them all every `poll_interval_s` (polling mode). Markets are decoded
by `decoder` (`streamer.decoders`: ours by default, or driftpy's IDL coder), State by
driftpy's; every figure is computed by `streamer.math`.

Oracles a market names beyond those discovery found are followed on demand
(`streamer.feed.follow`). The feed watches itself: in websocket mode the newest slot
arrives on a slot subscription of its own (`SlotWatch`); in polling mode it is the last
successful read's context slot. `check()` raises `SourceStaleError` when it is older
than `stale_after_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

from driftpy.types import get_ws_url

from streamer.decode import guard_rails_of
from streamer.decoders import DECODERS
from streamer.errors import NotReadyError, SourceError, SourceStaleError
from streamer.feed.discovery import Catalog, discover, oracle_keys
from streamer.feed.follow import OracleFollower
from streamer.feed.pacing import PacingConfig
from streamer.feed.rpc import RpcClient
from streamer.feed.store import AccountStore
from streamer.feed.ws import AccountStream
from streamer.idl import decode_account
from streamer.oracle_reader import OracleReader
from streamer.redact import redact_url
from streamer.rpc_errors import classify
from streamer.slot_watch import SlotWatch
from streamer.source_types import DecoderName, SourceHealth, SourceMode, SourceSnapshot
from streamer.state_pass import StatePass

__all__ = ["DriftSource"]

log = logging.getLogger("drift_stream.source")
_START_TIMEOUT = 120.0


def _state(data: bytes) -> Any:
    return decode_account("State", data)


class DriftSource:
    """Drift's State, markets and oracles from any provider, decoded per pass."""

    def __init__(
        self,
        rpc_url: str,
        *,
        mode: SourceMode = SourceMode.WEBSOCKET,
        poll_interval_s: float = 1.0,
        stale_after_s: float = 10.0,
        markets: Collection[str] | None = None,
        pacing: PacingConfig | None = None,
        max_keys: int = 100,
        subscriptions_per_socket: int = 100,
        max_attempts: int = 6,
        decoder: DecoderName = "own",
    ) -> None:
        self._rpc_url = rpc_url
        self.mode = SourceMode(mode)
        self._poll_interval = poll_interval_s
        self._stale_after = stale_after_s
        self._wanted = None if markets is None else frozenset(m.upper() for m in markets)
        self._pacing = pacing
        self._max_keys = max_keys
        self._per_socket = subscriptions_per_socket
        self._max_attempts = max_attempts
        self._decoders = DECODERS[decoder]
        self._rpc: RpcClient | None = None
        self._warm: tuple[RpcClient, Catalog] | None = None  # prepare()'s, for start()
        self._catalog: Catalog | None = None
        self._stream: AccountStream | None = None
        self._poller: asyncio.Task[None] | None = None
        self._follower = OracleFollower(self.read)
        self._slots = SlotWatch(get_ws_url(rpc_url))
        self._store = AccountStore()
        self._oracles = OracleReader(self._oracle_bytes)
        self._pass = StatePass()
        self._unpriced: tuple[str, ...] = ()
        self._polled_at: float | None = None
        self._polled_slot: int | None = None
        # Set on every new account version: the publisher wakes on it.
        self.changed = self._store.changed

    # -- lifecycle -----------------------------------------------------------------
    async def prepare(self) -> None:
        """Discover ahead (State, the markets it counts, their oracles) with an RPC client
        kept for `start`, subscribing to nothing: a standby's warm feed. `start` then
        subscribes and reads those accounts, and discovers again only if State's market
        counts changed meanwhile."""
        if self._rpc is not None or self._warm is not None:
            return
        rpc = self._new_rpc()
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                catalog = await discover(rpc, AccountStore(), self._wanted, decoders=self._decoders)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await rpc.close()
            if isinstance(exc, SourceError):
                raise
            raise classify(exc) from exc
        self._warm = (rpc, catalog)

    def _new_rpc(self) -> RpcClient:
        return RpcClient(
            self._rpc_url,
            pacing=self._pacing,
            max_keys=self._max_keys,
            max_attempts=self._max_attempts,
        )

    async def start(self) -> None:
        if self._rpc is not None:
            return
        started = time.perf_counter()
        self._store = AccountStore()
        self.changed = self._store.changed
        self._oracles = OracleReader(self._oracle_bytes)
        self._pass.clear()
        warm, self._warm = self._warm, None
        rpc = self._rpc = warm[0] if warm is not None else self._new_rpc()
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                slot = await rpc.get_slot()
                stream: AccountStream | None = None
                if self.mode is SourceMode.WEBSOCKET:
                    stream = self._stream = AccountStream(
                        get_ws_url(self._rpc_url),
                        self._on_account,
                        self.read,
                        per_connection=self._per_socket,
                    )

                async def subscribe(keys: list[str]) -> None:
                    if stream is not None:
                        stream.add(keys)
                        await stream.ready.wait()

                catalog = None if warm is None else await self._resume(warm[1], subscribe)
                if catalog is None:
                    catalog = await discover(
                        rpc,
                        self._store,
                        self._wanted,
                        before_read=subscribe if stream else None,
                        decoders=self._decoders,
                    )
                    # polling: what discovery read is as fresh as the next poll makes it
                    done = set(catalog.fresh) if stream is not None else set(self._store)
                    rest = [k for k in catalog.keys if k not in done]
                    await subscribe(rest)
                    await self.read(rest)  # after subscribing: no update falls between
                self._catalog = catalog
        except Exception as exc:
            await self.stop()
            if isinstance(exc, SourceError):
                raise
            raise classify(exc) from exc
        if self.mode is SourceMode.WEBSOCKET:
            self._slots.start(slot)
        else:
            self._polled_slot, self._polled_at = slot, time.monotonic()
            self._poller = asyncio.create_task(self._poll(), name="feed-poll")
        log.info(
            "Drift feed (%s) on %s, %d perp and %d spot markets, %d oracles in %.0f ms",
            self.mode.value,
            redact_url(self._rpc_url),
            len(catalog.perps),
            len(catalog.spots),
            len(catalog.oracles),
            (time.perf_counter() - started) * 1000,
            extra={
                "mode": self.mode.value,
                "markets": len(catalog.perps),
                "requests": rpc.stats.requests,
                "sockets": 0 if self._stream is None else self._stream.connections,
            },
        )

    async def _resume(
        self, catalog: Catalog, subscribe: Callable[[list[str]], Awaitable[None]]
    ) -> Catalog | None:
        """Start from a prepared catalog: subscribe every account, then read them all;
        None (discover again) when State counts other markets now."""
        await subscribe(catalog.keys)
        await self.read(catalog.keys)  # after subscribing: no update falls between
        state = self._store.decoded(catalog.state, _state)
        if state is None or not catalog.counted_by(state[0]):
            log.info("State counts other markets than when prepared: discovering again")
            return None
        return catalog

    async def stop(self) -> None:
        warm, self._warm = self._warm, None
        if warm is not None:
            with contextlib.suppress(Exception):
                await warm[0].close()
        rpc, self._rpc = self._rpc, None
        stream, self._stream = self._stream, None
        poller, self._poller = self._poller, None
        tasks = self._follower.cancel()
        if poller is not None:
            poller.cancel()
            tasks.append(poller)
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._slots.stop()
        if stream is not None:
            await stream.stop()
        if rpc is not None:
            with contextlib.suppress(Exception):
                await rpc.close()

    async def refetch(self) -> None:
        """Read every followed account again (getMultipleAccounts, within the cap)."""
        if self._catalog is not None:
            await self.read([*self._catalog.keys, *self._extra_oracles()])

    async def read(self, keys: Iterable[str]) -> None:
        """Read `keys` into the store (newer versions only)."""
        rpc = self._rpc
        if rpc is None:
            return
        for key, (account, slot) in (await rpc.get_multiple(list(keys))).items():
            if account is not None:
                self._store.put(key, slot, account.data)

    def _on_account(self, key: str, slot: int, data: bytes) -> None:
        self._store.put(key, slot, data)

    async def _poll(self) -> None:
        """Polling mode: read every followed account each period; failures are logged
        and retried, and the watchdog sees their age."""
        while True:
            await asyncio.sleep(self._poll_interval)
            rpc, catalog = self._rpc, self._catalog
            if rpc is None or catalog is None:
                return
            try:
                read = await rpc.get_multiple([*catalog.keys, *self._extra_oracles()])
            except SourceError as exc:
                log.warning("polling read failed: %s", exc, extra={"kind": exc.kind})
                continue
            for key, (account, slot) in read.items():
                if account is not None:
                    self._store.put(key, slot, account.data)
            self._polled_slot = max((slot for _, slot in read.values()), default=None)
            self._polled_at = time.monotonic()

    # -- reading -------------------------------------------------------------------
    def _oracle_bytes(self, key: str) -> tuple[bytes, int] | None:
        version = self._store.get(key)
        return None if version is None else (version.data, version.slot)

    def _extra_oracles(self) -> list[str]:
        catalog = self._catalog
        return self._follower.extra(set() if catalog is None else set(catalog.oracles))

    async def snapshot(self, now: int) -> SourceSnapshot:
        catalog = self._catalog
        if self._rpc is None or catalog is None:
            raise NotReadyError("the Drift feed is not running")
        state = self._store.decoded(catalog.state, _state)
        rails = guard_rails_of(None if state is None else state[0])
        perp, spot = self._decoders.perp, self._decoders.spot
        perps = [d for k in catalog.perps.values() if (d := self._store.decoded(k, perp))]
        spots = [s for k in catalog.spots.values() if (s := self._store.decoded(k, spot))]
        named = oracle_keys([a for a, _ in perps] + [a for a, _ in spots])
        missing = [k for k in named if k not in self._store]
        if missing:
            self._follower.follow([k for k in missing if k not in catalog.oracles], self._stream)
        markets, spot_states = self._pass.run(perps, spots, self._oracles.reading, rails, now)
        gone = set(missing)
        self._unpriced = (
            *(m.symbol for m in markets if m.oracle in gone),
            *(s.symbol for s in spot_states if s.oracle in gone),
        )
        return SourceSnapshot(slot=self._last_slot() or 0, markets=markets, spots=spot_states)

    # -- health --------------------------------------------------------------------
    def _last_slot(self) -> int | None:
        return self._slots.last_slot if self.mode is SourceMode.WEBSOCKET else self._polled_slot

    def _last_at(self) -> float | None:
        return self._slots.last_at if self.mode is SourceMode.WEBSOCKET else self._polled_at

    def health(self) -> SourceHealth:
        running = self._rpc is not None
        at = self._last_at()
        catalog = self._catalog
        stats = self._rpc.stats if self._rpc is not None else None
        stream = self._stream
        return SourceHealth(
            running=running,
            last_slot=self._last_slot(),
            slot_age_s=None if at is None or not running else time.monotonic() - at,
            polling_alive=None if self._poller is None else not self._poller.done(),
            markets=0 if catalog is None else len(catalog.perps),
            ws_reconnects=self._slots.reconnects + (0 if stream is None else stream.reconnects),
            skipped=() if catalog is None else catalog.skipped,
            unpriced=self._unpriced,
            problem=None if catalog is None else catalog.problem(),
            rpc_requests=0 if stats is None else stats.requests,
            rpc_rate_limited=0 if stats is None else stats.rate_limited,
        )

    def check(self) -> None:
        if self._rpc is None:
            raise NotReadyError("the Drift feed is not running")
        if self._poller is not None and self._poller.done():
            raise SourceStaleError("the polling loop ended", kind="stale")
        age = self.health().slot_age_s
        if age is not None and age > self._stale_after:
            raise SourceStaleError(f"no new slot for {age:.1f} s", kind="stale")
