"""Oracle account bytes read for one market's source, the way the SDK reads them.

One oracle account can serve several markets at different scales (1MBONK-PERP beside
BONK spot), so a reading is keyed by (address, source); each pair's last decode is
kept and reused while the account's bytes are the same object. A decode failure is
logged once per pair, and the market is then published without a price.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from streamer.decode import OracleReading
from streamer.oracles import OracleDecodeError, decode_oracle

__all__ = ["OracleReader"]

log = logging.getLogger("drift_stream.oracles")
Lookup = Callable[[str], tuple[bytes, int] | None]


class OracleReader:
    """Readings of oracle bytes that `lookup(address)` returns as (bytes, slot)."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._decoded: dict[tuple[str, str], tuple[bytes, int, OracleReading | None]] = {}
        self._warned: set[tuple[str, str]] = set()

    def reading(self, pubkey: str, source: str) -> OracleReading | None:
        """The oracle as the SDK reads it for a market with `source`; None while the
        account is unknown or does not decode (logged once per address and source)."""
        if source == "QuoteAsset":  # no account: the quote asset is 1 by definition
            return OracleReading(decode_oracle(source, b""), 0)
        raw = self._lookup(pubkey)
        if raw is None:
            return None
        data, slot = raw
        key = (pubkey, source)
        last = self._decoded.get(key)
        if last is not None and last[0] is data and last[1] == slot:
            return last[2]
        try:
            reading: OracleReading | None = OracleReading(decode_oracle(source, data), slot)
        except OracleDecodeError as exc:
            if key not in self._warned:
                self._warned.add(key)
                log.warning("oracle %s (%s) does not decode: %s", pubkey, source, exc)
            reading = None
        self._decoded[key] = (data, slot, reading)
        return reading
