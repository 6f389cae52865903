"""One publishing pass: decoded accounts in, `MarketState`s and `SpotState`s out.

Both sources hand their decoded markets (with the slot of each version) and an oracle
lookup to `StatePass.run`. A market's state is computed again only when one of its
inputs changed: `StateMemo` keeps last pass's inputs and result per market, so an
unchanged market at the same second costs a comparison. One account that does not
compute is logged and left out; it never hides the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from streamer.decode import OracleReading, market_state, spot_state, variant
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
        perps: Iterable[tuple[Any, int]],
        spots: Iterable[tuple[Any, int]],
        reading: Reading,
        rails: OracleGuardRails,
        now: int,
    ) -> tuple[tuple[MarketState, ...], tuple[SpotState, ...]]:
        """States of the (decoded account, slot) pairs given, each sorted by index."""
        memo: dict[tuple[str, int], _Memo] = {}
        markets: list[MarketState] = []
        for account, slot in perps:
            try:
                oracle = reading(str(account.amm.oracle), variant(account.amm.oracle_source))
                inputs = (account, slot, oracle, rails, now)
                key = ("perp", account.market_index)
                markets.append(self._cached(memo, key, inputs, market_state))
            except Exception as exc:  # one broken account must not hide the others
                log.warning("market %s skipped: %r", getattr(account, "market_index", "?"), exc)
        spot_states: list[SpotState] = []
        for account, slot in spots:
            try:
                oracle = reading(str(account.oracle), variant(account.oracle_source))
                key = ("spot", account.market_index)
                spot_states.append(self._cached(memo, key, (account, slot, oracle), spot_state))
            except Exception as exc:
                index = getattr(account, "market_index", "?")
                log.warning("spot market %s skipped: %r", index, exc)
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
