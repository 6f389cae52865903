"""One publishing pass: decoded accounts in, `MarketState`s and `SpotState`s out.

Both sources hand their decoded markets (`PerpAccount`s and `SpotAccount`s, with the
slot of each version) and an oracle lookup to `StatePass.run`. A market's state is
computed again only when one of its inputs changed: the pass keeps last pass's inputs
and result per market, so an unchanged market at the same second costs a comparison.
One account that does not compute is logged and left out; it never hides the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from streamer.account_decode import PerpAccount, SpotAccount
from streamer.decode import OracleReading, market_state, spot_state
from streamer.math.types import OracleGuardRails
from streamer.state import MarketState, SpotState

__all__ = ["Reading", "StatePass"]

log = logging.getLogger("drift_stream.source")
Reading = Callable[[str, str], OracleReading | None]  # (oracle address, source) -> reading


@dataclass(frozen=True, slots=True)
class _Memo:
    inputs: tuple[Any, ...]
    state: Any


class StatePass:
    """Computes a pass's states, reusing last pass's where the inputs are the same."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, int], _Memo] = {}

    def clear(self) -> None:
        self._memo.clear()

    def run(
        self,
        perps: Iterable[tuple[PerpAccount, int]],
        spots: Iterable[tuple[SpotAccount, int]],
        reading: Reading,
        rails: OracleGuardRails,
        now: int,
    ) -> tuple[tuple[MarketState, ...], tuple[SpotState, ...]]:
        """States of the (decoded account, slot) pairs given, each sorted by index."""
        memo: dict[tuple[str, int], _Memo] = {}
        markets: list[MarketState] = []
        for account, slot in perps:
            try:
                oracle = reading(account.oracle, account.oracle_source)
                inputs = (account, slot, oracle, rails, now)
                key = ("perp", account.market_index)
                markets.append(self._cached(memo, key, inputs, market_state))
            except Exception as exc:  # one broken account must not hide the others
                log.warning("market %s skipped: %r", account.market_index, exc)
        spot_states: list[SpotState] = []
        for spot, slot in spots:
            try:
                oracle = reading(spot.oracle, spot.oracle_source)
                key = ("spot", spot.market_index)
                spot_states.append(self._cached(memo, key, (spot, slot, oracle), spot_state))
            except Exception as exc:
                log.warning("spot market %s skipped: %r", spot.market_index, exc)
        # Only this pass's entries are kept: the memo never outgrows the market count.
        self._memo = memo
        markets.sort(key=lambda m: m.market_index)
        spot_states.sort(key=lambda m: m.market_index)
        return tuple(markets), tuple(spot_states)

    def _cached(
        self,
        memo: dict[tuple[str, int], _Memo],
        key: tuple[str, int],
        inputs: tuple[Any, ...],
        compute: Callable[..., Any],
    ) -> Any:
        """`compute(*inputs)`, or last pass's result when every input is the same object
        (or equal). The memo holds the inputs, so an identity is never reused for
        another object."""
        last = self._memo.get(key)
        if last is not None and all(
            a is b or a == b for a, b in zip(last.inputs, inputs, strict=True)
        ):
            memo[key] = last
            return last.state
        state = compute(*inputs)
        memo[key] = _Memo(inputs, state)
        return state
