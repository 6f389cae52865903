"""Oracle accounts as raw bytes, read per (address, source) the way the SDK reads them.

driftpy keys its websocket oracle subscriptions by address and decodes each account
once, with the first market's oracle source: a second market reading the same account
at another scale (1MBONK-PERP beside BONK spot, 1KPUMP-PERP beside PUMP-PERP) gets no
price, and the decode itself goes through floats. So the book keeps driftpy's
subscriptions (one per address, on its sockets) but has them store the account's raw
bytes, and decodes those bytes for each market with the market's own source
(`streamer.oracles.decode_oracle`), remembering the last decode of each pair.

In polling mode driftpy's BulkAccountLoader already keeps each account's raw bytes and
the slot they were first seen at; the book reads them there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from driftpy.accounts.types import DataAndSlot
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.pubkey import Pubkey

from streamer.decode import OracleReading
from streamer.oracle_reader import OracleReader

__all__ = ["OracleBook"]

log = logging.getLogger("drift_stream.oracles")
_BATCH = 100  # getMultipleAccounts keys per call (the usual provider limit)
_RETRY_MISSING_S = 30.0
_DEFAULT_PUBKEY = str(Pubkey.default())


def _raw(data: bytes) -> bytes:
    """driftpy's decode function for the book's subscriptions: keep the bytes."""
    return bytes(data)


class OracleBook:
    """Raw oracle bytes of one DriftClient's subscriptions, decoded per market source."""

    def __init__(self, subscriber: Any, connection: AsyncClient) -> None:
        self._subscriber = subscriber
        self._connection = connection
        self._ws = getattr(subscriber, "oracle_subscriber", None)
        self._loader = getattr(subscriber, "bulk_account_loader", None)
        self._reader = OracleReader(self._bytes)
        self._attempted: dict[str, float] = {}

    async def install(self) -> None:
        """Websocket mode: switch driftpy's oracle subscriptions to raw bytes and read
        every oracle once (getMultipleAccounts, 100 keys a call). Raises what the RPC raises."""
        if self._ws is None:
            return
        pubkeys = list(self._ws.decode_map)
        for pubkey in pubkeys:
            self._ws.decode_map[pubkey] = _raw
        for start in range(0, len(pubkeys), _BATCH):
            chunk = pubkeys[start : start + _BATCH]
            resp = await self._connection.get_multiple_accounts(chunk, commitment=Confirmed)
            slot = int(resp.context.slot)
            for pubkey, account in zip(chunk, resp.value, strict=True):
                if account is not None:
                    self._store(pubkey, bytes(account.data), slot)

    def _store(self, pubkey: Pubkey, data: bytes, slot: int) -> None:
        """Keep `data` unless the subscription already holds newer raw bytes."""
        if self._ws is None:
            return
        current = self._ws.data_map.get(pubkey)
        if current is None or not isinstance(current.data, bytes) or current.slot <= slot:
            self._ws.data_map[pubkey] = DataAndSlot(slot, data)

    def _bytes(self, pubkey: str) -> tuple[bytes, int] | None:
        if self._ws is not None:
            entry = self._ws.data_map.get(Pubkey.from_string(pubkey))
            if entry is None or not isinstance(entry.data, bytes):
                return None
            return entry.data, int(entry.slot)
        if self._loader is not None:
            loaded = self._loader.buffer_and_slot_map.get(pubkey)
            if loaded is None or loaded.buffer is None:
                return None
            return bytes(loaded.buffer), int(loaded.slot)
        return None

    def reading(self, pubkey: str, source: str) -> OracleReading | None:
        """The oracle as the SDK reads it for a market with `source` (see OracleReader)."""
        return self._reader.reading(pubkey, source)

    def missing(self, pubkeys: Iterable[str]) -> list[str]:
        """The addresses among `pubkeys` the book holds no bytes of."""
        return [p for p in set(pubkeys) if p != _DEFAULT_PUBKEY and self._bytes(p) is None]

    async def ensure(self, pubkeys: Iterable[str]) -> None:
        """Subscribe to oracles a market names that the book lacks (a market's oracle was
        changed on chain); each address is tried at most every 30 s."""
        now = time.monotonic()
        for pubkey in self.missing(pubkeys):
            if now - self._attempted.get(pubkey, -_RETRY_MISSING_S) < _RETRY_MISSING_S:
                continue
            self._attempted[pubkey] = now
            key = Pubkey.from_string(pubkey)
            try:
                if self._ws is not None:
                    await self._ws.add_account(key, _raw)
                elif self._loader is not None:
                    self._loader.add_account(key, lambda _buffer, _slot: None)
            except Exception as exc:  # a later pass tries again
                log.warning("could not subscribe to oracle %s: %r", pubkey, exc)
