"""Which accounts to follow: State, the markets it counts, and the oracles they name.

No getProgramAccounts (many providers refuse it, and it is their most expensive call):
State holds `number_of_markets` and `number_of_spot_markets`, and each market's address
is a PDA of its index, so one getAccountInfo and one getMultipleAccounts per 100
markets list them all, on any provider. A market missing on chain (a snapshot holding
2 of 71 perp markets) is skipped and counted. `wanted` (DRIFT_MARKETS) keeps a subset,
matched case-insensitively against perp and spot names; a name matching none is
reported with the valid ones.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from driftpy.addresses import (
    get_perp_market_public_key,
    get_spot_market_public_key,
    get_state_public_key,
)
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.decode.utils import decode_name
from solders.pubkey import Pubkey

from streamer.account_decode import PerpAccount, SpotAccount
from streamer.decoders import DECODERS, Decoders
from streamer.errors import SourceError
from streamer.feed.rpc import RawAccount, RpcClient
from streamer.feed.store import AccountStore
from streamer.idl import decode_account

__all__ = ["Catalog", "discover", "market_name", "oracle_keys", "parse_markets"]

log = logging.getLogger("drift_stream.feed")
_NO_ORACLE = str(Pubkey.default())


def market_name(account: Any) -> str:
    """A market's name as the streamer publishes it (Drift stores 32 padded bytes), of
    a decoded account: ours or driftpy's."""
    return str(decode_name(account.name)).strip()


def parse_markets(text: str | None) -> frozenset[str] | None:
    """`SOL-PERP, btc-perp,USDC` -> the names, upper case; None (all) for empty."""
    if text is None:
        return None
    names = frozenset(n.strip().upper() for n in text.split(",") if n.strip())
    return names or None


@dataclass(frozen=True)
class Catalog:
    """The accounts the feed follows."""

    state: str
    perps: dict[int, str]  # market index -> address, the streamed ones
    spots: dict[int, str]
    oracles: tuple[str, ...]
    skipped: tuple[str, ...] = ()  # markets State counts that are missing on chain
    unknown: tuple[str, ...] = ()  # wanted names that match no market
    valid: tuple[str, ...] = field(default=(), repr=False)  # every market name on chain
    fresh: tuple[str, ...] = field(default=(), repr=False)  # read after being subscribed
    counts: tuple[int, int] = (0, 0)  # State's perp and spot market counts when read

    def counted_by(self, state: Any) -> bool:
        """Whether a decoded State counts the markets this catalog was made from."""
        return (state.number_of_markets, state.number_of_spot_markets) == self.counts

    @property
    def keys(self) -> list[str]:
        return [self.state, *self.perps.values(), *self.spots.values(), *self.oracles]

    def problem(self) -> str | None:
        """The configuration error to report, if any."""
        if not self.unknown:
            return None
        return f"unknown markets {', '.join(self.unknown)}; valid: {', '.join(self.valid)}"


def oracle_keys(markets: Iterable[PerpAccount | SpotAccount]) -> list[str]:
    """The oracle accounts these decoded perp/spot markets read (QuoteAsset has none)."""
    keys = [m.oracle for m in markets if m.oracle_source != "QuoteAsset" and m.oracle != _NO_ORACLE]
    return list(dict.fromkeys(keys))


async def discover(
    rpc: RpcClient,
    store: AccountStore,
    wanted: Collection[str] | None = None,
    program_id: Pubkey = DRIFT_PROGRAM_ID,
    seen: dict[str, tuple[RawAccount, int]] | None = None,
    before_read: Callable[[list[str]], Awaitable[None]] | None = None,
    decoders: Decoders = DECODERS["own"],
) -> Catalog:
    """Read State and every market it counts into `store`; the catalog to follow.

    `seen`, when given, receives every account read as the RPC returned it. With every
    market wanted, `before_read(keys)` (subscribing them) is awaited before State and
    the markets are read, and the catalog's `fresh` names them: no update can fall
    between that read and the subscription, so they need no second read. Markets are
    decoded with `decoders`; one that does not decode is skipped."""
    seen = {} if seen is None else seen
    state_key = str(get_state_public_key(program_id))
    raw, slot = await rpc.get_account(state_key)
    if raw is None:
        raise SourceError(f"no Drift State account at {state_key}", kind="rpc")
    state = decode_account("State", raw.data)
    store.put(state_key, slot, raw.data)
    seen[state_key] = (raw, slot)
    perp_keys = {
        i: str(get_perp_market_public_key(program_id, i)) for i in range(state.number_of_markets)
    }
    spot_keys = {
        i: str(get_spot_market_public_key(program_id, i))
        for i in range(state.number_of_spot_markets)
    }
    market_keys = [*perp_keys.values(), *spot_keys.values()]
    fresh: tuple[str, ...] = ()
    if before_read is not None and wanted is None:
        fresh = (state_key, *market_keys)
        await before_read(list(fresh))
    read = await rpc.get_multiple(
        [state_key, *market_keys] if fresh else market_keys, min_context_slot=slot
    )
    if fresh and read[state_key][0] is not None:
        state_raw, state_slot = read[state_key]
        assert state_raw is not None
        store.put(state_key, state_slot, state_raw.data)
        seen[state_key] = (state_raw, state_slot)
    perps: dict[int, tuple[str, PerpAccount | SpotAccount]] = {}
    spots: dict[int, tuple[str, PerpAccount | SpotAccount]] = {}
    skipped: list[str] = []
    decode: dict[str, Callable[[bytes], PerpAccount | SpotAccount]] = {
        "PerpMarket": decoders.perp,
        "SpotMarket": decoders.spot,
    }
    for kind, keys, found in (("PerpMarket", perp_keys, perps), ("SpotMarket", spot_keys, spots)):
        for index, key in keys.items():
            account, at = read[key]
            if account is None:
                skipped.append(f"{'perp' if kind == 'PerpMarket' else 'spot'} {index}")
                continue
            try:
                decoded = decode[kind](account.data)
            except SourceError as exc:
                log.warning("%s %d at %s skipped: %s", kind, index, key, exc)
                skipped.append(f"{'perp' if kind == 'PerpMarket' else 'spot'} {index}")
                continue
            store.put(key, at, account.data)
            seen[key] = (account, at)
            found[index] = (key, decoded)
    if skipped:
        log.warning(
            "%d markets State counts are missing on chain: %s",
            len(skipped),
            ", ".join(skipped[:20]),
            extra={"skipped": len(skipped)},
        )
    names = [market_name(m) for _, m in (*perps.values(), *spots.values())]
    unknown: tuple[str, ...] = ()
    if wanted is not None:
        upper = {n.upper() for n in names}
        unknown = tuple(sorted(n for n in wanted if n.upper() not in upper))
        perps = {i: v for i, v in perps.items() if market_name(v[1]).upper() in wanted}
        spots = {i: v for i, v in spots.items() if market_name(v[1]).upper() in wanted}
    catalog = Catalog(
        state=state_key,
        perps={i: key for i, (key, _) in sorted(perps.items())},
        spots={i: key for i, (key, _) in sorted(spots.items())},
        oracles=tuple(oracle_keys(m for _, m in (*perps.values(), *spots.values()))),
        skipped=tuple(skipped),
        unknown=unknown,
        valid=tuple(names),
        fresh=fresh,
        counts=(state.number_of_markets, state.number_of_spot_markets),
    )
    if catalog.problem():
        log.error("DRIFT_MARKETS: %s", catalog.problem(), extra={"unknown": list(unknown)})
    return catalog
